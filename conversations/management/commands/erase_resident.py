from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.models import User
from conversations.services.attachments import stored_files_retry
from conversations.services.erasure import resident_erase


class Command(BaseCommand):
    help = (
        "Erase a resident's account for good (a written erasure request): "
        "their messages are deleted for everyone, they appear as "
        "former-resident-<n>. Running it again on former-resident-<n> "
        "finishes what a crash left (stored files)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--yes", action="store_true", help="do not ask for confirmation"
        )

    def handle(self, *args: Any, username: str, yes: bool, **options: Any) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No resident {username!r}.")
        if not yes:
            answer = input(
                f"Erase {username} for good? Their messages are deleted for "
                "everyone. Type 'yes' to go on: "
            )
            if answer.strip().lower() != "yes":
                raise CommandError("Nothing was erased.")
        erasure = resident_erase(user_id=user.pk)
        leftovers = stored_files_retry(min_age=timedelta(0))
        self.stdout.write(
            f"Erased {username}: now {erasure.username}.\n"
            f"  messages deleted for everyone: {erasure.messages}\n"
            f"  memberships removed: {erasure.memberships}\n"
            f"  unsent uploads deleted: {erasure.uploads}\n"
            f"  stored files deleted: {erasure.files}\n"
            f"  sessions ended: {erasure.sessions}\n"
            "  also deleted: preferences, push subscriptions, pending "
            "notifications, reply addresses, invitation, account history, "
            "blocks made\n"
            f"  leftover file deletions finished: {leftovers}"
        )
