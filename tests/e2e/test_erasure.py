"""Erasure and export over the wire, on real daphne with SQLite and
PostgreSQL: the erased resident's sockets close, the others see tombstones
from former-resident-<n>, and the deployment's database and media folder
keep no trace of them."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.client import ChatSocket, HttpClient
from tests.support.images import jpeg_with_gps
from tests.support.protocol import send_frame
from tests.support.servers import PASSWORD
from tests.support.traces import (
    database_traces,
    file_traces,
    files_under,
    site_cursor,
)

from .conftest import Connect, World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120, func_only=True)]

CLOSE_REVOKED = 4403
WITHIN = 5.0  # seconds, the contract's bound for access changes

WORLD = {"nord": ["zoe", "bob", "carol", "yann"]}


def post_file(client: HttpClient, slug: str, name: str, data: bytes) -> Any:
    """A browser's FormData upload."""
    answer = client.http.post(
        f"{client.base_url}/api/communities/{slug}/attachments/",
        files={"file": (name, data, "application/octet-stream")},
        headers={
            "X-CSRFToken": client.http.cookies.get("csrftoken", ""),
            "Referer": f"{client.base_url}/",
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def acked(socket: ChatSocket, frame: dict[str, Any]) -> dict[str, Any]:
    """Send a message.send frame; its acked message."""
    await socket.send_json(frame)
    while True:
        answer = await socket.recv_json(10)
        if answer.get("client_id") == frame["client_id"]:
            assert answer["type"] == "message.ack", answer
            message: dict[str, Any] = answer["message"]
            return message


def word() -> str:
    return "zq" + secrets.token_hex(6)


def login_status(base_url: str, username: str) -> int:
    """The status of a login POST with the right password (302: signed in)."""
    http = requests.Session()
    http.trust_env = False
    page = http.get(f"{base_url}/accounts/login/", timeout=10)
    assert page.status_code == 200
    answer = http.post(
        f"{base_url}/accounts/login/",
        data={
            "username": username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
        },
        headers={"Referer": f"{base_url}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    return answer.status_code


@dataclass
class Before:
    """What zoe and bob wrote before zoe's erasure."""

    needles: list[str]  # found nowhere after it
    zoe_files: set[Path]
    photo_url: str
    zoe_message_ids: set[int]
    group_message_id: int
    bob_reply: dict[str, Any]


async def before_erasure(world: World, sockets: dict[str, ChatSocket]) -> Before:
    """zoe sends bob a photo with a message and bob and carol a message;
    bob replies."""
    zoe, bob, carol = (world.user(n) for n in ("zoe", "bob", "carol"))
    bodies, photo_name = [word(), word()], word()
    media = world.site.var_dir / "media"
    before = set(files_under(media))
    photo = post_file(
        world.http("zoe"), world.slug("nord"), f"{photo_name}.jpg", jpeg_with_gps()
    )
    zoe_files = set(files_under(media)) - before
    assert len(zoe_files) == 2
    to_bob = await acked(
        sockets["zoe"],
        send_frame("z1", bodies[0], to=[bob]) | {"attachments": [photo["id"]]},
    )
    to_both = await acked(sockets["zoe"], send_frame("z2", bodies[1], to=[bob, carol]))
    reply = await acked(
        sockets["bob"],
        send_frame("b1", "La réponse de Bob", conversation=to_bob["conversation"]),
    )
    for socket in sockets.values():
        socket.drain()
    return Before(
        needles=[zoe, zoe.title(), photo_name, *bodies],
        zoe_files=zoe_files,
        photo_url=photo["url"],
        zoe_message_ids={to_bob["id"], to_both["id"]},
        group_message_id=to_both["id"],
        bob_reply=reply,
    )


async def test_an_erased_resident_leaves_no_trace(
    world: World, connect: Connect
) -> None:
    """zoe erases her account over HTTP: her socket closes with 4403; bob's
    and carol's sockets get her messages as tombstones from
    former-resident-<n>; she cannot log in; no table of the deployment's
    database and no stored file holds her address, name, bodies or photo;
    bob's own messages stay."""
    sockets = {n: await connect(world, n, "nord") for n in ("zoe", "bob", "carol")}
    before = await before_erasure(world, sockets)
    zoe_http = world.http("zoe")

    answer = zoe_http.post("/api/me/erase/", {"password": PASSWORD})

    assert answer.status_code == 202, answer.text
    former = answer.json()["username"]
    assert former.startswith("former-resident-")
    assert former.removeprefix("former-resident-").isdigit()
    assert await sockets["zoe"].wait_closed(WITHIN) == CLOSE_REVOKED
    updates = [await sockets["bob"].next_of("message.updated") for _ in range(2)]
    assert {u["message"]["id"] for u in updates} == before.zoe_message_ids
    for update in updates:
        message = update["message"]
        assert (message["deleted"], message["body"], message["attachments"]) == (
            True,
            "",
            [],
        )
        assert message["sender"] == former
        assert former in message["participants"]
    carol_update = await sockets["carol"].next_of("message.updated")
    assert carol_update["message"]["id"] == before.group_message_id
    assert login_status(world.server.base_url, world.user("zoe")) == 200
    bob_http = world.http("bob")
    history = bob_http.history(before.bob_reply["conversation"])
    reply = before.bob_reply
    assert [m["body"] for m in history if m["id"] == reply["id"]] == [reply["body"]]
    assert {m["sender"] for m in history} == {world.user("bob"), former}
    assert bob_http.get(before.photo_url).status_code == 404
    with site_cursor(world.site.database_url) as (cursor, vendor):
        assert database_traces(cursor, vendor, before.needles) == {}
    assert file_traces(world.site.var_dir / "media", before.needles) == {}
    assert not any(path.exists() for path in before.zoe_files)


def test_the_export_streams_over_daphne(world: World) -> None:
    """The export comes as a chunked JSON download (no Content-Length: it is
    written while it is sent) holding yann's message."""
    yann = world.http("yann")
    sent = yann.post(
        f"/api/communities/{world.slug('nord')}/messages/",
        {"client_id": "y1", "body": "Bonjour Carole", "to": [world.user("carol")]},
    )
    assert sent.status_code == 201, sent.text
    response = yann.http.get(f"{yann.base_url}/api/me/export/", stream=True, timeout=30)
    assert response.status_code == 200
    assert "Content-Length" not in response.headers
    assert response.headers["Content-Disposition"].startswith("attachment;")
    body = b"".join(response.iter_content(chunk_size=None))
    document = json.loads(body)
    assert document["account"]["username"] == world.user("yann")
    (conversation,) = document["conversations"]
    assert [m["id"] for m in conversation["messages"]] == [sent.json()["id"]]
    assert "@example.org" not in body.decode().replace(document["account"]["email"], "")


async def test_wrong_password_keeps_everything(world: World, connect: Connect) -> None:
    """403 wrong_password: carol's socket stays open and answers."""
    carol_socket = await connect(world, "carol", "nord", label="carol-kept")
    answer = world.http("carol").post("/api/me/erase/", {"password": "nope"})
    assert answer.status_code == 403
    assert answer.json()["code"] == "wrong_password"
    await carol_socket.ping()
