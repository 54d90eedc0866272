from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.models import Membership
from conversations.services.access import membership_reactivate, membership_suspend


class Command(BaseCommand):
    help = "Suspend (or with --reactivate, reactivate) a resident's membership."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("username")
        parser.add_argument("--reactivate", action="store_true")

    def handle(self, *args: Any, slug: str, username: str, **options: Any) -> None:
        membership = Membership.objects.filter(
            community__slug=slug, user__username=username
        ).first()
        if membership is None:
            raise CommandError(f"{username!r} is not a member of {slug!r}.")
        if options["reactivate"]:
            membership_reactivate(membership=membership)
            self.stdout.write(f"Reactivated {username} in {slug}")
        else:
            membership_suspend(membership=membership)
            self.stdout.write(f"Suspended {username} in {slug}")
