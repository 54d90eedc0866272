from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.models import Community
from conversations.services.invitations import InviteResult
from conversations.services.residents import (
    ResidentRow,
    RowError,
    resident_import_row,
    residents_invite,
)


class Command(BaseCommand):
    help = (
        "Create the user if needed and make them an active member (idempotent); "
        "with --invite, email them a link to choose a password if they have none."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password")
        parser.add_argument("--name", dest="display_name")
        parser.add_argument(
            "--invite",
            action="store_true",
            help="email a one-time link (7 days) to choose a password",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        community = Community.objects.filter(slug=options["slug"]).first()
        if community is None:
            raise CommandError(
                f"No community {options['slug']!r}; createcommunity first."
            )
        row = ResidentRow(
            username=options["username"],
            email=options["email"],
            display_name=options["display_name"],
            password=options["password"],
        )
        try:
            outcome = resident_import_row(community=community, row=row)
        except RowError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{outcome}: {row.username} in {community.slug}")
        if options["invite"]:
            results = residents_invite(
                community=community, usernames=[row.username.strip()]
            )
            for username, result in results.items():
                self.stdout.write(f"invitation of {username}: {result.value}")
            if InviteResult.FAILED in results.values():
                raise CommandError("The invitation email was not sent; run again.")
