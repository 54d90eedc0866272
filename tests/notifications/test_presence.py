"""Presence across server processes: two daphne processes sharing one real
redis-server, one worker, one SMTP server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service
from tests.support.servers import RedisServer, redis_available

from .conftest import EMAIL_DELAY_SECONDS, JOB_WITHIN, Deployment
from .doubles import SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.redis]

OFFLINE_WITHIN = 90  # the contract: a crashed process's sockets stop counting


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    require_service(redis_available(), "redis-server is not installed")
    server = RedisServer(Path(tmp_path_factory.mktemp("redis")))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def two_processes(
    new_deployment: Any, smtp: SmtpServer, redis: RedisServer
) -> Deployment:
    """A site with two daphne processes (the second in `servers[1]`)."""
    deployment: Deployment = new_deployment(smtp.url, redis.url)
    deployment.start_server()
    deployment.start_worker()
    return deployment


@pytest.mark.timeout(180)
async def test_recipient_online_on_another_process_gets_no_email(
    two_processes: Deployment, smtp: SmtpServer, connect: Any
) -> None:
    """A message sent through one process to a resident whose socket is on
    the other: delivered live, no email (an offline co-recipient gets one)."""
    first, second = two_processes.servers
    world = two_processes.world({"q": ["alice", "bob", "carol"]})
    bob = await connect(world, "bob", "q", server=second)
    world.send("alice", ["bob", "carol"], "Apéro à 19 h", "q", server=first)
    await bob.next_of("message.new")
    smtp.wait_for(world.email("carol"), timeout=EMAIL_DELAY_SECONDS + JOB_WITHIN)
    two_processes.wait_jobs_done("send_email_batch")
    assert smtp.mails(world.email("bob")) == []


@pytest.mark.timeout(OFFLINE_WITHIN + EMAIL_DELAY_SECONDS + 2 * JOB_WITHIN)
async def test_sockets_of_a_killed_process_stop_counting_within_90s(
    two_processes: Deployment, smtp: SmtpServer, connect: Any
) -> None:
    """SIGKILL the process holding the recipient's only socket: the resident
    counts as offline again within 90 s, so a message then gets emailed."""
    first, second = two_processes.servers
    world = two_processes.world({"q": ["alice", "bob"]})
    await connect(world, "bob", "q", server=second)
    world.send("alice", ["bob"], "avant", "q", server=first)
    second.kill()
    killed = time.monotonic()
    sent: dict[str, float] = {}
    deadline = killed + OFFLINE_WITHIN + EMAIL_DELAY_SECONDS + JOB_WITHIN
    while not smtp.mails(world.email("bob")):
        assert time.monotonic() < deadline, "bob never counted as offline"
        body = f"message #{len(sent) + 1:03d}"
        world.send("alice", ["bob"], body, "q", server=first)
        sent[body] = time.monotonic() - killed
        time.sleep(3)
    (mail,) = smtp.mails(world.email("bob"))
    text = mail.part("text/plain")
    notified = [at for body, at in sent.items() if body in text]
    assert notified, text
    assert min(notified) <= OFFLINE_WITHIN
    assert "avant" not in text  # bob was online then
