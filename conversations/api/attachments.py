"""Photos and documents: the upload, and the files behind the access check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, HttpRequest
from ninja import File, Router, UploadedFile
from ninja.responses import Status

from ..errors import NotFound
from ..models import Attachment
from ..selectors.access import community_get_for_user
from ..selectors.attachments import attachment_get_for_user
from ..selectors.messages import attachment_object
from ..services.attachments import attachment_upload
from ..wire.schema import AttachmentObject
from .common import ERRORS, ErrorOut, resident

router = Router(tags=["attachments"])

CHUNK_BYTES = 64 * 1024
# Every file answer: kept out of shared caches and of the browser's disk
# (a family computer), never sniffed into another type, never run as a page
# when opened on its own, never embedded by another site.
FILE_HEADERS = {
    "Cache-Control": "private, no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
}
FILE_RESPONSES: dict[str, Any] = {
    "responses": {
        200: {
            "description": "The file, with the attachment's content type.",
            "content": {"*/*": {}},
        }
    }
}


@router.post(
    "/communities/{slug}/attachments/",
    response={201: AttachmentObject, 413: ErrorOut, **ERRORS},
)
def upload(request: HttpRequest, slug: str, file: File[UploadedFile]) -> Any:
    """Upload a photo (JPEG, PNG, WebP) or a PDF, at most ATTACHMENT_MAX_BYTES,
    to send within 24 hours (multipart form, one `file`)."""
    user = resident(request)
    community = community_get_for_user(user_id=user.pk, community_slug=slug)
    row = attachment_upload(user=user, community=community, upload=file)
    return Status(201, attachment_object(row))


@router.get(
    "/attachments/{attachment_id}/",
    response={200: None, **ERRORS},
    openapi_extra=FILE_RESPONSES,
)
def download(request: HttpRequest, attachment_id: int) -> Any:
    """The file (a document is offered as a download)."""
    row = attachment_get_for_user(
        user_id=resident(request).pk, attachment_id=attachment_id
    )
    return file_response(request, row, row.file)


@router.get(
    "/attachments/{attachment_id}/thumbnail/",
    response={200: None, **ERRORS},
    openapi_extra=FILE_RESPONSES,
)
def thumbnail(request: HttpRequest, attachment_id: int) -> Any:
    """A photo's thumbnail, at most 320 px on its longer side."""
    row = attachment_get_for_user(
        user_id=resident(request).pk, attachment_id=attachment_id
    )
    if not row.thumbnail:
        raise NotFound("No such attachment.")
    return file_response(request, row, row.thumbnail)


def file_response(
    request: HttpRequest, row: Attachment, stored: FieldFile
) -> FileResponse:
    """Stream a stored file with the attachment's type and safe name.

    Under ASGI (daphne) a FileResponse over a plain file would be read
    whole into memory first (StreamingHttpResponse.__aiter__ turns a sync
    iterator into a list; pinned by tests/integration/
    test_library_internals.py), so there the file is read chunk by chunk in
    a thread instead.
    """
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise NotFound("No such attachment.") from None
    response = FileResponse(
        handle,
        content_type=row.content_type,
        as_attachment=not row.content_type.startswith("image/"),
        filename=row.name,
    )
    if isinstance(request, ASGIRequest):
        response.streaming_content = _chunks(handle)
    for header, value in FILE_HEADERS.items():
        response[header] = value
    return response


async def _chunks(handle: FieldFile) -> AsyncIterator[bytes]:
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while chunk := await read(CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()
