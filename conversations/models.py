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

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    community = models.ForeignKey(
        Community, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
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
