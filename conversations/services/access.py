"""Access changes: memberships, logout. Each closes the sockets it affects.

Membership changes are written to the resident's account history with who
made them: `actor` is "staff:<username>" from the admin, and "operator" (the
default) from the management commands. The end of a membership also ends its
reply-by-email addresses (mail/tokens.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from .. import events
from ..accounts.actor import OPERATOR
from ..mail.tokens import mail_tokens_revoke
from ..models import Community, Membership, Revocation, User
from .account_events import EventKind, account_event_record


def session_hash(session_key: str) -> str:
    """What we store and signal instead of a session key (never a token)."""
    return hashlib.sha256(session_key.encode()).hexdigest()


def membership_suspend(*, membership: Membership, actor: str = OPERATOR) -> None:
    """Suspend a membership; the resident's sockets there close at once."""
    _membership_set_status(membership, Membership.Status.SUSPENDED, actor)


def membership_reactivate(*, membership: Membership, actor: str = OPERATOR) -> None:
    _membership_set_status(membership, Membership.Status.ACTIVE, actor)


def membership_add(
    *, community: Community, user: User, actor: str = OPERATOR
) -> tuple[Membership, bool]:
    """Make the resident an active member (a suspended one is reactivated);
    whether the membership is new."""
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(
            community=community, user=user
        )
        if created:
            _membership_event(membership, EventKind.MEMBERSHIP_ADDED, actor)
        elif not membership.is_active:
            _membership_set_status(membership, Membership.Status.ACTIVE, actor)
    return membership, created


def membership_remove(*, membership: Membership, actor: str = OPERATOR) -> None:
    """Delete a membership; the resident's sockets there close at once."""
    with transaction.atomic():
        _membership_event(membership, EventKind.MEMBERSHIP_REMOVED, actor)
        user_id, community_id = membership.user_id, membership.community_id
        membership.delete()
        _revoke(user_id=user_id, community_id=community_id)
        mail_tokens_revoke(user_id=user_id, community_id=community_id)


def _membership_set_status(membership: Membership, status: str, actor: str) -> None:
    active = status == Membership.Status.ACTIVE
    with transaction.atomic():
        if membership.status != status:
            kind = (
                EventKind.MEMBERSHIP_REACTIVATED
                if active
                else EventKind.MEMBERSHIP_SUSPENDED
            )
            _membership_event(membership, kind, actor)
        membership.status = status
        membership.save(update_fields=["status"])
        if not active:
            _revoke(user_id=membership.user_id, community_id=membership.community_id)
            mail_tokens_revoke(
                user_id=membership.user_id, community_id=membership.community_id
            )


def _membership_event(membership: Membership, kind: EventKind, actor: str) -> None:
    """The resident sees which community and who; the name, not the slug."""
    account_event_record(
        user_id=membership.user_id,
        kind=kind,
        actor=actor,
        detail=membership.community.name,
    )


def resident_revoke_access(*, user_id: int) -> None:
    """A resident deactivated or deleted: close all of their sockets."""
    with transaction.atomic():
        _revoke(user_id=user_id)
        mail_tokens_revoke(user_id=user_id)


def session_revoke(
    *, user_id: int, session_key: str, earlier_hashes: Iterable[str] = ()
) -> None:
    """A logout: close the sockets opened with that session, including
    those opened before a password change gave it a new key (the hashes of
    its earlier keys)."""
    with transaction.atomic():
        for hashed in sorted({session_hash(session_key), *earlier_hashes}):
            _revoke(user_id=user_id, session=hashed)


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
    actor: str = OPERATOR,
    password: str | None = None,
    display_name: str | None = None,
) -> tuple[User, bool]:
    """Create the user if needed and make them an active member (idempotent).

    Returns the user and whether anything was created (user or membership).
    """
    # Password hashing is slow on purpose: do it before the transaction (on
    # SQLite a transaction holds the database's write lock from its start),
    # and not at all for the password the resident already has, so that a
    # repeated import neither rehashes nor counts as a password change.
    new_hash = None
    if password:
        existing = User.objects.filter(username=username).first()
        if existing is None or not existing.check_password(password):
            new_hash = make_password(password)
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
        if new_hash is not None:
            user.password = new_hash
            fields.append("password")
        elif user_created and not password:
            user.set_unusable_password()
            fields.append("password")
        if fields:
            user.save(update_fields=fields)
        _, membership_created = membership_add(
            community=community, user=user, actor=actor
        )
    return user, user_created or membership_created
