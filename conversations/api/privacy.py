"""The resident's rights over their data: a copy of it, and erasure
(docs/privacy.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator
from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import logout
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header
from ninja import Router
from ninja.responses import Status

from ..accounts.address import client_address
from ..selectors.export import export_document, export_filename
from ..services.erasure import resident_erase_requested
from ..wire.resident import EraseBody, ErasureResult, ExportDocument
from ..wire.validate import validated
from .common import ERRORS, body_of, json_object, resident

router = Router(tags=["me"])

# The document goes out in blocks of about this size, not one per message.
BLOCK_BYTES = 64 * 1024


@router.get("/me/export/", response={200: ExportDocument, **ERRORS})
def export(request: HttpRequest) -> Any:
    """Everything the server holds that is yours, as one JSON file to
    download: account, memberships, preferences, push subscriptions,
    blocks, account history, unsent uploads, and every conversation you
    are in with its messages. Attachment `url`s stay access-checked."""
    user = resident(request)
    pieces = export_document(user_id=user.pk)
    response = StreamingHttpResponse(
        _blocks(pieces), content_type="application/json; charset=utf-8"
    )
    if isinstance(request, ASGIRequest):
        # Under ASGI a synchronous iterator would be read whole into memory
        # first (StreamingHttpResponse.__aiter__): hand the pieces over
        # block by block from the request's database thread instead.
        response.streaming_content = _async_blocks(pieces)
    filename = export_filename(
        username=user.username, at=timezone.now().date().isoformat()
    )
    response["Content-Disposition"] = content_disposition_header(True, filename) or ""
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@router.post(
    "/me/erase/",
    response={202: ErasureResult, **ERRORS},
    openapi_extra=body_of(EraseBody),
)
def erase(request: HttpRequest) -> Any:
    """Erase your account for good, confirmed with your password: you are
    signed out everywhere, your messages are deleted for everyone, and you
    appear as "former-resident-<n>" in your neighbours' conversations.
    403 `wrong_password` changes nothing; wrong passwords count as failed
    logins (429 past the limit)."""
    body = validated(EraseBody, json_object(request))
    erasure = resident_erase_requested(
        user=resident(request),
        password=body["password"],
        address=client_address(request),
    )
    logout(request)
    result: ErasureResult = {
        "erased": True,
        "username": erasure.username,
        "messages_deleted": erasure.messages,
    }
    return Status(202, result)


def _next_block(pieces: Iterator[str]) -> bytes:
    block: list[str] = []
    size = 0
    for piece in pieces:
        block.append(piece)
        size += len(piece)
        if size >= BLOCK_BYTES:
            break
    return "".join(block).encode()


def _blocks(pieces: Iterator[str]) -> Iterator[bytes]:
    while block := _next_block(pieces):
        yield block


async def _async_blocks(pieces: Generator[str, None, None]) -> AsyncIterator[bytes]:
    # Thread-sensitive (the default): every block is read in the thread,
    # and with the database connection, that ran the view.
    step = sync_to_async(_next_block)
    try:
        while block := await step(pieces):
            yield block
    finally:
        await sync_to_async(pieces.close)()
