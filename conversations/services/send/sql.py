"""The send path's statements, written out.

Each batch of sends runs a fixed handful of short statements; building them
through the ORM cost more CPU than running them (about half a millisecond
each, against a few tens of microseconds written out). The same SQL serves
SQLite and PostgreSQL. Everything else goes through the ORM.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from ...models import Block, Conversation, Membership, Message, Participant, User

ACTIVE = Membership.Status.ACTIVE.value


def _name(model: Any, field: str | None = None) -> str:
    """A quoted table name, or a quoted column name of that table."""
    quote = connection.ops.quote_name
    if field is None:
        return str(quote(model._meta.db_table))
    return str(quote(model._meta.get_field(field).column))


def _marks(values: Collection[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _empty(*lists: Collection[Any]) -> bool:
    """An empty IN list matches nothing (and PostgreSQL refuses `IN ()`)."""
    return any(len(values) == 0 for values in lists)


def _rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def stored_ids(keys: set[tuple[int, str]]) -> list[int]:
    """Ids of the messages already stored under these (sender, client_id)."""
    if not keys:
        return []
    senders = sorted({k[0] for k in keys})
    client_ids = sorted({k[1] for k in keys})
    sql = (
        f"SELECT id, sender_id, client_id FROM {_name(Message)} "  # noqa: S608
        f"WHERE sender_id IN ({_marks(senders)}) "
        f"AND client_id IN ({_marks(client_ids)})"
    )
    return [pk for pk, s, c in _rows(sql, [*senders, *client_ids]) if (s, c) in keys]


def active_memberships(
    user_ids: Collection[int], community_ids: Collection[int]
) -> set[tuple[int, int]]:
    """(user id, community id) pairs with an active membership."""
    if _empty(user_ids, community_ids):
        return set()
    sql = (
        f"SELECT user_id, community_id FROM {_name(Membership)} "  # noqa: S608
        f"WHERE user_id IN ({_marks(user_ids)}) "
        f"AND community_id IN ({_marks(community_ids)}) AND status = %s"
    )
    return {(u, c) for u, c in _rows(sql, [*user_ids, *community_ids, ACTIVE])}


def conversations(ids: Collection[int]) -> list[tuple[int, int, int]]:
    """(id, community id, last message id or 0) of these conversations."""
    if _empty(ids):
        return []
    sql = (
        f"SELECT id, community_id, last_message_id FROM {_name(Conversation)} "  # noqa: S608
        f"WHERE id IN ({_marks(ids)})"
    )
    return [(pk, c, last or 0) for pk, c, last in _rows(sql, list(ids))]


def participants(conversation_ids: Collection[int]) -> list[tuple[int, int, str, bool]]:
    """(conversation id, user id, username, reachable) by username, where
    reachable is an active account with an active membership in the
    conversation's community."""
    if _empty(conversation_ids):
        return []
    sql = (
        f"SELECT p.conversation_id, u.id, u.username, "  # noqa: S608
        f"CASE WHEN u.is_active AND EXISTS (SELECT 1 FROM {_name(Membership)} m "
        f"WHERE m.user_id = u.id AND m.community_id = c.community_id "
        f"AND m.status = %s) THEN 1 ELSE 0 END "
        f"FROM {_name(Participant)} p "
        f"JOIN {_name(User)} u ON u.id = p.user_id "
        f"JOIN {_name(Conversation)} c ON c.id = p.conversation_id "
        f"WHERE p.conversation_id IN ({_marks(conversation_ids)}) "
        f"ORDER BY u.username"
    )
    return [
        (cid, uid, name, bool(reachable))
        for cid, uid, name, reachable in _rows(sql, [ACTIVE, *conversation_ids])
    ]


def active_members(
    community_ids: Collection[int], usernames: Collection[str]
) -> list[tuple[int, str, int]]:
    """(community id, username, user id) of the active members named."""
    if _empty(community_ids, usernames):
        return []
    sql = (
        f"SELECT m.community_id, u.username, u.id FROM {_name(Membership)} m "  # noqa: S608
        f"JOIN {_name(User)} u ON u.id = m.user_id "
        f"WHERE m.community_id IN ({_marks(community_ids)}) "
        f"AND u.username IN ({_marks(usernames)}) "
        f"AND u.is_active AND m.status = %s"
    )
    return [
        (c, name, uid)
        for c, name, uid in _rows(sql, [*community_ids, *usernames, ACTIVE])
    ]


def conversations_by_key(
    community_ids: Collection[int], keys: Collection[str]
) -> list[tuple[int, int, str, int]]:
    """(id, community id, participant key, last message id or 0)."""
    if _empty(community_ids, keys):
        return []
    sql = (
        f"SELECT id, community_id, participant_key, last_message_id "  # noqa: S608
        f"FROM {_name(Conversation)} "
        f"WHERE community_id IN ({_marks(community_ids)}) "
        f"AND participant_key IN ({_marks(keys)})"
    )
    return [
        (pk, c, key, last or 0)
        for pk, c, key, last in _rows(sql, [*community_ids, *keys])
    ]


def blocks(senders: Collection[int], everyone: Collection[int]) -> set[tuple[int, int]]:
    """(blocker id, blocked id) where someone of `everyone` blocks a sender."""
    if _empty(senders, everyone):
        return set()
    sql = (
        f"SELECT blocker_id, blocked_id FROM {_name(Block)} "  # noqa: S608
        f"WHERE blocked_id IN ({_marks(senders)}) "
        f"AND blocker_id IN ({_marks(everyone)})"
    )
    return {(a, b) for a, b in _rows(sql, [*senders, *everyone])}


def insert_messages(rows: Sequence[dict[str, Any]], sent_at: datetime) -> list[int]:
    """Insert the messages, in order; return their ids, in the same order."""
    columns = [
        "conversation_id",
        "community_id",
        "sender_id",
        "client_id",
        "copy",
        "body",
        "sent_at",
        "deleted",
        "attachment_count",
    ]
    when = connection.ops.adapt_datetimefield_value(sent_at)
    params: list[Any] = []
    for row in rows:
        params += [row[name] for name in columns[:6]]
        params += [when, False, row["attachment_count"]]
    names = ", ".join(_name(Message, name) for name in columns)
    one = f"({_marks(columns)})"
    sql = (
        f"INSERT INTO {_name(Message)} ({names}) "  # noqa: S608
        f"VALUES {', '.join([one] * len(rows))} RETURNING id"
    )
    ids = [pk for (pk,) in _rows(sql, params)]
    # Both engines return one id per row; neither promises their order, so
    # sort: ids are allocated in VALUES order within one statement.
    return sorted(ids)


def set_last_messages(latest: dict[int, int]) -> None:
    """Each conversation's newest message, in one statement."""
    if not latest:
        return
    cases = " ".join(["WHEN %s THEN %s"] * len(latest))
    params: list[Any] = [value for pair in latest.items() for value in pair]
    sql = (
        f"UPDATE {_name(Conversation)} SET last_message_id = "  # noqa: S608
        f"CASE id {cases} END WHERE id IN ({_marks(latest)})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *latest])
