from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.mail.server import serve


class Command(BaseCommand):
    help = (
        "Receive replies and bounces for REPLY_EMAIL_DOMAIN over SMTP (or LMTP "
        "behind the MX) until SIGTERM. See docs/email.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Default 127.0.0.1.")
        parser.add_argument("--port", type=int, default=8025, help="Default 8025.")
        parser.add_argument(
            "--lmtp", action="store_true", help="Speak LMTP instead of SMTP."
        )

    def handle(
        self, *args: Any, host: str, port: int, lmtp: bool, **options: Any
    ) -> None:
        if not settings.REPLY_EMAIL_DOMAIN:
            raise CommandError(
                "REPLY_EMAIL_DOMAIN is not set: there is no domain to receive for."
            )
        asyncio.run(
            serve(host=host, port=port, lmtp=lmtp, domain=settings.REPLY_EMAIL_DOMAIN)
        )
