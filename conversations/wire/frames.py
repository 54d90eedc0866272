"""The one place each server frame is built and serialized."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from .schema import (
    AttachmentObject,
    ErrorFrame,
    MessageAckFrame,
    MessageObject,
    ReceiptFrame,
    SyncBatchFrame,
    TypingEventFrame,
)


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as the contract shows."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def message_object(
    *,
    id: int,
    conversation: int,
    community: str,
    sender: str,
    participants: list[str],
    body: str,
    sent_at: datetime,
    client_id: str,
    rev: int | None = None,
    edited_at: datetime | None = None,
    deleted: bool = False,
    attachments: list[AttachmentObject] | None = None,
) -> MessageObject:
    """The contract's message object (`participants` already sorted; `rev`
    None: never changed, so it is the id)."""
    return {
        "id": id,
        "conversation": conversation,
        "community": community,
        "sender": sender,
        "participants": participants,
        "body": "" if deleted else body,
        "sent_at": format_timestamp(sent_at),
        "client_id": client_id,
        "rev": id if rev is None else rev,
        "edited_at": format_timestamp(edited_at) if edited_at is not None else None,
        "deleted": deleted,
        "attachments": [] if deleted or attachments is None else attachments,
    }


def attachment_object(
    *,
    id: int,
    name: str,
    content_type: str,
    size: int,
    width: int | None,
    height: int | None,
    has_thumbnail: bool,
) -> AttachmentObject:
    """An attachment as clients see it: links to the access-checked views."""
    return {
        "id": id,
        "name": name,
        "content_type": content_type,  # type: ignore[typeddict-item]
        "size": size,
        "width": width,
        "height": height,
        "url": f"/api/attachments/{id}/",
        "thumbnail_url": f"/api/attachments/{id}/thumbnail/" if has_thumbnail else None,
    }


def dumps(frame: object) -> str:
    """Serialize a frame: compact UTF-8 JSON text, non-ASCII kept as is
    (orjson: a tenth of the standard library's time per frame)."""
    return orjson.dumps(frame).decode()


def message_new_frame(message: MessageObject) -> str:
    """A serialized `message.new`: built once per message, sent to N sockets."""
    return dumps({"type": "message.new", "message": message})


def ack_frame(client_id: str, messages: list[MessageObject]) -> MessageAckFrame:
    """The ack of a send: every message it created (copies), the first also
    as `message`."""
    return {
        "type": "message.ack",
        "client_id": client_id,
        "message": messages[0],
        "messages": messages,
    }


def message_updated_frame(message: MessageObject) -> str:
    """A serialized `message.updated`: built once per change."""
    return dumps({"type": "message.updated", "message": message})


def sync_batch_frame(
    messages: list[MessageObject],
    more: bool,
    changed: list[MessageObject] | None = None,
) -> SyncBatchFrame:
    """`changed` only when the client asked with `since_rev`."""
    frame: SyncBatchFrame = {"type": "sync.batch", "messages": messages, "more": more}
    if changed is not None:
        frame["changed"] = changed
    return frame


def receipt_frame(conversation: int, user: str, up_to: int) -> ReceiptFrame:
    return {
        "type": "receipt",
        "conversation": conversation,
        "user": user,
        "up_to": up_to,
    }


def typing_frame(conversation: int, user: str) -> TypingEventFrame:
    return {"type": "typing", "conversation": conversation, "user": user}


def error_frame(code: str, detail: str, client_id: str | None = None) -> ErrorFrame:
    frame: ErrorFrame = {"type": "error", "code": code, "detail": detail}
    if client_id is not None:
        frame["client_id"] = client_id
    return frame


PONG = dumps({"type": "pong"})
