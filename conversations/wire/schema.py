"""The wire declared once: the message object and every frame, as TypedDicts.

The HTTP API (django-ninja renders them in OpenAPI), the socket frames, the
AsyncAPI document (`wire/asyncapi.py`) and the tests read these
declarations; `protocol.py` validates client frames against the same limits.
typing_extensions' TypedDict, because pydantic needs it on Python 3.11.
"""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field
from typing_extensions import TypedDict

from .limits import (
    MAX_ATTACHMENTS,
    MAX_BODY_CHARS,
    MAX_CLIENT_ID_CHARS,
    MAX_ID,
    MAX_RECIPIENTS,
    MAX_USERNAME_CHARS,
    PAGE_LIMIT,
)

# Field rules shared by socket frames and HTTP bodies.
ClientId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_CLIENT_ID_CHARS,
        description="Chosen by the client, unique per sender: a resend with the "
        "same value returns the same message and creates nothing.",
    ),
]
Body = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_BODY_CHARS,
        description=f"Plain text, 1 to {MAX_BODY_CHARS} characters after trimming.",
    ),
]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Cursor = Annotated[int, Field(ge=0, le=MAX_ID)]
Username = Annotated[str, Field(min_length=1, max_length=MAX_USERNAME_CHARS)]
Recipients = Annotated[
    list[Username],
    Field(
        min_length=1,
        max_length=MAX_RECIPIENTS,
        description="Usernames of the recipients, not including the sender.",
    ),
]
Timestamp = Annotated[
    str,
    Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
        description="ISO 8601 in UTC with milliseconds.",
    ),
]


class AttachmentObject(TypedDict):
    """A photo or document of a message (`width`, `height` and
    `thumbnail_url` are null for documents)."""

    id: int
    name: str
    content_type: Literal["image/jpeg", "image/png", "image/webp", "application/pdf"]
    size: int
    width: int | None
    height: int | None
    url: str
    thumbnail_url: str | None


class MessageObject(TypedDict):
    """A message as every client sees it."""

    id: int
    conversation: int
    community: str
    sender: str
    participants: Annotated[list[str], Field(description="Sorted by username.")]
    body: Annotated[
        str,
        Field(
            description="Empty once deleted; may be empty "
            "when the message has attachments."
        ),
    ]
    sent_at: Timestamp
    client_id: str
    rev: Annotated[
        int,
        Field(
            description="Increases server-wide at creation and at each edit "
            "or deletion."
        ),
    ]
    edited_at: Timestamp | None
    deleted: bool
    attachments: list[AttachmentObject]


class CommunityObject(TypedDict):
    slug: str
    name: str
    unread: Annotated[int, Field(description="The resident's unread messages there.")]


class MemberObject(TypedDict):
    username: str
    display_name: str


class ConversationObject(TypedDict):
    id: int
    participants: list[str]
    last_message: MessageObject | None
    unread: Annotated[
        int, Field(description="Messages from others after the resident's read mark.")
    ]
    muted: Annotated[bool, Field(description="No email or push for it (yours only).")]
    read_marks: Annotated[
        dict[str, int],
        Field(description="Each participant's read mark (0 for none), by username."),
    ]


class ConversationPatch(TypedDict):
    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    muted: bool


# Client to server


class SendBody(TypedDict):
    """`message.send` without `type`: also the HTTP send body. Exactly one of
    `to` or `conversation`."""

    client_id: ClientId
    body: Annotated[
        str,
        Field(
            max_length=MAX_BODY_CHARS,
            description=f"Plain text, up to {MAX_BODY_CHARS} characters after "
            "trimming; empty only with attachments.",
        ),
    ]
    to: NotRequired[Recipients]
    conversation: NotRequired[Id]
    attachments: NotRequired[
        Annotated[
            list[Id],
            Field(
                max_length=MAX_ATTACHMENTS,
                description="Ids of your unused uploads, each used once.",
            ),
        ]
    ]
    separate: NotRequired[
        Annotated[
            bool,
            Field(
                description="With `to` of 2 or more: one private copy per "
                "recipient, each in the 1-to-1 conversation with them."
            ),
        ]
    ]


class MessageSendFrame(SendBody):
    type: Literal["message.send"]


class MessageEditFrame(TypedDict):
    """The sender changes the body, within the edit window."""

    type: Literal["message.edit"]
    id: Id
    body: Body


class MessageDeleteFrame(TypedDict):
    """The sender deletes the message for everyone, at any time."""

    type: Literal["message.delete"]
    id: Id


class MessageReadFrame(TypedDict):
    type: Literal["message.read"]
    conversation: Id
    up_to: Cursor


class TypingFrame(TypedDict):
    type: Literal["typing"]
    conversation: Id


class SyncFrame(TypedDict):
    type: Literal["sync"]
    after: Cursor
    since_rev: NotRequired[
        Annotated[
            int,
            Field(
                ge=0,
                le=2**63 - 1,
                description="The highest rev the client has seen: also replay "
                "the edits and deletions it missed.",
            ),
        ]
    ]


class PresenceFrame(TypedDict):
    type: Literal["presence"]
    state: Literal["active", "idle"]


class PingFrame(TypedDict):
    type: Literal["ping"]


# Server to client


class MessageAckFrame(TypedDict):
    type: Literal["message.ack"]
    client_id: str
    message: Annotated[MessageObject, Field(description="The first of `messages`.")]
    messages: Annotated[
        list[MessageObject],
        Field(description="Every message the send created (one per copy)."),
    ]


class MessageUpdatedFrame(TypedDict):
    """A message was edited or deleted: its new state."""

    type: Literal["message.updated"]
    message: MessageObject


class MessageNewFrame(TypedDict):
    type: Literal["message.new"]
    message: MessageObject


class ReceiptFrame(TypedDict):
    type: Literal["receipt"]
    conversation: int
    user: str
    up_to: int


class TypingEventFrame(TypedDict):
    type: Literal["typing"]
    conversation: int
    user: str


class SyncBatchFrame(TypedDict):
    type: Literal["sync.batch"]
    messages: Annotated[
        list[MessageObject], Field(max_length=PAGE_LIMIT, description="Ascending.")
    ]
    more: bool
    changed: NotRequired[
        Annotated[
            list[MessageObject],
            Field(
                description="With `since_rev`: messages with id <= after whose "
                "rev > since_rev, in their current state, ascending by rev."
            ),
        ]
    ]


class PongFrame(TypedDict):
    type: Literal["pong"]


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: str
    detail: str
    client_id: NotRequired[str]


CLIENT_FRAMES: dict[str, type] = {
    "message.send": MessageSendFrame,
    "message.edit": MessageEditFrame,
    "message.delete": MessageDeleteFrame,
    "message.read": MessageReadFrame,
    "typing": TypingFrame,
    "sync": SyncFrame,
    "presence": PresenceFrame,
    "ping": PingFrame,
}

SERVER_FRAMES: dict[str, type] = {
    "message.ack": MessageAckFrame,
    "message.new": MessageNewFrame,
    "message.updated": MessageUpdatedFrame,
    "receipt": ReceiptFrame,
    "typing": TypingEventFrame,
    "sync.batch": SyncBatchFrame,
    "pong": PongFrame,
    "error": ErrorFrame,
}

# Every `code` an error frame or an HTTP error body may carry.
ERROR_CODES: dict[str, str] = {
    "bad_request": "malformed frame, missing or invalid field",
    "not_member": "a recipient is not an active member of this community",
    "not_found": "no such conversation visible to you (missing and someone "
    "else's alike)",
    "too_long": "a body or a frame over its limit",
    "rate_limited": "too many frames of this kind; slow down",
    "blocked": "a participant does not accept your messages",
    "forbidden": "you are no longer an active member of this community",
    "not_allowed": "editing or deleting a message that is visible to you but not yours",
    "edit_window_closed": "the edit window of this message has passed",
    "bad_attachment": "an attachment id that is not your unused upload",
    "too_large": "an upload over ATTACHMENT_MAX_BYTES (HTTP 413)",
    "unsupported_type": "an upload that is not JPEG, PNG, WebP or PDF (HTTP 400)",
    "unavailable": "the database did not answer; retry with the same client_id",
    "internal": "an unexpected server error; retry",
}

# Close codes the server uses, besides the standard ones.
CLOSE_CODES: dict[int, str] = {
    4403: "access revoked: logout, suspension, removal, deactivation or a "
    "password change",
    4429: "the client kept sending frames that earned errors",
    4408: "the client stopped reading: about 1 MiB of frames waited for it",
}
