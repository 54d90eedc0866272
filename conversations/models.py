"""The record: communities, memberships, conversations and their messages."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A resident. `display_name` is what neighbours see next to messages."""

    display_name = models.CharField(max_length=150, blank=True)

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
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["sender", "client_id"], name="message_idempotency"
            )
        ]
        indexes = [
            models.Index(fields=["community", "id"]),
            models.Index(fields=["conversation", "id"]),
        ]

    def __str__(self) -> str:
        # Never the body: this string can reach logs and the admin.
        return f"message {self.pk} in conversation {self.conversation_id}"


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


class NotificationPreference(models.Model):
    """A resident's choices; they apply to emails and pushes alike."""

    class Language(models.TextChoices):
        FR = "fr", "Français"
        EN = "en", "English"

    user = models.OneToOneField(
        User, on_delete=models.CASCADE, related_name="notification_preference"
    )
    email = models.BooleanField(default=True)
    email_include_text = models.BooleanField(default=True)
    language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.FR
    )

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"


class PushSubscription(models.Model):
    """A browser's Web Push endpoint; it belongs to the last resident who posted it."""

    user = models.ForeignKey(
        User, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.URLField(max_length=2000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"push subscription {self.pk} of user {self.user_id}"


class EmailBatch(models.Model):
    """One notification email to one resident, covering a window of messages."""

    class State(models.TextChoices):
        PENDING = "pending", "pending"  # due_at not reached, or waiting to retry
        SENDING = "sending", "sending"  # handed to SMTP; a crash here resends
        SENT = "sent", "sent"
        SKIPPED = "skipped", "skipped"  # nothing left to say at due time

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING
    )
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["recipient", "state", "due_at"])]

    def __str__(self) -> str:
        return f"email batch {self.pk} for user {self.recipient_id} ({self.state})"


class PendingNotification(models.Model):
    """The outbox: a recipient to notify about a message, written with it."""

    recipient = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(
        EmailBatch, on_delete=models.CASCADE, related_name="items"
    )
    created_at = models.DateTimeField(default=timezone.now)
    pushed = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "message"], name="notification_once"
            )
        ]

    def __str__(self) -> str:
        return f"notify user {self.recipient_id} of message {self.message_id}"


class WorkerHeartbeat(models.Model):
    """A notification worker's sign of life."""

    worker_id = models.CharField(max_length=64, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"worker {self.worker_id}"
