"""The AsyncAPI 3.0 document of the WebSocket API, made from the declarations.

Served at `GET /api/asyncapi.json`; `docs/asyncapi.json` is the same document
checked in, and a test keeps the two equal.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from .schema import CLIENT_FRAMES, CLOSE_CODES, ERROR_CODES, SERVER_FRAMES

_REF = "#/components/schemas/{model}"


def _camel(frame_type: str, suffix: str) -> str:
    words = frame_type.replace(".", " ").split()
    return words[0] + "".join(w.title() for w in words[1:]) + suffix


def _schema(declaration: type, schemas: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(declaration).json_schema(ref_template=_REF)
    schemas.update(schema.pop("$defs", {}))
    return schema


def asyncapi_document(version: str) -> dict[str, Any]:
    """The document for this server (`version`: the API's version string)."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for direction, frames, action in (
        ("client", CLIENT_FRAMES, "receive"),
        ("server", SERVER_FRAMES, "send"),
    ):
        for frame_type, declaration in frames.items():
            name = _camel(frame_type, "FromClient" if direction == "client" else "")
            messages[name] = {
                "name": frame_type,
                "title": f"{frame_type} ({direction} to "
                f"{'server' if direction == 'client' else 'client'})",
                "contentType": "application/json",
                "payload": _schema(declaration, schemas),
            }
            operations[f"{action}{name[0].upper()}{name[1:]}"] = {
                "action": action,
                "channel": {"$ref": "#/channels/community"},
                "messages": [{"$ref": f"#/channels/community/messages/{name}"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Voisins: private messages (WebSocket)",
            "version": version,
            "description": (
                "One socket per (browser tab, community). Frames are UTF-8 JSON "
                "objects with a `type`. The handshake needs the `sessionid` "
                "cookie of a logged-in active member and an allowed `Origin`; "
                "anything else is refused with HTTP 403. See docs/protocol.md."
            ),
        },
        "servers": {
            "site": {
                "host": "{host}",
                "protocol": "wss",
                "variables": {"host": {"default": "127.0.0.1:8000"}},
            }
        },
        "channels": {
            "community": {
                "address": "/ws/communities/{slug}/",
                "parameters": {"slug": {"description": "The community's slug."}},
                "messages": {
                    name: {"$ref": f"#/components/messages/{name}"} for name in messages
                },
            }
        },
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "x-error-codes": ERROR_CODES,
            "x-close-codes": {str(code): text for code, text in CLOSE_CODES.items()},
        },
    }
