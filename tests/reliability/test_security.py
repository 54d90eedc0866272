"""Nobody let in, over the wire: cross-site WebSocket hijacking and
revocation across server processes.

In-process handshake checks (anonymous, non-member, suspended, foreign
origin) are in tests/integration/test_consumer.py; here a real browser's
cookie is replayed from hostile Origins against daphne, and a logout or a
suspension on one process must silence the resident's sockets on another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.client import (
    ChatSocket,
    HttpClient,
    handshake_status,
    login,
    open_socket,
)
from tests.support.protocol import tab_headers
from tests.support.servers import DaphneServer, RedisServer, Site

from .conftest import Hood, make_hood
from .figures import ms, record

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HOSTILE_ORIGINS = [
    "http://evil.example",
    "null",
    "http://evil.127.0.0.1.nip.io",
    "http://127.0.0.1.evil.example",
    "http://sub.localhost",
    "http://localhost.evil.example",
    "https://127.0.0.1@evil.example",
    "file://",
    None,  # no Origin header at all
]


@pytest.fixture(scope="module")
def hood(sqlite_site: Site, sqlite_server: DaphneServer) -> Hood:
    return make_hood(sqlite_site, ["kim", "lou", "max"], "sec")


async def test_hostile_origins_are_refused_with_a_valid_cookie(
    hood: Hood, sqlite_server: DaphneServer
) -> None:
    """A page on another site replaying the resident's cookie: every forged,
    `null`, look-alike, sibling-subdomain or missing Origin gets 403; the
    site's own Origin gets 101."""
    cookies = hood.cookies("kim", sqlite_server)
    url = sqlite_server.ws_url(hood.slug)
    statuses = {}
    for origin in HOSTILE_ORIGINS:
        statuses[str(origin)] = await handshake_status(
            url, tab_headers(cookies, origin)
        )
    own = await handshake_status(url, tab_headers(cookies, sqlite_server.origin))
    record(
        "cross_site_websocket",
        origins_tried=len(HOSTILE_ORIGINS),
        refused_403=sum(1 for s in statuses.values() if s == 403),
        own_origin_status=own,
    )
    assert statuses == {str(o): 403 for o in HOSTILE_ORIGINS}
    assert own == 101


@pytest.fixture
def two_servers(
    sqlite_site: Site, redis_server: RedisServer, rel_root: Path
) -> Iterator[list[DaphneServer]]:
    site = Site(
        root=rel_root / f"sec-{redis_server.port}",
        database_url=sqlite_site.database_url,
        backend="sqlite",
        redis_url=redis_server.url,
    )
    servers = [site.server("daphne-sec-a-"), site.server("daphne-sec-b-")]
    yield servers
    for server in servers:
        server.stop()


async def silenced(
    sockets: list[ChatSocket], timeout: float = 5.0
) -> tuple[float, list[int]]:
    """Wait until every socket is closed; return the time it took and codes."""
    started = time.monotonic()
    codes = [await s.wait_closed(timeout) for s in sockets]
    return time.monotonic() - started, codes


def news_after(socket: ChatSocket, after_id: int) -> list[int]:
    return [
        f["message"]["id"]
        for f in socket.frames
        if f["type"] in ("message.new", "typing", "receipt")
        and f.get("message", {"id": after_id + 1})["id"] > after_id
    ]


async def test_logout_and_suspension_silence_sockets_on_every_process(
    sqlite_site: Site, two_servers: list[DaphneServer]
) -> None:
    """A logout on process A closes that session's sockets on A and B with
    4403 within 5 s; a suspension by the operator command (its own process)
    closes the resident's sockets too; neither receives a frame about
    messages sent after, and the old cookie opens nothing."""
    a, b = two_servers
    hood = make_hood(sqlite_site, ["nat", "oli", "pia"], "rev")
    nat_cookies = login(a.base_url, hood.user("nat"))
    oli_cookies = login(a.base_url, hood.user("oli"))
    pia = await open_socket(
        b.ws_url(hood.slug), hood.cookies("pia", b), origin=b.origin, label="pia"
    )
    nat_sockets = [
        await open_socket(s.ws_url(hood.slug), nat_cookies, origin=s.origin)
        for s in (a, b)
    ]
    oli_sockets = [
        await open_socket(s.ws_url(hood.slug), oli_cookies, origin=s.origin)
        for s in (a, b)
    ]
    everyone = [hood.user("nat"), hood.user("oli")]
    try:
        first = await pia.send_message(client_id="r0", body="avant", to=everyone)
        conversation = first["message"]["conversation"]
        for socket in [*nat_sockets, *oli_sockets]:
            await socket.next_of("message.new")

        logged_out = HttpClient(a.base_url, nat_cookies).logout()
        assert logged_out.status_code in (200, 302)
        logout_seconds, logout_codes = await silenced(nat_sockets)
        after_logout = await pia.send_message(
            client_id="r1", body="après logout", conversation=conversation
        )

        await asyncio.to_thread(sqlite_site.suspend, hood.slug, hood.user("oli"))
        suspended_at = time.monotonic()
        _, suspend_codes = await silenced(oli_sockets, 6.0)
        suspend_seconds = time.monotonic() - suspended_at
        after_suspend = await pia.send_message(
            client_id="r2", body="après suspension", conversation=conversation
        )
        await pia.typing(conversation)
        await asyncio.sleep(0.5)

        leaked = news_after(nat_sockets[0], first["message"]["id"]) + news_after(
            nat_sockets[1], first["message"]["id"]
        )
        leaked += [
            mid
            for s in oli_sockets
            for mid in news_after(s, after_logout["message"]["id"])
        ]
        replayed = await handshake_status(
            a.ws_url(hood.slug),
            tab_headers(nat_cookies, a.origin),
        )
        api = HttpClient(b.base_url, nat_cookies).get(
            f"/api/conversations/{conversation}/messages/"
        )
        suspended_api = HttpClient(b.base_url, oli_cookies).get(
            f"/api/conversations/{conversation}/messages/"
        )
    finally:
        for socket in [pia, *nat_sockets, *oli_sockets]:
            await socket.close()
        await asyncio.to_thread(sqlite_site.reactivate, hood.slug, hood.user("oli"))
    record(
        "revocation",
        logout_close_ms=ms(logout_seconds),
        suspension_close_ms=ms(suspend_seconds),
        close_codes=sorted(set(logout_codes + suspend_codes)),
        frames_after_revocation=len(leaked),
        replayed_cookie_handshake=replayed,
        replayed_cookie_api=api.status_code,
        suspended_api=suspended_api.status_code,
    )
    assert logout_codes == [4403, 4403]
    assert suspend_codes == [4403, 4403]
    assert logout_seconds < 5
    assert suspend_seconds < 5
    assert leaked == []
    assert after_suspend["type"] == "message.ack"
    assert replayed == 403
    assert api.status_code in (401, 403)
    assert suspended_api.status_code == 404
