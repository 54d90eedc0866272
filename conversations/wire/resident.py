"""HTTP bodies of a resident's own settings and data, declared once beside
the frames (schema.py): notification preferences and quiet hours, push
subscriptions, blocks, erasure, account history, email status, search
parameters and the export document."""

from __future__ import annotations

from typing import Annotated, Literal, NotRequired

from pydantic import ConfigDict, Field
from typing_extensions import TypedDict

from .limits import SEARCH_QUERY_MAX_CHARS
from .schema import AttachmentObject, MessageObject, Timestamp, Username

# HTTP bodies besides the send (the send body is `SendBody`).


ClockTime = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class QuietHours(TypedDict):
    """No push during them; emails that fall due are held to their end."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    start: ClockTime
    end: ClockTime


TimeZone = Annotated[
    str, Field(min_length=1, max_length=64, description="An IANA time zone name.")
]


class PreferencesPatch(TypedDict, total=False):
    """Some notification preferences; the others keep their values."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    email: bool
    email_include_text: bool
    language: Literal["fr", "en"]
    push: bool
    quiet_hours: QuietHours | None
    time_zone: TimeZone


class Preferences(TypedDict):
    email: bool
    email_include_text: bool
    language: Literal["fr", "en"]
    push: bool
    quiet_hours: QuietHours | None
    time_zone: str
    email_status: Annotated[
        Literal["ok", "bouncing"],
        Field(description="Read-only: bouncing once a delivery failed for good."),
    ]


B64Url = Annotated[str, Field(pattern=r"^[A-Za-z0-9_=-]+$")]


class PushKeys(TypedDict):
    p256dh: Annotated[B64Url, Field(min_length=80, max_length=100)]
    auth: Annotated[B64Url, Field(min_length=16, max_length=32)]


class PushSubscriptionBody(TypedDict):
    """A browser's PushSubscription, as `JSON.stringify` gives it."""

    endpoint: Annotated[str, Field(min_length=1, max_length=2000)]
    keys: PushKeys
    expirationTime: NotRequired[int | None]


class EndpointBody(TypedDict):
    endpoint: Annotated[str, Field(max_length=2000)]


class BlockBody(TypedDict):
    username: Username


class EraseBody(TypedDict):
    password: Annotated[str, Field(min_length=1, max_length=4096)]


class PushKeyObject(TypedDict):
    public_key: str


# Accounts (HTTP only)


class AccountEventObject(TypedDict):
    """A change to the resident's account, by whom (GET /api/me/account-events/)."""

    kind: Annotated[
        Literal[
            "email_changed",
            "password_changed",
            "membership_added",
            "membership_suspended",
            "membership_reactivated",
            "membership_removed",
        ],
        Field(description="What changed."),
    ]
    actor: Annotated[
        str,
        Field(
            description='Who: "self", "operator" (a command on the server) or '
            '"staff:<username>" (the admin).'
        ),
    ]
    detail: Annotated[
        str,
        Field(
            description="The community's name for a membership, the new "
            "address masked (j***@e***.org) for an email change; else empty."
        ),
    ]
    created_at: Timestamp


# Email as a channel, inbound half (conversations/mail/, docs/email.md)


class EmailStatusObject(TypedDict):
    """The answer of POST /api/me/email/confirm/."""

    email_status: Annotated[
        Literal["ok", "bouncing"],
        Field(description="ok: notification emails go to the address again."),
    ]


# Search: GET /api/communities/<slug>/search/?q= answers list[MessageObject].


class SearchParams(TypedDict):
    q: Annotated[
        str,
        Field(
            max_length=SEARCH_QUERY_MAX_CHARS,
            pattern=r"\S",
            description="Words that must all be in the body (case and accents "
            "ignored); not empty or only spaces.",
        ),
    ]


# Privacy: the resident's export and erasure (conversations/api/privacy.py,
# docs/privacy.md)


class ExportAccount(TypedDict):
    username: str
    display_name: str
    email: str
    email_status: Literal["ok", "bouncing"]
    date_joined: Timestamp
    last_login: Timestamp | None


class ExportMembership(TypedDict):
    community: Annotated[str, Field(description="The community's slug.")]
    name: str
    status: Literal["active", "suspended"]
    since: Timestamp


class ExportPushSubscription(TypedDict):
    endpoint: str
    created_at: Timestamp


class ExportBlock(TypedDict):
    """A neighbour the resident blocked."""

    username: str
    created_at: Timestamp


class ExportConversation(TypedDict):
    id: int
    community: Annotated[str, Field(description="The community's slug.")]
    participants: Annotated[list[str], Field(description="Sorted by username.")]
    muted: bool
    read_up_to: Annotated[int, Field(description="The resident's read mark.")]
    messages: Annotated[
        list[MessageObject],
        Field(
            description="Ascending by id, in their current state: edited "
            "bodies, deleted messages as tombstones."
        ),
    ]


class ExportDocument(TypedDict):
    """GET /api/me/export/: everything the server holds that is the
    resident's, as one JSON file (never another resident's address)."""

    format: Literal["voisins-export/1"]
    exported_at: Timestamp
    account: ExportAccount
    memberships: list[ExportMembership]
    preferences: Preferences
    push_subscriptions: list[ExportPushSubscription]
    blocks: list[ExportBlock]
    account_events: Annotated[
        list[AccountEventObject], Field(description="Oldest first, all of them.")
    ]
    uploads: Annotated[
        list[AttachmentObject],
        Field(description="Uploads not sent yet (deleted after 24 hours)."),
    ]
    conversations: Annotated[
        list[ExportConversation],
        Field(description="Every conversation the resident takes part in."),
    ]


class ErasureResult(TypedDict):
    """POST /api/me/erase/ (202): the account is erased and signed out."""

    erased: Literal[True]
    username: Annotated[
        str,
        Field(description='What others now see instead: "former-resident-<n>".'),
    ]
    messages_deleted: Annotated[
        int, Field(description="Your messages now deleted for everyone.")
    ]
