from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.models import Community
from conversations.services.residents import ResidentRow, RowError, resident_import_row


class Command(BaseCommand):
    help = "Create the user if needed and make them an active member (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("username")
        parser.add_argument("--email", required=True)
        parser.add_argument("--password")
        parser.add_argument("--name", dest="display_name")

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
