"""Worker crashes and SMTP outages delay emails; they neither lose nor
duplicate them. Each test has its own site, SMTP server and workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.servers import wait_until

from .conftest import EMAIL_DELAY_SECONDS, STALE_SECONDS, Deployment, World
from .doubles import SilentServer, SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

# Long enough for a dead worker's task to be queued again and sent twice.
AFTERMATH = STALE_SECONDS + 4


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def assert_exactly_one(smtp: SmtpServer, world: World, resident: str) -> None:
    """`resident` gets one email, and no second one within AFTERMATH."""
    smtp.wait_for(world.email(resident), timeout=60)
    time.sleep(AFTERMATH)
    mails = smtp.mails(world.email(resident))
    assert len(mails) == 1, [m.message["Message-ID"] for m in mails]


def test_worker_killed_mid_send_then_restarted_sends_once(
    new_deployment: Any, smtp_server: SmtpServer
) -> None:
    """SIGKILL while the worker waits for SMTP's answer to DATA (the task is
    RUNNING, the batch SENDING): a new worker sends the email, once."""
    smtp_server.delay_data(60)
    deployment: Deployment = new_deployment(smtp_server.url)
    first = deployment.start_worker(EMAIL_TIMEOUT="30")
    world = deployment.world({"q": ["alice", "bob"]})
    world.send("alice", ["bob"], "Perdu ?", "q")
    wait_until(
        lambda: smtp_server.data_started >= 1,
        timeout=EMAIL_DELAY_SECONDS + 30,
        what="the worker to start sending",
    )
    first.kill()
    smtp_server.delay_data(0)
    assert smtp_server.mails() == []
    deployment.start_worker()
    assert_exactly_one(smtp_server, world, "bob")


def test_worker_killed_before_the_batch_is_due_loses_nothing(
    new_deployment: Any, smtp_server: SmtpServer
) -> None:
    """SIGKILL while the batch waits for its delay: the next worker sends it."""
    deployment: Deployment = new_deployment(smtp_server.url)
    first = deployment.start_worker()
    world = deployment.world({"q": ["alice", "bob"]})
    world.send("alice", ["bob"], "Tu as vu le chat ?", "q")
    first.kill()
    time.sleep(EMAIL_DELAY_SECONDS + 1)
    assert smtp_server.mails() == []
    deployment.start_worker()
    assert_exactly_one(smtp_server, world, "bob")


@pytest.mark.parametrize(
    ("stage", "reply"),
    [
        ("RCPT", "451 4.3.0 Try again later"),
        ("DATA", "421 4.3.2 Service shutting down"),
    ],
)
def test_smtp_refusing_for_a_while_delays_the_email(
    new_deployment: Any, smtp_server: SmtpServer, stage: str, reply: str
) -> None:
    """Temporary refusals (4xx) are retried; when the server accepts again
    the email goes out once."""
    smtp_server.refuse(reply, at=stage)
    deployment: Deployment = new_deployment(smtp_server.url)
    deployment.start_worker()
    world = deployment.world({"q": ["alice", "bob"]})
    world.send("alice", ["bob"], "Coupure d'eau demain", "q")
    wait_until(
        lambda: smtp_server.refused >= 2,
        timeout=EMAIL_DELAY_SECONDS + 30,
        what="two refused attempts (retried with backoff)",
    )
    smtp_server.refuse(None)
    assert_exactly_one(smtp_server, world, "bob")


def test_smtp_that_never_answers_times_out_then_a_working_one_sends(
    new_deployment: Any,
) -> None:
    """An SMTP server that accepts the connection and says nothing does not
    block the worker (EMAIL_TIMEOUT); once a working server is on that
    address, the email goes out once."""
    silent = SilentServer().start()
    deployment: Deployment = new_deployment(f"smtp://127.0.0.1:{silent.port}")
    deployment.start_worker(EMAIL_TIMEOUT="1")
    world = deployment.world({"q": ["alice", "bob"]})
    world.send("alice", ["bob"], "Allô ?", "q")
    try:
        wait_until(
            lambda: silent.closed_by_peer >= 1,
            timeout=EMAIL_DELAY_SECONDS + 20,
            what="the worker to give up on the silent server",
        )
    finally:
        silent.stop()
    working = SmtpServer(port=silent.port).start()
    try:
        assert_exactly_one(working, world, "bob")
    finally:
        working.stop()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_several_workers_never_send_a_batch_twice(
    new_deployment: Any, smtp_server: SmtpServer, backend: str
) -> None:
    """Three workers on one queue, with SMTP slow enough that each send
    outlasts NOTIFY_WORKER_STALE_SECONDS: a live worker's task is never taken
    over, and each batch is sent (even attempted) exactly once."""
    smtp_server.delay_data(STALE_SECONDS + 6)
    deployment: Deployment = new_deployment(smtp_server.url, backend=backend)
    for _ in range(3):
        deployment.start_worker(EMAIL_TIMEOUT="30")
    recipients = ["bob", "carol"]
    world = deployment.world({"q": ["alice", *recipients]})
    for recipient in recipients:
        world.send("alice", [recipient], f"Bonjour {recipient}", "q")
    wait_until(
        lambda: all(smtp_server.mails(world.email(r)) for r in recipients),
        timeout=EMAIL_DELAY_SECONDS + 60,
        what="an email to each recipient",
    )
    time.sleep(AFTERMATH)
    for recipient in recipients:
        assert len(smtp_server.mails(world.email(recipient))) == 1, recipient
    assert smtp_server.data_started == len(recipients)
