from __future__ import annotations

from django.db import models
from django.utils import timezone


class ChatMessage(models.Model):
    """One message, as the tutorial would store it."""

    sender = models.CharField(max_length=150)
    recipients = models.TextField()
    client_id = models.CharField(max_length=64)
    body = models.TextField()
    sent_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.sender}: {self.client_id}"
