"""Reply by email, outbound half: where replies and bounces of a
notification email go (docs/email.md).

With REPLY_EMAIL_DOMAIN set, each notification email gets
- Reply-To: reply+<token>@<domain>, the token naming the recipient and one
  conversation. An email about several conversations names the one of its
  newest message, and says so in its text: a reply must go to exactly one
  conversation, and the newest is the one most likely answered.
- the envelope sender (Return-Path) bounce+<token>@<domain>, the token naming
  the recipient, so that a delivery failure comes back to `inbound_mail`.
  The visible From stays DEFAULT_FROM_EMAIL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formataddr
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMessage

from ..mail.addresses import address_of
from ..mail.tokens import mail_token_for
from ..models import MailToken


class Item(Protocol):
    """What a route needs of an email's item (email.EmailItem)."""

    @property
    def conversation_id(self) -> int: ...
    @property
    def participants(self) -> str: ...
    @property
    def community(self) -> str: ...


@dataclass(frozen=True, slots=True)
class ReplyRoute:
    reply_to: str
    envelope_from: str
    # For the email's text: the conversation a reply goes to.
    participants: str
    community: str
    several: bool  # the email is about more than that conversation


def reply_route(*, recipient_id: int, items: Sequence[Item]) -> ReplyRoute | None:
    """The addresses of one notification email (None without a reply domain)."""
    domain = settings.REPLY_EMAIL_DOMAIN
    if not domain or not items:
        return None
    newest = items[-1]
    reply_token = mail_token_for(
        kind=MailToken.Kind.REPLY,
        user_id=recipient_id,
        conversation_id=newest.conversation_id,
    )
    bounce_token = mail_token_for(
        kind=MailToken.Kind.BOUNCE, user_id=recipient_id, conversation_id=None
    )
    return ReplyRoute(
        reply_to=formataddr(
            (
                f"{newest.participants} (Voisins)",
                address_of(MailToken.Kind.REPLY, reply_token, domain),
            )
        ),
        envelope_from=address_of(MailToken.Kind.BOUNCE, bounce_token, domain),
        participants=newest.participants,
        community=newest.community,
        several=len({item.conversation_id for item in items}) > 1,
    )


def reply_route_apply(email: EmailMessage, route: ReplyRoute | None) -> None:
    """Set Reply-To and the envelope sender, keeping the visible From.

    Django's SMTP backend gives `from_email` to the server as MAIL FROM and
    writes the From header from `extra_headers["From"]` when there is one
    (tests/integration/test_reply_outbound.py pins both)."""
    if route is None:
        return
    email.extra_headers.setdefault("From", email.from_email)
    email.from_email = route.envelope_from
    email.reply_to = [route.reply_to]
