"""What a notification says: shared by email and push, per preferences."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import time
from urllib.parse import urlencode, urlsplit

from django.conf import settings

from ..models import Community, Message, NotificationPreference, User

DEFAULT_TIME_ZONE = "Europe/Paris"


@dataclass(frozen=True, slots=True)
class Preferences:
    """A resident's choices; the defaults are those of a resident who made none."""

    email: bool = True
    email_include_text: bool = True  # in emails and pushes alike
    language: str = "fr"
    push: bool = True
    quiet_start: time | None = None  # quiet hours: both set, or neither
    quiet_end: time | None = None
    time_zone: str = DEFAULT_TIME_ZONE


def preferences_of(row: NotificationPreference | None) -> Preferences:
    if row is None:
        return Preferences()
    return Preferences(
        email=row.email,
        email_include_text=row.email_include_text,
        language=row.language,
        push=row.push,
        quiet_start=row.quiet_start,
        quiet_end=row.quiet_end,
        time_zone=row.time_zone,
    )


def preferences_for(user: User) -> Preferences:
    return preferences_of(NotificationPreference.objects.filter(user=user).first())


def shows_text(preferences: Preferences, community: Community) -> bool:
    """Whether message text may appear in an email or push."""
    return preferences.email_include_text and not community.force_hide_text


def safe_name(name: str, limit: int = 80) -> str:
    """A display name fit for a header or a notification title: one line, no
    control or format characters (no CR/LF header injection, no bidi tricks),
    and no RFC 2047 encoded word, which a mail client would decode into
    exactly those characters in the subject."""
    cleaned = "".join(
        " " if unicodedata.category(ch).startswith(("C", "Z")) else ch for ch in name
    )
    cleaned = " ".join(cleaned.split()).replace("=?", "= ?")
    return cleaned[:limit] or "?"


def site_domain() -> str:
    """The host name of SITE_URL, for Message-ID and List-Id."""
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def conversation_url(message: Message) -> str:
    query = urlencode(
        {"community": message.community.slug, "conversation": message.conversation_id}
    )
    return f"{settings.SITE_URL}/?{query}"


def excerpt(body: str, limit: int) -> str:
    body = " ".join(body.split())
    return body if len(body) <= limit else body[: limit - 1] + "…"
