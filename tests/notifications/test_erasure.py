"""Erasure and notifications, end to end: a real notify_worker and a real
SMTP server after a resident erased their account."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.servers import PASSWORD

from .conftest import JOB_WITHIN, Deployment
from .doubles import SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# Longer than the erasure takes on a loaded machine: its emails are still
# pending when it happens.
DELAY_SECONDS = 15


def test_no_email_to_or_about_an_erased_resident(
    new_deployment: Any, smtp: SmtpServer
) -> None:
    """zoe and bob are owed emails when zoe erases her account: zoe gets
    none, and bob's email lists carol's message but not zoe's."""
    deployment: Deployment = new_deployment(
        smtp.url, NOTIFY_EMAIL_DELAY_SECONDS=str(DELAY_SECONDS)
    )
    world = deployment.world({"q": ["zoe", "bob", "carol"]})
    zoe_client = world.http("zoe")
    world.send("bob", ["zoe"], "Pour Zoé, de Bob", "q")
    world.send("zoe", ["bob"], "Le secret de Zoé zq81f3", "q")
    world.send("carol", ["bob"], "Bonjour de Carole", "q")

    answer = zoe_client.post("/api/me/erase/", {"password": PASSWORD})
    assert answer.status_code == 202, answer.text
    deployment.start_worker()

    (mail,) = smtp.wait_for(world.email("bob"), timeout=DELAY_SECONDS + JOB_WITHIN)
    deployment.wait_jobs_done("send_email_batch")
    text = mail.part("text/plain")
    assert "Bonjour de Carole" in text
    assert "zq81f3" not in text
    assert smtp.mails(world.email("zoe")) == []
    assert len(smtp.mails(world.email("bob"))) == 1
