"""Access changes: memberships, logout. Each closes the sockets it affects;
the end of a membership also ends its reply-by-email addresses (mail/tokens.py)."""

from __future__ import annotations

import hashlib

from django.db import transaction
from django.utils import timezone

from .. import events
from ..mail.tokens import mail_tokens_revoke
from ..models import Community, Membership, Revocation, User


def session_hash(session_key: str) -> str:
    """What we store and signal instead of a session key (never a token)."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def membership_suspend(*, membership: Membership) -> None:
    """Suspend a membership; the resident's sockets there close at once."""
    _membership_set_status(membership, Membership.Status.SUSPENDED)


def membership_reactivate(*, membership: Membership) -> None:
    _membership_set_status(membership, Membership.Status.ACTIVE)


def membership_remove(*, membership: Membership) -> None:
    """Delete a membership; the resident's sockets there close at once."""
    with transaction.atomic():
        user_id, community_id = membership.user_id, membership.community_id
        membership.delete()
        _revoke(user_id=user_id, community_id=community_id)
        mail_tokens_revoke(user_id=user_id, community_id=community_id)


def _membership_set_status(membership: Membership, status: str) -> None:
    with transaction.atomic():
        membership.status = status
        membership.save(update_fields=["status"])
        if status != Membership.Status.ACTIVE:
            _revoke(user_id=membership.user_id, community_id=membership.community_id)
            mail_tokens_revoke(
                user_id=membership.user_id, community_id=membership.community_id
            )


def resident_revoke_access(*, user_id: int) -> None:
    """A resident deactivated or deleted: close all of their sockets."""
    with transaction.atomic():
        _revoke(user_id=user_id)
        mail_tokens_revoke(user_id=user_id)


def session_revoke(*, user_id: int, session_key: str) -> None:
    """A logout: close the sockets opened with that session."""
    with transaction.atomic():
        _revoke(user_id=user_id, session=session_hash(session_key))


def sessions_revoke_others(*, user_id: int, keep_session_key: str | None) -> None:
    """A password change or reset: close every socket of the resident but
    those of the session that made the change (None: keep none)."""
    with transaction.atomic():
        _revoke(
            user_id=user_id,
            keep=session_hash(keep_session_key) if keep_session_key else "",
        )


def _revoke(
    *,
    user_id: int,
    community_id: int | None = None,
    session: str = "",
    keep: str = "",
) -> None:
    revocation = Revocation.objects.create(
        user_id=user_id,
        community_id=community_id,
        session_hash=session,
        keep_session_hash=keep,
        created_at=timezone.now(),
    )
    # Immediate signal through the layer; the Revocation row is the guarantee
    # (every process polls it), for a layer outage or another process.
    events.send_on_commit(
        {
            "type": "access.revoked",
            "revocation": revocation.pk,
            "community_id": community_id,
            "session": session,
            "keep": keep,
            "at": revocation.created_at.timestamp(),
        },
        user_ids=[user_id],
        community_id=None,
    )


def community_create(*, slug: str, name: str) -> tuple[Community, bool]:
    """Create a community (idempotent: an existing slug keeps its row)."""
    community, created = Community.objects.get_or_create(
        slug=slug, defaults={"name": name}
    )
    if not created and name and community.name != name:
        community.name = name
        community.save(update_fields=["name"])
    return community, created


def resident_add(
    *,
    community: Community,
    username: str,
    email: str,
    password: str | None = None,
    display_name: str | None = None,
) -> tuple[User, bool]:
    """Create the user if needed and make them an active member (idempotent).

    Returns the user and whether anything was created (user or membership).
    """
    with transaction.atomic():
        user, user_created = User.objects.get_or_create(
            username=username, defaults={"email": email}
        )
        fields: list[str] = []
        if email and user.email != email:
            user.email = email
            fields.append("email")
        if display_name is not None and user.display_name != display_name:
            user.display_name = display_name
            fields.append("display_name")
        if password:
            user.set_password(password)
            fields.append("password")
        elif user_created:
            user.set_unusable_password()
            fields.append("password")
        if fields:
            user.save(update_fields=fields)
        membership, membership_created = Membership.objects.get_or_create(
            community=community, user=user
        )
        if not membership.is_active:
            membership.status = Membership.Status.ACTIVE
            membership.save(update_fields=["status"])
    return user, user_created or membership_created
