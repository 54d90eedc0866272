"""Account emails: the invitation, and the notice to a replaced address.

They take the notification emails' path: Django's email backend and
settings, DEFAULT_FROM_EMAIL, SITE_URL for links, the resident's language.
"""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django.utils import timezone

from ..models import AccountEvent, User
from ..notifications.content import preferences_for, safe_name
from ..notifications.outcomes import Done, Outcome, Retry
from .actor import OPERATOR, SELF

logger = logging.getLogger(__name__)

LANGUAGES = ("fr", "en")
SUBJECTS = {
    "invitation": {
        "fr": "Votre accès à Voisins · {community}",
        "en": "Your access to Voisins · {community}",
    },
    "email_changed": {
        "fr": "L'adresse e-mail de votre compte Voisins a été changée",
        "en": "The email address of your Voisins account was changed",
    },
}
ACTORS = {
    "fr": {OPERATOR: "l'exploitant du site", SELF: "vous-même"},
    "en": {OPERATOR: "the site's operator", SELF: "yourself"},
}
STAFF = {
    "fr": "un administrateur du site ({name})",
    "en": "a site administrator ({name})",
}


def language_of(user: User) -> str:
    language = preferences_for(user).language
    return language if language in LANGUAGES else "fr"


def account_email(
    *, user: User, kind: str, to: str, context: dict[str, object], **subject: str
) -> EmailMessage:
    """A plain-text account email in the resident's language."""
    language = language_of(user)
    body = render_to_string(
        f"accounts/{kind}_{language}.txt",
        {"name": safe_name(user.shown_name), "username": user.username, **context},
    )
    return EmailMessage(
        subject=SUBJECTS[kind][language].format(**subject),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        headers={"Auto-Submitted": "auto-generated"},
    )


def actor_words(actor: str, language: str) -> str:
    """ "staff:bob" -> "a site administrator (bob)", in the language."""
    if actor.startswith("staff:"):
        return STAFF[language].format(name=safe_name(actor.removeprefix("staff:")))
    return ACTORS[language].get(actor, actor)


def email_change_notice_send(
    *, event_id: int, old_address: str, attempts: int
) -> Outcome:
    """Tell the replaced address that it was replaced, by whom, and the new
    one masked; Retry when SMTP fails."""
    event = AccountEvent.objects.select_related("user").filter(pk=event_id).first()
    if event is None:  # the account was deleted since
        return Done("skipped")
    language = language_of(event.user)
    email = account_email(
        user=event.user,
        kind="email_changed",
        to=old_address,
        context={
            "who": actor_words(event.actor, language),
            "new_address": event.detail,
            "when": timezone.localtime(event.created_at).strftime("%d/%m/%Y %H:%M"),
            "app_url": f"{settings.SITE_URL}/",
        },
    )
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("email change notice %s: SMTP failed: %r", event_id, error)
        return Retry("retry", attempts=attempts)
    return Done("sent")
