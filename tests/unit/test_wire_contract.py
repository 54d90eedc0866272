"""The wire is declared once, and documented wherever a client may look."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conversations import consumers, protocol
from conversations.wire.asyncapi import asyncapi_document
from conversations.wire.schema import CLIENT_FRAMES, ERROR_CODES, SERVER_FRAMES

REPO = Path(__file__).resolve().parents[2]
PROTOCOL_DOC = (REPO / "docs" / "protocol.md").read_text(encoding="utf-8")
ASYNCAPI_FILE = REPO / "docs" / "asyncapi.json"
# Layer events that are not frames: internal signals between processes.
INTERNAL_EVENTS = {"access.revoked"}
# The router's layer message: a batch of the events above (router.py).
ROUTER_ENVELOPE = {"route"}
# The Web Push payload's own `type`, read by the service worker (frontend/sw.js).
PUSH_PAYLOAD_TYPES = {"message"}
# ASGI messages to the HTTP server (conversations/upload_guard.py), not frames.
ASGI_MESSAGES = {"http.response.start", "http.response.body"}


def test_the_parser_accepts_exactly_the_declared_client_frames() -> None:
    """A frame type parsed but not declared (or declared but not parsed) fails."""
    assert set(protocol._PARSERS) == set(CLIENT_FRAMES)


@pytest.mark.parametrize("frame_type", sorted({*CLIENT_FRAMES, *SERVER_FRAMES}))
def test_every_frame_type_is_in_docs_protocol(frame_type: str) -> None:
    """docs/protocol.md names every frame type, in a table cell."""
    assert f"| `{frame_type}` |" in PROTOCOL_DOC, frame_type


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_every_error_code_is_in_docs_protocol(code: str) -> None:
    assert f"| `{code}` |" in PROTOCOL_DOC, code


def test_asyncapi_file_is_the_document_the_code_makes() -> None:
    """docs/asyncapi.json equals GET /api/asyncapi.json; regenerate it with
    `python scripts/write_asyncapi.py` after changing wire/schema.py."""
    on_disk = json.loads(ASYNCAPI_FILE.read_text(encoding="utf-8"))
    assert on_disk == json.loads(json.dumps(asyncapi_document("1")))


def test_asyncapi_lists_every_frame_both_ways() -> None:
    document = asyncapi_document("1")
    assert document["asyncapi"] == "3.0.0"
    names = {m["name"] for m in document["components"]["messages"].values()}
    assert names == {*CLIENT_FRAMES, *SERVER_FRAMES}
    actions = {op["action"] for op in document["operations"].values()}
    assert actions == {"send", "receive"}
    for operation in document["operations"].values():
        (ref,) = operation["messages"]
        name = ref["$ref"].rsplit("/", 1)[-1]
        assert name in document["channels"]["community"]["messages"]


def _frame_types_in_source() -> set[str]:
    pattern = re.compile(r'"type":\s*"([a-z][a-z._]*)"')
    found: set[str] = set()
    for path in (REPO / "conversations").rglob("*.py"):
        if "migrations" not in path.parts:
            found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_type_the_code_sends_is_declared() -> None:
    """A `"type": "..."` written anywhere in the application is a declared
    frame or a known internal layer event."""
    undeclared = _frame_types_in_source() - {
        *CLIENT_FRAMES,
        *SERVER_FRAMES,
        *INTERNAL_EVENTS,
        *ROUTER_ENVELOPE,
        *PUSH_PAYLOAD_TYPES,
        *ASGI_MESSAGES,
    }
    assert not undeclared, f"declare in conversations/wire/schema.py: {undeclared}"


def test_every_layer_event_has_its_consumer_method() -> None:
    """Channels calls `message_new` for "message.new": each server frame sent
    through the layer, and each internal event, has its method."""
    for event in {
        "message.new",
        "message.updated",
        "receipt",
        "typing",
        *INTERNAL_EVENTS,
    }:
        method = event.replace(".", "_")
        assert callable(getattr(consumers.CommunityConsumer, method, None)), event
