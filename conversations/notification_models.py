"""The notification side of the record: residents' preferences, push
endpoints, the outbox and its email batches, workers' heartbeats and the
tokens of reply and bounce addresses. Re-exported by conversations.models."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class NotificationPreference(models.Model):
    """A resident's choices; they apply to emails and pushes alike."""

    class Language(models.TextChoices):
        FR = "fr", "Français"
        EN = "en", "English"

    user = models.OneToOneField(
        "conversations.User",
        on_delete=models.CASCADE,
        related_name="notification_preference",
    )
    email = models.BooleanField(default=True)
    push = models.BooleanField(default=True)
    email_include_text = models.BooleanField(default=True)
    language = models.CharField(
        max_length=2, choices=Language.choices, default=Language.FR
    )
    # Quiet hours in the resident's time zone: no push, emails held to the end.
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, default="Europe/Paris")

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"


class PushSubscription(models.Model):
    """A browser's Web Push endpoint; it belongs to the last resident who posted it."""

    user = models.ForeignKey(
        "conversations.User",
        on_delete=models.CASCADE,
        related_name="push_subscriptions",
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

    recipient = models.ForeignKey(
        "conversations.User", on_delete=models.CASCADE, related_name="+"
    )
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

    recipient = models.ForeignKey(
        "conversations.User", on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(
        "conversations.Message", on_delete=models.CASCADE, related_name="+"
    )
    # None when only a push is owed (email off, bouncing, or no address).
    batch = models.ForeignKey(
        EmailBatch,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="items",
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


class MailToken(models.Model):
    """The secret in a reply address (reply+<token>@domain), bound to one
    recipient and one conversation, or in a bounce address (bounce+<token>),
    bound to one recipient. Deleted with the membership or the account."""

    class Kind(models.TextChoices):
        REPLY = "reply", "reply"
        BOUNCE = "bounce", "bounce"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    token = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(
        "conversations.User", on_delete=models.CASCADE, related_name="+"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "user", "conversation"], name="mail_token_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} token of user {self.user_id}"
