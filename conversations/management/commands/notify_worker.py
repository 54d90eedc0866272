from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from conversations.notifications.worker import run_worker


class Command(BaseCommand):
    help = (
        "Run the notification worker (emails and Web Push) until SIGTERM, "
        "which lets the current jobs finish. Several may run at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="Seconds between polls when the queue is empty (default 0.5).",
        )
        parser.add_argument(
            "--email-threads",
            type=int,
            default=None,
            help="Threads sending emails (default NOTIFY_EMAIL_THREADS, 2).",
        )
        parser.add_argument(
            "--push-threads",
            type=int,
            default=None,
            help="Threads sending pushes (default NOTIFY_PUSH_THREADS, 4).",
        )

    def handle(
        self,
        *args: Any,
        interval: float,
        email_threads: int | None,
        push_threads: int | None,
        **options: Any,
    ) -> None:
        run_worker(
            interval=interval, email_threads=email_threads, push_threads=push_threads
        )
