from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from conversations.models import Community
from conversations.services.invitations import InviteResult
from conversations.services.residents import (
    CsvFormatError,
    residents_import_csv,
    residents_invite,
)


class Command(BaseCommand):
    help = (
        "Create or update residents from a CSV with the header "
        "username,email,display_name[,password]; report rejected rows. With "
        "--invite, email each imported resident without a password a link to "
        "choose one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("csv_file", type=Path)
        parser.add_argument(
            "--invite",
            action="store_true",
            help="email a one-time link (7 days) to those without a password",
        )

    def handle(self, *args: Any, slug: str, csv_file: Path, **options: Any) -> None:
        community = Community.objects.filter(slug=slug).first()
        if community is None:
            raise CommandError(f"No community {slug!r}; createcommunity first.")
        try:
            text = csv_file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {csv_file}: {error}") from None
        try:
            report = residents_import_csv(community=community, text=text)
        except CsvFormatError as error:
            raise CommandError(str(error)) from None
        for line, reason in report.rejected:
            self.stderr.write(f"line {line}: rejected: {reason}")
        self.stdout.write(
            f"created {report.created}, updated {report.updated}, "
            f"rejected {len(report.rejected)}"
        )
        if options["invite"]:
            self.invite(community, report.usernames)

    def invite(self, community: Community, usernames: list[str]) -> None:
        results = residents_invite(community=community, usernames=usernames)
        for username, result in results.items():
            if result == InviteResult.FAILED:
                self.stderr.write(f"invitation of {username}: {result.value}")
        counts = Counter(results.values())
        self.stdout.write(
            "invitations: "
            + (", ".join(f"{n} {r.value}" for r, n in counts.items()) or "none")
        )
        if counts[InviteResult.FAILED]:
            raise CommandError("Some invitations were not sent; run again for them.")
