from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from conversations.services.access import community_create


class Command(BaseCommand):
    help = "Create a community (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)

    def handle(self, *args: Any, slug: str, name: str, **options: Any) -> None:
        try:
            validate_slug(slug)
        except ValidationError:
            raise CommandError(
                f"Invalid slug {slug!r}: letters, digits, - and _."
            ) from None
        community, created = community_create(slug=slug, name=name.strip() or slug)
        verb = "Created" if created else "Already existed:"
        self.stdout.write(f"{verb} community {community.slug} ({community.name})")
