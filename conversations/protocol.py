"""Pure parsing of client frames into typed commands (no I/O, no ORM).

Every value that comes from a client is checked here once, for both the
WebSocket and the HTTP API, so the two transports cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest, ChatError, TooLong
from .wire.limits import (
    MAX_ATTACHMENTS,
    MAX_BODY_CHARS,
    MAX_CLIENT_ID_CHARS,
    MAX_ID,
    MAX_RECIPIENTS,
    MAX_USERNAME_CHARS,
)

__all__ = ["MAX_BODY_CHARS", "MAX_ID", "Command", "parse_frame", "parse_send"]


@dataclass(frozen=True, slots=True)
class SendMessage:
    client_id: str
    body: str
    to: tuple[str, ...] | None
    conversation: int | None
    attachments: tuple[int, ...] = ()
    separate: bool = False


@dataclass(frozen=True, slots=True)
class EditMessage:
    id: int
    body: str


@dataclass(frozen=True, slots=True)
class DeleteMessage:
    id: int


@dataclass(frozen=True, slots=True)
class MarkRead:
    conversation: int
    up_to: int


@dataclass(frozen=True, slots=True)
class Typing:
    conversation: int


@dataclass(frozen=True, slots=True)
class Sync:
    after: int
    since_rev: int | None = None


@dataclass(frozen=True, slots=True)
class Presence:
    state: str


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Command = (
    SendMessage
    | EditMessage
    | DeleteMessage
    | MarkRead
    | Typing
    | Sync
    | Presence
    | Ping
)


def parse_frame(text: str, *, max_bytes: int) -> Command:
    """Parse one text frame; raise a ChatError that says what is wrong."""
    if len(text) > max_bytes or len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        raise TooLong(f"Frame larger than {max_bytes} bytes.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("Frame is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Frame must be a JSON object.")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise BadRequest("Frame needs a string 'type'.")
    parser = _PARSERS.get(kind)
    if parser is None:
        raise BadRequest(f"Unknown frame type {_quote(kind)}.")
    return parser(data)


def parse_send(data: dict[str, Any]) -> SendMessage:
    """Validate a `message.send` body (also used by the HTTP API)."""
    raw_client_id = data.get("client_id")
    client_id = raw_client_id if _is_clean_str(raw_client_id) else None
    try:
        return _parse_send(data, client_id)
    except ChatError as error:
        error.client_id = client_id
        raise


def _parse_send(data: dict[str, Any], client_id: str | None) -> SendMessage:
    if client_id is None or not 1 <= len(client_id) <= MAX_CLIENT_ID_CHARS:
        raise BadRequest(
            f"'client_id' must be a string of 1 to {MAX_CLIENT_ID_CHARS} characters."
        )
    attachments = _parse_attachments(data.get("attachments"))
    # A photo may go without words; anything else needs a body.
    body = _parse_body(data.get("body"), allow_empty=bool(attachments))
    has_to = "to" in data and data["to"] is not None
    has_conversation = "conversation" in data and data["conversation"] is not None
    if has_to == has_conversation:
        raise BadRequest("Give exactly one of 'to' or 'conversation'.")
    separate = data.get("separate", False)
    if not isinstance(separate, bool):
        raise BadRequest("'separate' must be true or false.")
    if has_conversation:
        if separate:
            raise BadRequest("'separate' goes with 'to', not 'conversation'.")
        conversation = _parse_id(data["conversation"], "conversation", minimum=1)
        return SendMessage(client_id, body, None, conversation, attachments)
    recipients = _parse_recipients(data["to"])
    if separate and len(recipients) < 2:
        raise BadRequest("'separate' needs at least two recipients in 'to'.")
    return SendMessage(client_id, body, recipients, None, attachments, separate)


def _parse_body(value: object, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        if value is None and allow_empty:
            return ""
        raise BadRequest("'body' must be a string.")
    if not _is_clean_str(value):
        raise BadRequest("'body' contains characters that cannot be stored.")
    body = value.strip()
    if not body and not allow_empty:
        raise BadRequest("'body' is empty.")
    if len(body) > MAX_BODY_CHARS:
        raise TooLong(f"'body' is longer than {MAX_BODY_CHARS} characters.")
    return body


def _parse_attachments(value: object) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_ATTACHMENTS:
        raise BadRequest(
            f"'attachments' must be a list of at most {MAX_ATTACHMENTS} ids."
        )
    ids = tuple(_parse_id(item, "attachments", minimum=1) for item in value)
    if len(set(ids)) != len(ids):
        raise BadRequest("'attachments' names an upload twice.")
    return ids


def _parse_recipients(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_RECIPIENTS:
        raise BadRequest(f"'to' must be a list of 1 to {MAX_RECIPIENTS} usernames.")
    names: list[str] = []
    for item in value:
        if (
            not isinstance(item, str)
            or not _is_clean_str(item)
            or not 1 <= len(item) <= MAX_USERNAME_CHARS
        ):
            raise BadRequest("'to' must contain usernames (strings).")
        names.append(item)
    return tuple(sorted(set(names)))


def _parse_edit(data: dict[str, Any]) -> EditMessage:
    return EditMessage(
        id=_parse_id(data.get("id"), "id", minimum=1),
        body=_parse_body(data.get("body")),
    )


def _parse_delete(data: dict[str, Any]) -> DeleteMessage:
    return DeleteMessage(id=_parse_id(data.get("id"), "id", minimum=1))


def _parse_read(data: dict[str, Any]) -> MarkRead:
    return MarkRead(
        conversation=_parse_id(data.get("conversation"), "conversation", minimum=1),
        up_to=_parse_id(data.get("up_to"), "up_to", minimum=0),
    )


def _parse_typing(data: dict[str, Any]) -> Typing:
    return Typing(_parse_id(data.get("conversation"), "conversation", minimum=1))


def _parse_sync(data: dict[str, Any]) -> Sync:
    since_rev = data.get("since_rev")
    return Sync(
        _parse_id(data.get("after"), "after", minimum=0),
        None if since_rev is None else _parse_id(since_rev, "since_rev", minimum=0),
    )


def _parse_presence(data: dict[str, Any]) -> Presence:
    state = data.get("state")
    if state not in ("active", "idle"):
        raise BadRequest("'state' must be 'active' or 'idle'.")
    return Presence(state)


def _parse_ping(data: dict[str, Any]) -> Ping:
    return Ping()


def _parse_id(value: object, name: str, *, minimum: int) -> int:
    # bool is an int subclass in Python: `true` must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"'{name}' must be an integer.")
    if not minimum <= value <= MAX_ID:
        raise BadRequest(f"'{name}' must be between {minimum} and 2^63-1.")
    return value


def _is_clean_str(value: object) -> bool:
    """A str that PostgreSQL and UTF-8 can store: no NUL, no lone surrogate."""
    if not isinstance(value, str) or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _quote(kind: str) -> str:
    shown = kind[:40] if _is_clean_str(kind) else "?"
    return json.dumps(shown)


_PARSERS: dict[str, Callable[[dict[str, Any]], Command]] = {
    "message.send": parse_send,
    "message.edit": _parse_edit,
    "message.delete": _parse_delete,
    "message.read": _parse_read,
    "typing": _parse_typing,
    "sync": _parse_sync,
    "presence": _parse_presence,
    "ping": _parse_ping,
}
