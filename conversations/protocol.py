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


@dataclass(frozen=True, slots=True)
class Presence:
    state: str


@dataclass(frozen=True, slots=True)
class Ping:
    pass


Command = SendMessage | MarkRead | Typing | Sync | Presence | Ping


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
    body = data.get("body")
    if not isinstance(body, str):
        raise BadRequest("'body' must be a string.")
    if not _is_clean_str(body):
        raise BadRequest("'body' contains characters that cannot be stored.")
    body = body.strip()
    if not body:
        raise BadRequest("'body' is empty.")
    if len(body) > MAX_BODY_CHARS:
        raise TooLong(f"'body' is longer than {MAX_BODY_CHARS} characters.")
    has_to = "to" in data and data["to"] is not None
    has_conversation = "conversation" in data and data["conversation"] is not None
    if has_to == has_conversation:
        raise BadRequest("Give exactly one of 'to' or 'conversation'.")
    if has_conversation:
        conversation = _parse_id(data["conversation"], "conversation", minimum=1)
        return SendMessage(client_id, body, None, conversation)
    return SendMessage(client_id, body, _parse_recipients(data["to"]), None)


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


def _parse_read(data: dict[str, Any]) -> MarkRead:
    return MarkRead(
        conversation=_parse_id(data.get("conversation"), "conversation", minimum=1),
        up_to=_parse_id(data.get("up_to"), "up_to", minimum=0),
    )


def _parse_typing(data: dict[str, Any]) -> Typing:
    return Typing(_parse_id(data.get("conversation"), "conversation", minimum=1))


def _parse_sync(data: dict[str, Any]) -> Sync:
    return Sync(_parse_id(data.get("after"), "after", minimum=0))


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
    "message.read": _parse_read,
    "typing": _parse_typing,
    "sync": _parse_sync,
    "presence": _parse_presence,
    "ping": _parse_ping,
}
