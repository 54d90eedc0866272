"""A password change, reset or admin change ends the resident's other
sessions on the wire: their sockets close with 4403 within 5 s and their
cookies no longer open the API; only the session that made the change (the
form) stays."""

from __future__ import annotations

import asyncio
import email
import re
from email import policy
from pathlib import Path

import pytest
import requests

from tests.support.client import ChatSocket, HttpClient, login
from tests.support.servers import PASSWORD, Site

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90, func_only=True)]

CLOSE_REVOKED = 4403
WITHIN = 5.0  # seconds, the contract's bound
NEW_PASSWORD = "Tondeuse-du-samedi-42"

# Residents of the shared communities, for this module only: each test
# changes the password of its own resident.
WORLD = {"nord": ["pat", "rae", "kim"]}


def browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def post_form(
    http: requests.Session, url: str, data: dict[str, str]
) -> requests.Response:
    """A form POST as the page sends it, with the page's CSRF token."""
    page = http.get(url, timeout=10)
    assert page.status_code == 200, (url, page.status_code)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None, url
    return http.post(
        url,
        data={**data, "csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": url},
        allow_redirects=False,
        timeout=10,
    )


def signed_in_browser(world: World, resident: str) -> requests.Session:
    """A browser that logged in through the form and keeps its cookies."""
    http = browser()
    answer = post_form(
        http,
        f"{world.server.base_url}/accounts/login/",
        {"username": world.user(resident), "password": PASSWORD},
    )
    assert answer.status_code == 302, answer.status_code
    return http


async def two_tabs(world: World, connect: Connect, resident: str) -> list[ChatSocket]:
    """The resident signed in twice (two browsers), a socket in each."""
    return [
        await connect(
            world,
            resident,
            "nord",
            cookies=world.cookies(resident, fresh=True),
            label=f"{resident}-{n}",
        )
        for n in (1, 2)
    ]


def api_status(world: World, cookies: dict[str, str]) -> int:
    return (
        HttpClient(world.server.base_url, cookies).get("/api/communities/").status_code
    )


async def test_password_change_form_closes_the_other_sessions_sockets(
    world: World, connect: Connect
) -> None:
    """pat changes the password in one browser: the other browser's socket
    closes with 4403 within 5 s and its API answers 401; the changing
    browser's socket stays open and its API still answers, until it logs out."""
    http = await asyncio.to_thread(signed_in_browser, world, "pat")
    other_cookies = world.cookies("pat", fresh=True)
    mine = await connect(
        world, "pat", "nord", cookies=http.cookies.get_dict(), label="mine"
    )
    other = await connect(world, "pat", "nord", cookies=other_cookies, label="other")
    started = asyncio.get_running_loop().time()
    answer = await asyncio.to_thread(
        post_form,
        http,
        f"{world.server.base_url}/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert answer.status_code == 302, answer.text
    assert await other.wait_closed(WITHIN) == CLOSE_REVOKED
    assert asyncio.get_running_loop().time() - started < WITHIN + 1
    await mine.ping()
    assert not mine.closed
    assert api_status(world, other_cookies) == 401
    assert api_status(world, http.cookies.get_dict()) == 200
    # Django gave the changing session a new key: its logout still closes
    # the socket opened with the old one.
    logout = await asyncio.to_thread(
        HttpClient(world.server.base_url, http.cookies.get_dict()).logout
    )
    assert logout.status_code == 302
    assert await mine.wait_closed(WITHIN) == CLOSE_REVOKED


def reset_link(site: Site, address: str, base_url: str) -> str:
    """The link of the newest reset email to `address` (development settings
    write emails as files in VAR_DIR/emails)."""
    found: list[str] = []
    for path in sorted(Path(site.var_dir, "emails").glob("*.log")):
        for chunk in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            message = email.message_from_bytes(chunk.strip(), policy=policy.default)
            if message["To"] != address:
                continue
            body = message.get_body(("plain",))
            assert body is not None
            match = re.search(r"(http\S+/accounts/reset/\S+/)", body.get_content())
            if match:
                found.append(match.group(1))
    assert found, f"no reset email to {address}"
    assert found[-1].startswith(base_url)
    return found[-1]


async def test_password_reset_closes_every_sessions_sockets(
    world: World, connect: Connect
) -> None:
    """rae resets the password through the emailed link (from a browser not
    signed in): every socket of every session closes with 4403 within 5 s."""
    tabs = await two_tabs(world, connect, "rae")
    base = world.server.base_url
    http = browser()
    address = f"{world.user('rae')}@example.org"
    sent = await asyncio.to_thread(
        post_form, http, f"{base}/accounts/password_reset/", {"email": address}
    )
    assert sent.status_code == 302, sent.text
    link = reset_link(world.site, address, base)
    landing = http.get(link, allow_redirects=False, timeout=10)
    assert landing.status_code == 302
    answer = await asyncio.to_thread(
        post_form,
        http,
        f"{base}{landing.headers['Location']}",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert answer.status_code == 302, answer.text
    for tab in tabs:
        assert await tab.wait_closed(WITHIN) == CLOSE_REVOKED


async def test_admin_password_change_closes_every_sessions_sockets(
    world: World, connect: Connect
) -> None:
    """Staff set kim's password in the admin: every socket of kim's sessions
    closes with 4403 within 5 s, and kim's history names the staff member."""
    tabs = await two_tabs(world, connect, "kim")
    staff = world.site.unique("gerant")
    await asyncio.to_thread(
        world.site.manage,
        "createsuperuser",
        "--no-input",
        "--username",
        staff,
        "--email",
        f"{staff}@example.org",
        DJANGO_SUPERUSER_PASSWORD="Gerant-pw-1234",
    )
    base = world.server.base_url
    http = browser()
    signed_in = await asyncio.to_thread(
        post_form,
        http,
        f"{base}/admin/login/",
        {"username": staff, "password": "Gerant-pw-1234", "next": "/admin/"},
    )
    assert signed_in.status_code == 302, signed_in.text
    listing = http.get(
        f"{base}/admin/conversations/user/", params={"q": world.user("kim")}, timeout=10
    )
    user_id = re.search(r"/admin/conversations/user/(\d+)/change/", listing.text)
    assert user_id is not None
    answer = await asyncio.to_thread(
        post_form,
        http,
        f"{base}/admin/conversations/user/{user_id.group(1)}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert answer.status_code == 302, answer.text
    for tab in tabs:
        assert await tab.wait_closed(WITHIN) == CLOSE_REVOKED
    # kim's history names the staff member, as the server saw the request.
    kim = HttpClient(base, login(base, world.user("kim"), NEW_PASSWORD))
    (event,) = kim.get("/api/me/account-events/").json()[:1]
    assert (event["kind"], event["actor"]) == ("password_changed", f"staff:{staff}")
