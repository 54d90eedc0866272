from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from conversations.notifications.worker import run_worker


class Command(BaseCommand):
    help = (
        "Run the notification worker (emails and Web Push) until SIGTERM. "
        "Several may run at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="Seconds between polls when the queue is empty (default 0.5).",
        )

    def handle(self, *args: Any, interval: float, **options: Any) -> None:
        run_worker(interval=interval)
