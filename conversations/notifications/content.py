"""What a notification says: shared by email and push, per preferences."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings

from ..models import Community, Message, NotificationPreference, User


@dataclass(frozen=True, slots=True)
class Preferences:
    email: bool
    email_include_text: bool
    language: str


def preferences_for(user: User) -> Preferences:
    row = NotificationPreference.objects.filter(user=user).first()
    if row is None:
        return Preferences(email=True, email_include_text=True, language="fr")
    return Preferences(row.email, row.email_include_text, row.language)


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


def conversation_url(message: Message) -> str:
    query = urlencode(
        {"community": message.community.slug, "conversation": message.conversation_id}
    )
    return f"{settings.SITE_URL}/?{query}"


def excerpt(body: str, limit: int) -> str:
    body = " ".join(body.split())
    return body if len(body) <= limit else body[: limit - 1] + "…"
