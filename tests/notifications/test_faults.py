"""Worker crashes, SMTP outages and hostile push endpoints delay emails;
they neither lose nor duplicate them, and a hostile endpoint delays nobody
else's. Each test has its own site, SMTP server and workers. "Exactly one"
is checked once every email job has finished (a dead worker's job included,
once queued again and run), never after a sleep."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.reliability.figures import record
from tests.support.servers import wait_until

from .conftest import EMAIL_DELAY_SECONDS, JOB_WITHIN, STALE_SECONDS, Deployment, World
from .doubles import PushService, SilentServer, SmtpServer, TrickleServer, browser_keys

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def assert_exactly_one(smtp: SmtpServer, world: World, resident: str) -> None:
    """`resident` gets one email, and no second one once every email job
    has finished."""
    smtp.wait_for(world.email(resident), timeout=STALE_SECONDS + JOB_WITHIN)
    world.deployment.wait_jobs_done("send_email_batch")
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
    time.sleep(EMAIL_DELAY_SECONDS + 1)  # the batch falls due with no worker
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
        timeout=EMAIL_DELAY_SECONDS + JOB_WITHIN,
        what="an email to each recipient",
    )
    deployment.wait_jobs_done("send_email_batch")
    for recipient in recipients:
        assert len(smtp_server.mails(world.email(recipient))) == 1, recipient
    assert smtp_server.data_started == len(recipients)


def test_sigterm_lets_the_running_email_finish_then_exits(
    new_deployment: Any, smtp_server: SmtpServer
) -> None:
    """SIGTERM while a thread waits for SMTP's answer to DATA: the email is
    accepted, once, then the process exits with status 0."""
    smtp_server.delay_data(3)
    deployment: Deployment = new_deployment(smtp_server.url)
    worker = deployment.start_worker(EMAIL_TIMEOUT="30")
    world = deployment.world({"q": ["alice", "bob"]})
    world.send("alice", ["bob"], "Fermeture du portail", "q")
    wait_until(
        lambda: smtp_server.data_started >= 1,
        timeout=EMAIL_DELAY_SECONDS + JOB_WITHIN,
        what="the worker to start sending",
    )
    assert worker.process is not None
    worker.process.terminate()
    assert worker.process.wait(timeout=JOB_WITHIN) == 0, worker.log()
    assert len(smtp_server.mails(world.email("bob"))) == 1
    assert "finishing the current jobs" in worker.log()


TRICKLE_EVERY = 2.0  # seconds between two bytes of the hostile answer
HOSTILE_TIMEOUT = 10  # PUSH_TIMEOUT_SECONDS of this deployment


@pytest.mark.timeout(300)  # before the fix, the whole trickle (50 s) held all
def test_a_trickling_push_endpoint_holds_up_no_other_notification(
    new_deployment: Any, smtp_server: SmtpServer, push_service: PushService
) -> None:
    """A push endpoint that answers one byte every 2 s (mallory's browser)
    is being pushed to when an email batch and a push to a healthy endpoint
    fall due: both go out as if it were not there, and the hostile request
    is cut at PUSH_TIMEOUT_SECONDS (10 s), whole exchange."""
    hostile = TrickleServer(every=TRICKLE_EVERY).start()
    deployment: Deployment = new_deployment(
        smtp_server.url, PUSH_TIMEOUT_SECONDS=str(HOSTILE_TIMEOUT)
    )
    deployment.start_worker()
    try:
        world = deployment.world({"q": ["alice", "mallory", "bob", "carol"]})
        _, _, keys = browser_keys()
        hostile_endpoint = f"http://127.0.0.1:{hostile.port}/push/mallory"
        answer = world.http("mallory").post(
            "/api/push/subscriptions/", {"endpoint": hostile_endpoint, "keys": keys}
        )
        assert answer.status_code == 201, answer.text
        browser = world.subscribe("bob")
        world.send("alice", ["mallory"], "Pour Mallory", "q")
        wait_until(
            lambda: hostile.connections != [],
            timeout=JOB_WITHIN,
            what="the push to the hostile endpoint to begin",
        )
        world.send("alice", ["bob", "carol"], "Pour Bob et Carol", "q")
        sent = time.monotonic()
        # Bounds long enough to measure the code before the fix too.
        (push,) = push_service.wait_for(browser, timeout=2 * JOB_WITHIN)
        (mail,) = smtp_server.wait_for(world.email("carol"), timeout=2 * JOB_WITHIN)
        wait_until(
            lambda: hostile.held() != [],
            timeout=2 * JOB_WITHIN,
            what="the hostile request to end",
        )
    finally:
        hostile.stop()
    push_delay = push.received_at - sent
    email_lateness = mail.received_at - sent - EMAIL_DELAY_SECONDS
    held = hostile.held()[0]
    record(
        "worker_hostile_push",
        trickle_every_s=TRICKLE_EVERY,
        push_timeout_s=HOSTILE_TIMEOUT,
        hostile_held_s=round(held, 1),
        healthy_push_delay_s=round(push_delay, 2),
        email_late_by_s=round(email_lateness, 2),
    )
    assert push_delay < HOSTILE_TIMEOUT / 2, push_delay
    assert email_lateness < HOSTILE_TIMEOUT / 2, email_lateness
    assert held < HOSTILE_TIMEOUT + 2 * TRICKLE_EVERY, held
