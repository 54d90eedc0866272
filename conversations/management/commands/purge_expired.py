from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from conversations.services.retention import PURGE_BATCH, messages_purge_expired


class Command(BaseCommand):
    help = (
        "Delete, in every community with a retention period, the messages "
        "older than it and their attachments (idempotent; the notification "
        "worker runs it hourly)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=PURGE_BATCH,
            help="messages per transaction (default %(default)s)",
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        purge = messages_purge_expired(batch_size=max(1, batch_size))
        self.stdout.write(
            f"Purged {purge.messages} expired messages and {purge.files} stored files."
        )
