"""One client_id, fifty concurrent sends: exactly one message, every time.

Sequential resends are in tests/e2e/test_idempotency.py; here the sends race
each other over five sockets on two server processes and over HTTP, on
SQLite and on a private PostgreSQL cluster.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import ChatSocket, HttpClient, open_socket
from tests.support.servers import DaphneServer, RedisServer, Site

from .conftest import make_hood, postgres_site
from .figures import record
from .pgcluster import PrivatePostgres

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

ROUNDS = 5
SOCKETS = 5
PER_SOCKET = 8
HTTP_SENDS = 10  # 5 x 8 + 10 = 50 concurrent sends per round


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_site(
    request: pytest.FixtureRequest, sqlite_site: Site, rel_root: Path
) -> Site:
    if request.param == "sqlite":
        return sqlite_site
    cluster: PrivatePostgres = request.getfixturevalue("private_postgres")
    return postgres_site(cluster, rel_root / "pg-idem", "voisins_idem")


@pytest.fixture
def servers(
    backend_site: Site, redis_server: RedisServer, rel_root: Path
) -> Iterator[list[DaphneServer]]:
    """Two server processes of the site, sharing a private Redis."""
    site = Site(
        root=rel_root / f"idem-{backend_site.backend}-{redis_server.port}",
        database_url=backend_site.database_url,
        backend=backend_site.backend,
        redis_url=redis_server.url,
    )
    started = [site.server("daphne-idem-a-"), site.server("daphne-idem-b-")]
    yield started
    for server in started:
        server.stop()


async def acks_for(
    socket: ChatSocket, client_id: str, count: int
) -> list[dict[str, Any]]:
    """The `count` answers (ack or error) to this client_id, passing over the
    message.new that the sender's other tabs receive."""
    answers = []
    while len(answers) < count:
        frame = await socket.recv_json(20)
        if frame.get("client_id") == client_id:
            answers.append(frame)
    return answers


async def test_fifty_concurrent_sends_of_one_client_id(
    backend_site: Site, servers: list[DaphneServer]
) -> None:
    """Five rounds of 50 racing sends (40 over five sockets on two processes,
    10 over HTTP) of one client_id: all answers name the same message, one
    message is stored, the recipient gets it once."""
    hood = make_hood(backend_site, ["ivy", "jon"], "idem")
    to = [hood.user("jon")]
    sockets = [
        await open_socket(
            servers[i % 2].ws_url(hood.slug),
            hood.cookies("ivy", servers[i % 2]),
            origin=servers[i % 2].origin,
        )
        for i in range(SOCKETS)
    ]
    jon = await open_socket(
        servers[1].ws_url(hood.slug),
        hood.cookies("jon", servers[1]),
        origin=servers[1].origin,
    )
    http = [
        HttpClient(servers[i % 2].base_url, hood.cookies("ivy", servers[i % 2]))
        for i in range(2)
    ]
    figures: Counter[str] = Counter()
    started = time.monotonic()
    try:
        for round_ in range(ROUNDS):
            client_id = f"race-{round_}"
            frame = {
                "type": "message.send",
                "client_id": client_id,
                "body": f"once {round_}",
                "to": to,
            }

            async def burst(
                socket: ChatSocket, frame: dict[str, Any] = frame
            ) -> list[dict[str, Any]]:
                await asyncio.gather(
                    *(socket.send_json(frame) for _ in range(PER_SOCKET))
                )
                return await acks_for(socket, frame["client_id"], PER_SOCKET)

            def post(i: int, frame: dict[str, Any] = frame) -> tuple[int, Any]:
                answer = http[i % 2].post(
                    f"/api/communities/{hood.slug}/messages/",
                    {k: v for k, v in frame.items() if k != "type"},
                )
                return answer.status_code, answer.json()

            results = await asyncio.gather(
                *(burst(s) for s in sockets),
                *(asyncio.to_thread(post, i) for i in range(HTTP_SENDS)),
            )
            socket_answers = [a for batch in results[:SOCKETS] for a in batch]
            http_answers = results[SOCKETS:]
            assert all(a["type"] == "message.ack" for a in socket_answers), (
                socket_answers
            )
            assert all(status in (200, 201) for status, _ in http_answers), http_answers
            ids = {a["message"]["id"] for a in socket_answers} | {
                body["id"] for _, body in http_answers
            }
            assert len(ids) == 1, ids
            created_over_http = sum(1 for status, _ in http_answers if status == 201)
            assert created_over_http <= 1
            figures["sends"] += len(socket_answers) + len(http_answers)
            figures["distinct_messages"] += len(ids)
        await asyncio.sleep(0.5)
        conversation = HttpClient(servers[0].base_url, hood.cookies("jon", servers[0]))
        listed = conversation.conversations(hood.slug)
        history = conversation.history(listed[0]["id"])
        stored = Counter(m["client_id"] for m in history)
        delivered = Counter(
            f["message"]["client_id"] for f in jon.frames if f["type"] == "message.new"
        )
        assert stored == {f"race-{r}": 1 for r in range(ROUNDS)}
        assert delivered == {f"race-{r}": 1 for r in range(ROUNDS)}
    finally:
        for socket in [*sockets, jon]:
            await socket.close()
    record(
        f"idempotency_race_{backend_site.backend}",
        rounds=ROUNDS,
        sends_per_round=SOCKETS * PER_SOCKET + HTTP_SENDS,
        sends=figures["sends"],
        messages_stored=sum(stored.values()),
        duplicates=sum(stored.values()) - ROUNDS,
        delivered_to_recipient=sum(delivered.values()),
        seconds=round(time.monotonic() - started, 1),
    )
