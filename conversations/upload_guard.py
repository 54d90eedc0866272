"""Refuse an oversized upload from its Content-Length, before Django reads it.

Django's ASGI handler spools every request body (in memory up to 2.5 MB,
then on disk) and the CSRF check parses a multipart body before any view
runs, so a view could only refuse a 1 GB upload after receiving all of it.
This guard answers 413 `too_large` from the declared length alone. daphne
itself receives a whole body before calling the application (and hands it
over in memory), so a deployment also caps bodies at its proxy: see
deploy/Caddyfile and README ("Photos and documents").
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings

# As Django's ASGIHandler declares them.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = re.compile(r"^/api/communities/[^/]+/attachments/$")
# Room for the multipart framing around the file: boundaries, the part's
# headers and its file name.
MULTIPART_ALLOWANCE = 64 * 1024


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class UploadSizeGuard:
    """ASGI middleware for HTTP: 413 for an attachment upload whose declared
    body exceeds ATTACHMENT_MAX_BYTES plus the multipart framing. A body
    without Content-Length, or a file a little over the limit, is refused
    by the upload service itself, which reads at most the limit plus one
    byte of the file."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope.get("method") == "POST"
            and UPLOAD_PATH.match(scope.get("path", ""))
        ):
            length = declared_length(scope)
            limit = settings.ATTACHMENT_MAX_BYTES
            if length is not None and length > limit + MULTIPART_ALLOWANCE:
                await too_large(send, limit)
                return
        await self.app(scope, receive, send)


async def too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"code": "too_large", "detail": f"A file may have at most {limit:,} bytes."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
