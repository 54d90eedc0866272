"""The frame parser: every frame type, every invalid shape, the exact codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conversations.errors import BadRequest, ChatError, TooLong
from conversations.protocol import (
    MAX_ID,
    MarkRead,
    Ping,
    Presence,
    SendMessage,
    Sync,
    Typing,
    parse_frame,
    parse_send,
)

LIMIT = 64 * 1024


def parse(frame: dict[str, Any] | list[Any] | str | int | None) -> object:
    return parse_frame(json.dumps(frame), max_bytes=LIMIT)


def send(**fields: Any) -> dict[str, Any]:
    frame = {"type": "message.send", "client_id": "c-1", "body": "Bonjour"}
    frame.update(fields)
    return {key: value for key, value in frame.items() if value is not ...}


def error_of(frame: object, *, raw: bool = False) -> ChatError:
    text = frame if raw else json.dumps(frame)
    assert isinstance(text, str)
    with pytest.raises(ChatError) as caught:
        parse_frame(text, max_bytes=LIMIT)
    return caught.value


# Valid frames of every type.


def test_send_to_recipients_parses_into_a_send_command() -> None:
    """A `message.send` with `to` yields SendMessage with sorted recipients."""
    command = parse(send(to=["bob"]))
    assert command == SendMessage("c-1", "Bonjour", ("bob",), None)


def test_send_to_conversation_parses_into_a_send_command() -> None:
    """A `message.send` with `conversation` yields that id and no recipients."""
    command = parse(send(conversation=37))
    assert command == SendMessage("c-1", "Bonjour", None, 37)


def test_read_frame_parses() -> None:
    """`message.read` carries the conversation and the read mark."""
    assert parse({"type": "message.read", "conversation": 3, "up_to": 12}) == (
        MarkRead(conversation=3, up_to=12)
    )


def test_read_frame_accepts_up_to_zero() -> None:
    """`up_to` 0 (nothing read) is a valid mark."""
    assert parse({"type": "message.read", "conversation": 3, "up_to": 0}) == (
        MarkRead(conversation=3, up_to=0)
    )


def test_typing_frame_parses() -> None:
    """`typing` carries the conversation id."""
    assert parse({"type": "typing", "conversation": 9}) == Typing(9)


@pytest.mark.parametrize("after", [0, 1, 812, MAX_ID])
def test_sync_frame_accepts_every_id_from_zero_to_max(after: int) -> None:
    """`sync.after` accepts 0 through 2^63-1."""
    assert parse({"type": "sync", "after": after}) == Sync(after)


@pytest.mark.parametrize("state", ["active", "idle"])
def test_presence_frame_parses(state: str) -> None:
    """`presence` accepts exactly `active` and `idle`."""
    assert parse({"type": "presence", "state": state}) == Presence(state)


def test_ping_frame_parses() -> None:
    """`ping` needs no field."""
    assert parse({"type": "ping"}) == Ping()


def test_extra_fields_are_ignored() -> None:
    """Unknown extra fields do not make a valid frame invalid."""
    assert parse({"type": "ping", "x": [1, 2]}) == Ping()


# Frames that are not frames.


@pytest.mark.parametrize(
    "text",
    ["", "{", "not json", "{'type': 'ping'}", '{"type": "ping"', "\ud800"],
)
def test_invalid_json_is_bad_request(text: str) -> None:
    """Text that is not JSON gets `bad_request`."""
    error = error_of(text, raw=True)
    assert error.code == "bad_request"
    assert "JSON" in error.detail


@pytest.mark.parametrize("value", [[], [{"type": "ping"}], "ping", 3, None, True])
def test_non_object_json_is_bad_request(value: object) -> None:
    """JSON that is not an object gets `bad_request`."""
    error = error_of(value)
    assert error.code == "bad_request"
    assert "object" in error.detail


@pytest.mark.parametrize("frame", [{}, {"type": 3}, {"type": None}, {"type": ["x"]}])
def test_missing_or_non_string_type_is_bad_request(frame: dict[str, Any]) -> None:
    """A frame without a string `type` gets `bad_request`."""
    assert error_of(frame).code == "bad_request"


def test_unknown_type_is_bad_request_and_named() -> None:
    """An unknown type gets `bad_request` that names it (quoted, truncated)."""
    error = error_of({"type": "message.archive"})
    assert error.code == "bad_request"
    assert '"message.archive"' in error.detail
    long_error = error_of({"type": "x" * 1000})
    assert len(long_error.detail) < 100


def test_deeply_nested_json_is_bad_request() -> None:
    """Nesting deep enough to exhaust recursion is refused, not a crash."""
    text = "[" * 100_000 + "]" * 100_000
    assert error_of(text, raw=True).code in {"bad_request", "too_long"}
    small = '{"type": "ping", "x": ' + "[" * 20_000 + "]" * 20_000 + "}"
    assert error_of(small, raw=True).code == "bad_request"


def test_oversize_frame_is_too_long() -> None:
    """A frame over the byte limit gets `too_long` before it is parsed."""
    frame = json.dumps({"type": "ping", "pad": "x" * 200})
    with pytest.raises(TooLong):
        parse_frame(frame, max_bytes=100)


def test_frame_limit_counts_utf8_bytes_not_characters() -> None:
    """Multi-byte characters count by their UTF-8 size against the limit."""
    frame = json.dumps({"type": "ping", "pad": "é" * 60}, ensure_ascii=False)
    assert len(frame) < 100 < len(frame.encode())
    with pytest.raises(TooLong):
        parse_frame(frame, max_bytes=100)
    assert parse_frame(frame, max_bytes=len(frame.encode())) == Ping()


def test_frame_at_limit_is_accepted() -> None:
    """A frame of exactly the byte limit is parsed."""
    frame = json.dumps({"type": "ping"})
    assert parse_frame(frame, max_bytes=len(frame)) == Ping()


def test_maximal_body_fits_in_32_kib_frame() -> None:
    """A 5,000-character body of 4-byte characters fits the 32 KiB the contract
    promises (sent without ASCII escaping)."""
    frame = json.dumps(send(body="🎉" * 5000, to=["bob"]), ensure_ascii=False)
    command = parse_frame(frame, max_bytes=32 * 1024)
    assert isinstance(command, SendMessage)
    assert command.body == "🎉" * 5000


# message.send: the body.


def test_body_is_trimmed() -> None:
    """Leading and trailing whitespace is removed from the body."""
    command = parse(send(body="  \n Salut !\t ", to=["bob"]))
    assert isinstance(command, SendMessage)
    assert command.body == "Salut !"


@pytest.mark.parametrize("body", ["", "   ", "\n\t \u3000"])
def test_blank_body_is_bad_request(body: str) -> None:
    """A body that is empty after trimming gets `bad_request`."""
    error = error_of(send(body=body, to=["bob"]))
    assert error.code == "bad_request"
    assert error.client_id == "c-1"


@pytest.mark.parametrize("body", ["a" * 5000, "🏡" * 5000, "é" * 4999 + "👍"])
def test_body_of_5000_characters_is_accepted(body: str) -> None:
    """Bodies up to 5,000 characters pass, whatever their UTF-8 size."""
    command = parse(send(body=body, to=["bob"]))
    assert isinstance(command, SendMessage)
    assert command.body == body


def test_body_of_5000_characters_with_surrounding_space_is_accepted() -> None:
    """The length limit applies after trimming."""
    command = parse(send(body="  " + "a" * 5000 + "  ", to=["bob"]))
    assert isinstance(command, SendMessage)
    assert len(command.body) == 5000


@pytest.mark.parametrize("body", ["a" * 5001, "🏡" * 5001])
def test_body_of_5001_characters_is_too_long(body: str) -> None:
    """A 5,001-character body gets `too_long`, with the client_id."""
    error = error_of(send(body=body, to=["bob"]))
    assert isinstance(error, TooLong)
    assert error.code == "too_long"
    assert error.client_id == "c-1"


@pytest.mark.parametrize("body", [None, 3, ["x"], {"x": 1}, True])
def test_non_string_body_is_bad_request(body: object) -> None:
    """A body that is not a string gets `bad_request` with the client_id."""
    error = error_of(send(body=body, to=["bob"]))
    assert error.code == "bad_request"
    assert error.client_id == "c-1"


def test_missing_body_is_bad_request() -> None:
    """A send without a body gets `bad_request`."""
    error = error_of(send(body=..., to=["bob"]))
    assert error.code == "bad_request"
    assert error.client_id == "c-1"


@pytest.mark.parametrize(
    "raw_body", ['"a\\u0000b"', '"\\ud800"', '"x\\udfff"', '"\\udc00\\ud800"']
)
def test_body_with_nul_or_lone_surrogate_is_refused(raw_body: str) -> None:
    """NUL and lone surrogates (unstorable) get `bad_request`."""
    text = '{"type": "message.send", "client_id": "c-1", "to": ["bob"], '
    text += f'"body": {raw_body}}}'
    error = error_of(text, raw=True)
    assert error.code == "bad_request"
    assert error.client_id == "c-1"


def test_escaped_surrogate_pair_is_a_valid_character() -> None:
    """A correctly paired surrogate escape is one valid character."""
    text = (
        '{"type": "message.send", "client_id": "c-1", "to": ["bob"], '
        '"body": "\\ud83c\\udf89"}'
    )
    command = parse_frame(text, max_bytes=LIMIT)
    assert isinstance(command, SendMessage)
    assert command.body == "🎉"


def test_raw_lone_surrogate_in_text_is_refused() -> None:
    """A frame whose text itself holds a lone surrogate is refused cleanly."""
    text = '{"type": "message.send", "client_id": "c-1", "to": ["bob"], '
    text += '"body": "a\ud800"}'
    assert error_of(text, raw=True).code == "bad_request"


# message.send: client_id.


@pytest.mark.parametrize("client_id", [None, "", 5, ["c"], "x" * 65, True, "a\x00"])
def test_invalid_client_id_is_bad_request(client_id: object) -> None:
    """client_id must be a clean string of 1 to 64 characters."""
    error = error_of(send(client_id=client_id, to=["bob"]))
    assert error.code == "bad_request"
    assert "client_id" in error.detail


def test_missing_client_id_is_bad_request_without_client_id() -> None:
    """Without a client_id the error carries none."""
    error = error_of(send(client_id=..., to=["bob"]))
    assert error.code == "bad_request"
    assert error.client_id is None


def test_non_string_client_id_is_not_echoed() -> None:
    """A client_id that is not a string is not echoed in the error."""
    assert error_of(send(client_id=42, to=["bob"])).client_id is None


def test_client_id_of_64_characters_is_accepted() -> None:
    """A 64-character client_id is the maximum and passes."""
    command = parse(send(client_id="k" * 64, to=["bob"]))
    assert isinstance(command, SendMessage)
    assert command.client_id == "k" * 64


# message.send: exactly one of `to` and `conversation`.


def test_both_to_and_conversation_is_bad_request() -> None:
    """Giving both targets gets `bad_request` with the client_id."""
    error = error_of(send(to=["bob"], conversation=3))
    assert error.code == "bad_request"
    assert error.client_id == "c-1"


@pytest.mark.parametrize("fields", [{}, {"to": None}, {"conversation": None}])
def test_neither_to_nor_conversation_is_bad_request(fields: dict[str, Any]) -> None:
    """Giving no target gets `bad_request` with the client_id."""
    error = error_of(send(**fields))
    assert error.code == "bad_request"
    assert error.client_id == "c-1"


def test_to_is_deduplicated_and_sorted() -> None:
    """Recipients come out sorted and without duplicates."""
    command = parse(send(to=["carol", "bob", "carol", "alice"]))
    assert isinstance(command, SendMessage)
    assert command.to == ("alice", "bob", "carol")


def test_fifty_recipients_are_accepted() -> None:
    """Up to 50 recipients pass."""
    names = [f"user{i:02d}" for i in range(50)]
    command = parse(send(to=list(reversed(names))))
    assert isinstance(command, SendMessage)
    assert command.to == tuple(names)


@pytest.mark.parametrize(
    "to",
    [
        [],
        [f"user{i}" for i in range(51)],
        "bob",
        {"bob": 1},
        [3],
        ["bob", None],
        [""],
        ["x" * 151],
        ["a\x00"],
        [["bob"]],
    ],
)
def test_invalid_recipients_are_bad_request(to: object) -> None:
    """`to` must be a list of 1 to 50 non-empty username strings."""
    error = error_of(send(to=to))
    assert error.code == "bad_request"
    assert error.client_id == "c-1"


@pytest.mark.parametrize("conversation", [0, -1, MAX_ID + 1, 1.5, "3", True, False])
def test_invalid_conversation_id_in_send_is_bad_request(conversation: object) -> None:
    """`conversation` must be an integer from 1 to 2^63-1 (never a bool)."""
    error = error_of(send(conversation=conversation))
    assert error.code == "bad_request"
    assert error.client_id == "c-1"


def test_conversation_id_at_max_is_accepted() -> None:
    """2^63-1 is a valid conversation id."""
    command = parse(send(conversation=MAX_ID))
    assert isinstance(command, SendMessage)
    assert command.conversation == MAX_ID


def test_parse_send_attaches_client_id_for_http_bodies() -> None:
    """parse_send (the HTTP path) attaches the client_id to its errors too."""
    with pytest.raises(BadRequest) as caught:
        parse_send({"client_id": "h-1", "body": "x"})
    assert caught.value.client_id == "h-1"


# Ids in the other frames.


@pytest.mark.parametrize("value", [True, False, None, "1", 1.0, -1, MAX_ID + 1, [1]])
def test_sync_after_must_be_an_integer_in_range(value: object) -> None:
    """`sync.after` refuses bools, strings, floats and out-of-range ints."""
    error = error_of({"type": "sync", "after": value})
    assert error.code == "bad_request"
    assert error.client_id is None


def test_sync_without_after_is_bad_request() -> None:
    """`sync` needs `after`."""
    assert error_of({"type": "sync"}).code == "bad_request"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "message.read", "conversation": 1},
        {"type": "message.read", "up_to": 1},
        {"type": "message.read", "conversation": True, "up_to": 1},
        {"type": "message.read", "conversation": 1, "up_to": True},
        {"type": "message.read", "conversation": 0, "up_to": 1},
        {"type": "message.read", "conversation": 1, "up_to": -1},
        {"type": "message.read", "conversation": 1, "up_to": MAX_ID + 1},
        {"type": "typing"},
        {"type": "typing", "conversation": True},
        {"type": "typing", "conversation": "1"},
        {"type": "typing", "conversation": 0},
        {"type": "typing", "conversation": 2**64},
    ],
)
def test_invalid_ids_in_read_and_typing_are_bad_request(frame: dict[str, Any]) -> None:
    """`message.read` and `typing` validate their ids like `sync` does."""
    assert error_of(frame).code == "bad_request"


@pytest.mark.parametrize("state", [None, "away", "ACTIVE", 1, ["active"], True])
def test_invalid_presence_state_is_bad_request(state: object) -> None:
    """`presence.state` must be `active` or `idle`."""
    assert error_of({"type": "presence", "state": state}).code == "bad_request"


def test_huge_integer_literal_is_refused_cleanly() -> None:
    """An integer literal too long for Python to convert is a ChatError."""
    text = '{"type": "sync", "after": ' + "9" * 5000 + "}"
    assert error_of(text, raw=True).code == "bad_request"
