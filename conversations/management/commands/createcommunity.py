from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from conversations.services.access import community_create
from conversations.services.retention import community_retention_set


def number_of_days(value: str) -> int:
    days = int(value)
    if days < 0:
        raise ValueError(value)
    return days


class Command(BaseCommand):
    help = "Create a community (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--retention-days",
            type=number_of_days,
            default=None,
            help="delete its messages older than this many days "
            "(purge_expired); 0 keeps them. Unchanged when not given.",
        )

    def handle(
        self,
        *args: Any,
        slug: str,
        name: str,
        retention_days: int | None,
        **options: Any,
    ) -> None:
        try:
            validate_slug(slug)
        except ValidationError:
            raise CommandError(
                f"Invalid slug {slug!r}: letters, digits, - and _."
            ) from None
        community, created = community_create(slug=slug, name=name.strip() or slug)
        verb = "Created" if created else "Already existed:"
        self.stdout.write(f"{verb} community {community.slug} ({community.name})")
        if retention_days is not None:
            community_retention_set(community=community, days=retention_days)
            kept = f"{retention_days} days" if retention_days else "without a limit"
            self.stdout.write(f"Messages there are kept {kept}.")
