from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from conversations.notifications.push import generate_vapid_keys


class Command(BaseCommand):
    help = "Print a new VAPID key pair as environment lines for Web Push."

    def handle(self, *args: Any, **options: Any) -> None:
        private, public = generate_vapid_keys()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"VAPID_PUBLIC_KEY={public}")
        self.stdout.write("VAPID_SUBJECT=mailto:admin@example.org")
