"""Invitations: a one-time link, valid 7 days, for a resident who has no
password yet to choose one. Only a hash of the token is stored, and a new
invitation replaces the previous one (its link stops working)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import smtplib
from datetime import timedelta
from enum import StrEnum
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from ..accounts.mail import account_email
from ..models import Community, Invitation, User
from ..selectors.access import community_first_for_user

logger = logging.getLogger(__name__)

INVITATION_LIFETIME = timedelta(days=7)


class InviteResult(StrEnum):
    SENT = "sent"
    HAS_PASSWORD = "already has a password"  # noqa: S105 (not a secret)
    NO_ADDRESS = "no email address or inactive"
    FAILED = "email not accepted by the mail server"


class LinkState(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    # Used, replaced by a newer invitation, or never issued: we cannot tell.
    UNKNOWN = "unknown"


def token_hash(token: str) -> str:
    """The token is 256 random bits: a plain hash cannot be reversed."""
    return hashlib.sha256(token.encode()).hexdigest()


def resident_invite(*, user: User, community: Community | None) -> InviteResult:
    """Email the resident a new link to choose a password, unless they have
    one. `community` is where the link lands (else their first one).

    The invitation is committed before the email goes out: a transaction
    held open during SMTP would block every other writer."""
    if user.has_usable_password():
        return InviteResult.HAS_PASSWORD
    if not user.email or not user.is_active or user.erased_at is not None:
        return InviteResult.NO_ADDRESS
    community = community or community_first_for_user(user_id=user.pk)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    Invitation.objects.update_or_create(
        user=user,
        defaults={
            "token_hash": token_hash(token),
            "created_at": now,
            "expires_at": now + INVITATION_LIFETIME,
        },
    )
    path = reverse("invitation", kwargs={"token": token})
    query = f"?{urlencode({'community': community.slug})}" if community else ""
    email = account_email(
        user=user,
        kind="invitation",
        to=user.email,
        context={
            "url": f"{settings.SITE_URL}{path}{query}",
            "community": community.name if community else "Voisins",
        },
        community=community.name if community else "Voisins",
    )
    try:
        email.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("invitation of user %s: SMTP failed: %r", user.pk, error)
        return InviteResult.FAILED
    return InviteResult.SENT


def invitation_link_state(*, token: str) -> tuple[LinkState, User | None]:
    """Whether a link can still set a password, and for whom."""
    invitation = (
        Invitation.objects.select_related("user")
        .filter(token_hash=token_hash(token))
        .first()
    )
    if invitation is None or not _usable_by(invitation.user):
        return LinkState.UNKNOWN, None
    if invitation.expires_at <= timezone.now():
        return LinkState.EXPIRED, None
    return LinkState.VALID, invitation.user


def invitation_accept(*, token: str, password: str) -> User | None:
    """Set the (validated) password and spend the link; None when the link
    stopped being valid meanwhile (used in another tab, replaced, expired)."""
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=token_hash(token), expires_at__gt=timezone.now())
            .first()
        )
        if invitation is None or not _usable_by(invitation.user):
            return None
        user = invitation.user
        user.set_password(password)
        user.save(update_fields=["password"])
        invitation.delete()
    return user


def _usable_by(user: User) -> bool:
    """A resident who chose a password meanwhile (a reset) has used it up."""
    return user.is_active and user.erased_at is None and not user.has_usable_password()
