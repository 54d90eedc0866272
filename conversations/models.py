"""The record: communities, memberships, conversations and their messages."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

# Kept in their own module (the notification side of the record); imported
# here so that they belong to this app and keep their import path.
from .notification_models import EmailBatch as EmailBatch
from .notification_models import MailToken as MailToken
from .notification_models import NotificationPreference as NotificationPreference
from .notification_models import PendingNotification as PendingNotification
from .notification_models import PushSubscription as PushSubscription
from .notification_models import WorkerHeartbeat as WorkerHeartbeat


class User(AbstractUser):
    """A resident. `display_name` is what neighbours see next to messages."""

    class EmailStatus(models.TextChoices):
        OK = "ok", "ok"
        # A delivery status notification said the address fails for good:
        # no more email until the resident changes or confirms it.
        BOUNCING = "bouncing", "bouncing"

    display_name = models.CharField(max_length=150, blank=True)
    email_status = models.CharField(
        max_length=16, choices=EmailStatus.choices, default=EmailStatus.OK
    )
    # Set when the account was erased: the row stays as "former-resident-<n>"
    # so that others' conversations keep their shape, with nothing personal.
    erased_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def shown_name(self) -> str:
        return self.display_name or self.username


class Community(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Some neighbourhoods discuss absences and addresses: they can keep message
    # text out of notification emails and pushes whatever residents choose.
    force_hide_text = models.BooleanField(default=False)
    # Messages older than this are deleted for everyone (purge_expired);
    # None keeps them.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "communities"

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        SUSPENDED = "suspended", "suspended"

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["community", "user"], name="membership_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.community} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class Conversation(models.Model):
    """A fixed participant set inside one community."""

    community = models.ForeignKey(
        Community, on_delete=models.CASCADE, related_name="conversations"
    )
    # sha256 of the sorted participant ids: the same set in the same community
    # always maps to this one row (unique constraint), whatever its size.
    participant_key = models.CharField(max_length=64)
    last_message = models.ForeignKey(
        "Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["community", "participant_key"],
                name="conversation_unique_participants",
            )
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk} in {self.community_id}"


class Participant(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="participations"
    )
    # Highest message id this resident has read in the conversation.
    last_read_id = models.BigIntegerField(default=0)
    # No email or push for this conversation (live delivery is unchanged).
    muted = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "user"], name="participant_unique"
            )
        ]
        indexes = [models.Index(fields=["user", "conversation"])]

    def __str__(self) -> str:
        return f"user {self.user_id} in conversation {self.conversation_id}"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    # Denormalised from the conversation so that `sync` reads one index range.
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    sender = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    client_id = models.CharField(max_length=64)
    # Which private copy of a `separate` send this is (0 otherwise): the copies
    # share the client_id, and a resend answers with all of them.
    copy = models.PositiveSmallIntegerField(default=0)
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)
    # The wire's `rev`: increases server-wide at creation and at each edit or
    # deletion, so a client can ask for the changes it missed (`sync` with
    # `since_rev`). None until the first change: a new message's rev is its
    # id, and a change draws the next value of the id sequence (revs.py), so
    # the send path writes nothing more.
    rev = models.BigIntegerField(null=True, blank=True)
    edited_at = models.DateTimeField(null=True, blank=True)
    # A deleted message keeps its place (id, sender, time, rev) and nothing
    # else: the body is emptied in the same transaction, not hidden.
    deleted = models.BooleanField(default=False)
    # How many attachments it has: readers fetch attachment rows only for
    # the messages that have some.
    attachment_count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "client_id", "copy"], name="message_idempotency"
            )
        ]
        indexes = [
            models.Index(fields=["community", "id"]),
            models.Index(fields=["conversation", "id"]),
            models.Index(fields=["community", "rev"]),
            models.Index(fields=["sent_at"]),
        ]

    def __str__(self) -> str:
        # Never the body: this string can reach logs and the admin.
        return f"message {self.pk} in conversation {self.conversation_id}"


def attachment_path(instance: Attachment, filename: str) -> str:
    """Storage names that reveal nothing: a random name per upload."""
    return f"attachments/{instance.key}/{filename}"


class Attachment(models.Model):
    """A photo or document uploaded by a resident, then sent with a message.

    Images are stored re-encoded (no metadata) with a thumbnail. An upload
    not used within a day is deleted, and a message's attachments go with it.
    """

    uploader = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    community = models.ForeignKey(Community, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    # Random, unguessable: the folder of the stored files.
    key = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    file = models.FileField(upload_to=attachment_path, max_length=255)
    thumbnail = models.FileField(upload_to=attachment_path, max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["message", "created_at"])]

    def __str__(self) -> str:
        # Never the file name: it can say what the photo shows.
        return f"attachment {self.pk} of message {self.message_id}"


class Revocation(models.Model):
    """An access change that must close open sockets (logout, suspension).

    Written in the same transaction as the change; every server process polls
    this table, so sockets close even when the channel layer is down or the
    change came from another process (a management command).
    """

    # No database constraint: a deleted resident's or community's revocation
    # must outlive the row it names, long enough to close the sockets.
    user = models.ForeignKey(
        User, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    community = models.ForeignKey(
        Community,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # sha256 of the session key for a logout; empty for membership changes.
    session_hash = models.CharField(max_length=64, blank=True)
    # Every session but this one (a password change keeps the session that
    # made it).
    keep_session_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"revocation {self.pk} for user {self.user_id}"


class Block(models.Model):
    """`blocker` no longer receives messages from `blocked` (any community)."""

    blocker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    blocked = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique")
        ]

    def __str__(self) -> str:
        return f"user {self.blocker_id} blocks user {self.blocked_id}"


class Invitation(models.Model):
    """A one-time link for a resident to choose a password (7 days); a new
    invitation replaces the previous one."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"invitation of user {self.user_id}"


class AccountEvent(models.Model):
    """What was done to a resident's account, shown to the resident: a
    change of email, password or membership by staff or an operator."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32)
    # Who did it: "staff:<username>", "operator", or "self".
    actor = models.CharField(max_length=160)
    detail = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"{self.kind} on user {self.user_id}"


class Throttle(models.Model):
    """One counted attempt (a failed login, a reset email) for a hashed key,
    shared by every server process through the database."""

    scope = models.CharField(max_length=32)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["scope", "key_hash", "created_at"])]

    def __str__(self) -> str:
        return f"{self.scope} attempt"


class StoredFileDeletion(models.Model):
    """A stored file whose Attachment rows were deleted: written in the same
    transaction, removed once the file is gone (or still named by another
    row). What a crash or a storage error leaves here is finished by the
    worker (services/attachments.py), so no file outlives its rows for long.
    """

    # A random storage name (attachments/<key>/file.<ext>): nothing personal.
    name = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"stored file deletion {self.pk}"
