"""Rate limits count once for a resident across server processes (Redis)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import DaphneServer, RedisServer, Site

from .conftest import Connect, Deployments, World

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.redis,
    pytest.mark.timeout(120, func_only=True),
]

WORLD = {"nord": ["alice", "bob"]}
BURST = 6


@pytest.fixture(scope="module")
def limited_pair(
    sqlite_site: Site, redis_server: RedisServer
) -> Iterator[tuple[DaphneServer, DaphneServer]]:
    """Two processes of one site sharing Redis, with a small send budget
    that refills very slowly (one token in 100 s)."""
    env = {"REDIS_URL": redis_server.url, "CHAT_SEND_RATE": f"0.01/{BURST}"}
    first = sqlite_site.server("daphne-limit-a-", **env)
    try:
        second = sqlite_site.server("daphne-limit-b-", **env)
    except Exception:
        first.stop()
        raise
    yield first, second
    first.stop()
    second.stop()


@pytest.fixture(scope="module")
def world(
    request: pytest.FixtureRequest,
    deployments: Deployments,
    limited_pair: tuple[DaphneServer, DaphneServer],
) -> World:
    return deployments.world("sqlite", request.module, limited_pair[0])


async def test_two_processes_share_one_send_budget(
    world: World, limited_pair: tuple[DaphneServer, DaphneServer], connect: Connect
) -> None:
    """alice alternates between processes A and B: after the burst, both
    refuse her with rate_limited (one budget, not one per process)."""
    a, b = limited_pair
    tabs = [
        await connect(world, "alice", "nord", server=a, label="alice@A"),
        await connect(world, "alice", "nord", server=b, label="alice@B"),
    ]
    answers = []
    for n in range(2 * BURST):
        tab = tabs[n % 2]
        answer = await tab.send_message(
            client_id=f"lim-{n}", body=f"{n}", to=[world.user("bob")], timeout=20
        )
        while answer["type"] == "message.new":  # the other tab's copy
            answer = await tab.recv_json(20)
        answers.append(answer)
    kinds = [a.get("code", a["type"]) for a in answers]
    assert kinds[:BURST] == ["message.ack"] * BURST, kinds
    assert kinds[BURST:] == ["rate_limited"] * BURST, kinds
