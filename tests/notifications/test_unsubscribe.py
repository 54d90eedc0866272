"""RFC 8058 one-click unsubscribe, through the URL of a real email."""

from __future__ import annotations

import pytest
import requests

from .conftest import EMAIL_DELAY_SECONDS, SITE_URL, Deployment, World
from .doubles import SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def unsubscribe_url(deployment: Deployment, smtp: SmtpServer, world: World) -> str:
    """The List-Unsubscribe URL of bob's email, on the local server."""
    world.send("alice", ["bob"], "Bonjour", "q")
    (mail,) = smtp.wait_for(world.email("bob"), timeout=EMAIL_DELAY_SECONDS + 30)
    url = str(mail.message["List-Unsubscribe"]).strip().strip("<>")
    assert url.startswith(SITE_URL)
    return deployment.server.base_url + url.removeprefix(SITE_URL)


def bare_http() -> requests.Session:
    """A client with no cookie and no proxy."""
    session = requests.Session()
    session.trust_env = False
    return session


def one_click(url: str) -> requests.Response:
    """What a mail client sends: no cookie, no CSRF token."""
    return bare_http().post(
        url,
        data={"List-Unsubscribe": "One-Click"},
        allow_redirects=False,
        timeout=10,
    )


def test_one_click_post_turns_email_off(
    deployment: Deployment, smtp: SmtpServer
) -> None:
    """POST to the List-Unsubscribe URL with no cookie and no CSRF token
    answers 200 (no redirect) and sets email false: later messages send none."""
    world = deployment.world({"q": ["alice", "bob", "carol"], "r": ["bob"]})
    url = unsubscribe_url(deployment, smtp, world)
    answer = one_click(url)
    assert answer.status_code == 200, answer.text
    assert "Location" not in answer.headers
    preferences = world.preferences("bob")
    assert preferences["email"] is False
    world.send("alice", ["bob", "carol"], "Encore moi", "q")
    smtp.wait_for(world.email("carol"), timeout=EMAIL_DELAY_SECONDS + 30)
    deployment.wait_jobs_done("send_email_batch")
    assert len(smtp.mails(world.email("bob"))) == 1


def test_forged_or_altered_token_is_refused(
    deployment: Deployment, smtp: SmtpServer
) -> None:
    """An altered token, or one signed with another key, is refused and
    changes nothing."""
    world = deployment.world({"q": ["alice", "bob"]})
    url = unsubscribe_url(deployment, smtp, world)
    base, token = url.rstrip("/").rsplit("/", 1)
    altered = token[:-1] + ("A" if token[-1] != "A" else "B")
    user_part = token.split(":", 1)[0]
    forged = f"{user_part}:1xWTAX:{'x' * 43}"
    for bad in (altered, forged, "MQ", token + "x"):
        answer = one_click(f"{base}/{bad}/")
        assert answer.status_code in (400, 403, 404), (bad, answer.status_code)
    assert world.preferences("bob")["email"] is True


def test_get_does_not_unsubscribe(deployment: Deployment, smtp: SmtpServer) -> None:
    """GET on the URL (a link scanner, a preview) leaves email on."""
    world = deployment.world({"q": ["alice", "bob"]})
    url = unsubscribe_url(deployment, smtp, world)
    answer = bare_http().get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 200
    assert world.preferences("bob")["email"] is True
