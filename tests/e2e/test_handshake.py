"""The handshake refuses (HTTP 403, before any frame) whoever may not connect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.client import handshake_status, login
from tests.support.protocol import tab_headers
from tests.support.servers import DaphneServer, Site

from .conftest import World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60, func_only=True)]


# Residents of the shared communities, for this module only.
WORLD = {"nord": ["alice", "sam"], "sud": ["zoe"]}


def headers(world: World, resident: str | None, origin: str | None) -> dict[str, str]:
    return tab_headers(None if resident is None else world.cookies(resident), origin)


async def test_member_with_session_and_origin_is_accepted(world: World) -> None:
    """The control case: an active member, logged in, from the site's origin."""
    status = await handshake_status(
        world.server.ws_url(world.slug("nord")),
        headers(world, "alice", world.server.origin),
    )
    assert status == 101


@pytest.mark.parametrize(
    ("case", "resident", "origin"),
    [
        ("no session", None, "site"),
        ("foreign origin", "alice", "http://evil.example"),
        ("null origin", "alice", "null"),
        ("missing origin", "alice", None),
        ("subdomain of an allowed host", "alice", "http://evil.localhost"),
        ("allowed host as a prefix", "alice", "http://127.0.0.1.evil.example"),
        ("same host, another port", "alice", "http://127.0.0.1:9999"),
        ("same host and port, https", "alice", "https://site"),
        ("same host, default port", "alice", "http://127.0.0.1"),
        ("another name of the host", "alice", "http://localhost:site"),
    ],
)
async def test_refused_without_session_or_allowed_origin(
    world: World, case: str, resident: str | None, origin: str | None
) -> None:
    """No session, or an Origin that is not exactly the site's (scheme, host
    and port) nor listed in ALLOWED_ORIGINS: 403."""
    server = world.server
    if origin == "site":
        origin = server.origin
    elif origin is not None:
        origin = origin.replace("https://site", f"https://127.0.0.1:{server.port}")
        origin = origin.replace(":site", f":{server.port}")
    status = await handshake_status(
        server.ws_url(world.slug("nord")), headers(world, resident, origin)
    )
    assert status == 403, case


async def test_forged_session_cookie_is_refused(world: World) -> None:
    """A session id the server never issued: 403."""
    status = await handshake_status(
        world.server.ws_url(world.slug("nord")),
        {
            "Cookie": "sessionid=forgedforgedforgedforgedforged12",
            "Origin": world.server.origin,
        },
    )
    assert status == 403


async def test_unknown_community_and_non_member_are_refused(world: World) -> None:
    """An unknown community, or one the resident is not a member of: 403,
    the same answer for both."""
    origin = world.server.origin
    unknown = await handshake_status(
        world.server.ws_url("no-such-community"), headers(world, "alice", origin)
    )
    not_member = await handshake_status(
        world.server.ws_url(world.slug("sud")), headers(world, "alice", origin)
    )
    assert unknown == not_member == 403
    other_path = await handshake_status(
        f"ws://127.0.0.1:{world.server.port}/ws/elsewhere/",
        headers(world, "alice", origin),
    )
    assert other_path == 403


async def test_suspended_member_is_refused(world: World) -> None:
    """A suspended member is refused with the very same 403; reactivated, they
    connect again."""
    url = world.server.ws_url(world.slug("nord"))
    sam = headers(world, "sam", world.server.origin)
    assert await handshake_status(url, sam) == 101
    world.site.suspend(world.slug("nord"), world.user("sam"))
    try:
        assert await handshake_status(url, sam) == 403
    finally:
        world.site.reactivate(world.slug("nord"), world.user("sam"))
    assert await handshake_status(url, sam) == 101


@pytest.fixture(scope="module")
def named_server(site: Site) -> Iterator[DaphneServer]:
    """A server whose public page is also served at https://chat.voisins.test."""
    server = site.server(
        "daphne-named-",
        ALLOWED_HOSTS="127.0.0.1,localhost,chat.voisins.test",
        ALLOWED_ORIGINS="https://chat.voisins.test",
    )
    yield server
    server.stop()


async def test_listed_origin_is_accepted_exactly(
    world: World, named_server: DaphneServer
) -> None:
    """With ALLOWED_ORIGINS=https://chat.voisins.test, that origin is accepted
    besides the site's own; its http form, another port of it, a sibling
    subdomain, its parent and its subdomains are refused."""
    url = named_server.ws_url(world.slug("nord"))
    cookies = login(named_server.base_url, world.user("alice"))

    async def status(origin: str) -> int:
        return await handshake_status(url, tab_headers(cookies, origin))

    assert await status("https://chat.voisins.test") == 101
    assert await status("https://chat.voisins.test:443") == 101
    assert await status(named_server.origin) == 101
    assert await status("http://chat.voisins.test") == 403
    assert await status("https://chat.voisins.test:8443") == 403
    assert await status("https://mail.voisins.test") == 403
    assert await status("https://voisins.test") == 403
    assert await status("https://evil.chat.voisins.test") == 403


def test_wildcard_origins_stop_the_server_at_start(site: Site) -> None:
    """ALLOWED_ORIGINS=* is refused: daphne does not start, and says why."""
    with pytest.raises(RuntimeError, match="'\\*' is refused"):
        site.server("daphne-wildcard-", ALLOWED_ORIGINS="*")
