"""Property: whatever a client sends, the parser answers a command or ChatError."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from conversations.errors import ChatError
from conversations.protocol import MAX_BODY_CHARS, Command, SendMessage, parse_frame

FRAME_TYPES = ["message.send", "message.read", "typing", "sync", "presence", "ping"]
KEYS = ["type", "client_id", "body", "to", "conversation", "up_to", "after", "state"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(FRAME_TYPES)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
frames = st.dictionaries(
    st.sampled_from(KEYS) | st.text(max_size=8), json_values, max_size=6
)
typed_frames = st.builds(
    lambda kind, rest: {**rest, "type": kind}, st.sampled_from(FRAME_TYPES), frames
)


def outcome(text: str) -> Command | ChatError:
    try:
        return parse_frame(text, max_bytes=64 * 1024)
    except ChatError as error:
        return error


def check(text: str) -> None:
    result = outcome(text)
    if isinstance(result, ChatError):
        assert result.code in {"bad_request", "too_long"}
        assert isinstance(result.detail, str)
        assert result.detail
        return
    if isinstance(result, SendMessage):
        assert 1 <= len(result.body) <= MAX_BODY_CHARS
        assert result.body == result.body.strip()
        assert (result.to is None) != (result.conversation is None)
        result.body.encode("utf-8")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_gives_a_command_or_chat_error(text: str) -> None:
    """Any text (lone surrogates included) yields a command or a ChatError."""
    check(text)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_arbitrary_json_gives_a_command_or_chat_error(value: Any) -> None:
    """Any JSON value yields a command or a ChatError."""
    check(json.dumps(value))


@settings(max_examples=800, deadline=None)
@given(typed_frames)
def test_frames_of_known_types_give_a_command_or_chat_error(
    frame: dict[str, Any],
) -> None:
    """Objects of every known type with random fields never crash the parser,
    and every accepted send satisfies the contract's limits."""
    check(json.dumps(frame))
    check(json.dumps(frame, ensure_ascii=False))
