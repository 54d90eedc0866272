"""The retention purge on a live deployment: `manage.py purge_expired` runs
while 20 residents keep sending over their sockets."""

from __future__ import annotations

import asyncio
import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.client import ChatSocket
from tests.support.images import jpeg_with_gps
from tests.support.traces import files_under, site_cursor

from .conftest import Connect, World
from .test_erasure import acked, post_file

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240, func_only=True)]

RESIDENTS = [f"p{index}" for index in range(20)]
WORLD = {"purge": RESIDENTS}
OLD_EACH = 12
NEW_AT_LEAST = 8
WITH_PHOTOS = 4  # residents who send a photo, before and during the purge


BACKDATE = (
    "UPDATE conversations_message SET sent_at = %s WHERE community_id = "
    "(SELECT id FROM conversations_community WHERE slug = %s)"
)
MESSAGE_IDS = (
    "SELECT m.id FROM conversations_message m JOIN conversations_community c "
    "ON c.id = m.community_id WHERE c.slug = %s"
)


def in_dialect(query: str, vendor: str) -> str:
    """sqlite3 marks parameters with ?, psycopg with %s."""
    return query.replace("%s", "?") if vendor == "sqlite" else query


class Senders:
    """The residents' tabs, each sending to the next resident."""

    def __init__(self, world: World, sockets: dict[str, ChatSocket]) -> None:
        self.world = world
        self.sockets = sockets
        self.numbers = itertools.count(1)

    def frame(self, index: int, attachments: list[int] | None = None) -> Any:
        name = RESIDENTS[index]
        to = [self.world.user(RESIDENTS[(index + 1) % len(RESIDENTS)])]
        if index % 5 == 0:  # some groups of three too
            to.append(self.world.user(RESIDENTS[(index + 2) % len(RESIDENTS)]))
        frame = {
            "type": "message.send",
            "client_id": f"{name}-{next(self.numbers)}",
            "body": f"message de {name}",
            "to": to,
        }
        if attachments:
            frame["attachments"] = attachments
        return frame

    async def photo_message(self, index: int) -> int:
        upload = await asyncio.to_thread(
            post_file,
            self.world.http(RESIDENTS[index]),
            self.world.slug("purge"),
            "photo.jpg",
            jpeg_with_gps(),
        )
        sent = await acked(
            self.sockets[RESIDENTS[index]], self.frame(index, [upload["id"]])
        )
        return int(sent["id"])

    async def some(self, index: int, count: int) -> list[int]:
        socket = self.sockets[RESIDENTS[index]]
        return [
            int((await acked(socket, self.frame(index)))["id"]) for _ in range(count)
        ]

    async def old(self, index: int) -> list[int]:
        """What the resident sent before the retention period: messages, and
        for some a photo. One coroutine per socket reads its acks."""
        ids = [await self.photo_message(index)] if index < WITH_PHOTOS else []
        return ids + await self.some(index, OLD_EACH)

    async def until(self, index: int, done: asyncio.Future[Any]) -> list[int]:
        """Send until the purge has ended, and at least NEW_AT_LEAST."""
        ids: list[int] = []
        if index < WITH_PHOTOS:
            ids.append(await self.photo_message(index))
        while len(ids) < NEW_AT_LEAST or not done.done():
            ids.extend(await self.some(index, 1))
        return ids


def backdate(world: World, days: int) -> None:
    """As if every message of the community had been sent `days` ago."""
    moment = datetime.now(UTC) - timedelta(days=days)
    with site_cursor(world.site.database_url) as (cursor, vendor):
        # Django keeps SQLite datetimes as UTC text in this format.
        when = moment.strftime("%Y-%m-%d %H:%M:%S.%f") if vendor == "sqlite" else moment
        cursor.execute(in_dialect(BACKDATE, vendor), [when, world.slug("purge")])


def stored(world: World) -> tuple[set[int], int]:
    """The community's message ids, and how many file deletions wait."""
    with site_cursor(world.site.database_url) as (cursor, vendor):
        cursor.execute(in_dialect(MESSAGE_IDS, vendor), [world.slug("purge")])
        ids = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT count(*) FROM conversations_storedfiledeletion")
        pending = cursor.fetchone()[0]
    return ids, pending


def purged_count(output: str) -> int:
    found = re.search(r"Purged (\d+) expired messages", output)
    assert found, output
    return int(found.group(1))


async def test_a_purge_while_residents_send_loses_no_new_message(
    world: World, connect: Connect
) -> None:
    """Old messages (with photos) are purged in batches of 20 while 20
    residents keep sending, photos too: every acked new message is still
    there and nothing else is, the residents' syncs hold only new messages
    and all of them between them, the old files are gone and the new ones
    stay; a second purge deletes nothing."""
    slug = world.slug("purge")
    await asyncio.to_thread(
        world.site.manage,
        "createcommunity",
        slug,
        "--name",
        "Quartier purge",
        "--retention-days",
        "30",
    )
    sockets = {
        name: await connect(world, name, "purge", label=name) for name in RESIDENTS
    }
    senders = Senders(world, sockets)
    media: Path = world.site.var_dir / "media"
    # The site's media folder is shared with other modules' tests: count
    # only the files this test makes.
    others = set(files_under(media))
    old_ids = [
        message_id
        for ids in await asyncio.gather(
            *(senders.old(index) for index in range(len(RESIDENTS)))
        )
        for message_id in ids
    ]
    old_files = set(files_under(media)) - others
    await asyncio.to_thread(backdate, world, 40)

    purge = asyncio.ensure_future(
        asyncio.to_thread(world.site.manage, "purge_expired", "--batch-size", "20")
    )
    new_ids = [
        message_id
        for ids in await asyncio.gather(
            *(senders.until(index, purge) for index in range(len(RESIDENTS)))
        )
        for message_id in ids
    ]
    output = await purge

    assert purged_count(output) == len(old_ids)
    remaining, pending = stored(world)
    assert remaining == set(new_ids)
    assert pending == 0
    files = set(files_under(media)) - others
    assert not files & old_files
    assert len(files) == 2 * WITH_PHOTOS  # each new photo and its thumbnail
    seen: set[int] = set()
    for name, socket in sockets.items():
        socket.drain()
        synced, _ = await socket.sync_all(after=0)
        ids = {m["id"] for m in synced}
        assert ids <= set(new_ids), name
        seen |= ids
    assert seen == set(new_ids)

    again = await asyncio.to_thread(world.site.manage, "purge_expired")
    assert purged_count(again) == 0
    assert stored(world)[0] == set(new_ids)
    assert set(files_under(media)) - others == files
