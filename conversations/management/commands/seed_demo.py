from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from conversations.models import User
from conversations.services.access import community_create, resident_add
from conversations.services.send import SendRequest, message_send

DEMO_PASSWORD = "voisins-demo"  # noqa: S105 (demo data, printed for newcomers)
RESIDENTS = [
    ("alice", "Alice Martin"),
    ("bob", "Bob Lefèvre"),
    ("carol", "Carole Dubois"),
    ("david", "David Moreau"),
]
CONVERSATIONS = [
    (
        ["alice", "bob"],
        [
            ("alice", "Bonjour Bob ! Je peux emprunter ta tondeuse samedi ?"),
            ("bob", "Bien sûr, passe vers 10 h, elle est dans le garage."),
        ],
    ),
    (
        ["alice", "bob", "carol"],
        [
            ("carol", "On organise la fête de la rue le 14 ? Qui apporte les tables ?"),
            ("bob", "J'ai deux tréteaux et une grande planche."),
            ("alice", "Je m'occupe des guirlandes 🎉"),
        ],
    ),
    (
        ["carol", "david"],
        [("david", "Merci encore pour l'aide au déménagement !")],
    ),
]


class Command(BaseCommand):
    help = "Create a demo community with residents and conversations (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        community, _ = community_create(
            slug="bourg-centre", name="Voisins Vigilants · Bourg-en-Bresse Centre"
        )
        for username, display_name in RESIDENTS:
            resident_add(
                community=community,
                username=username,
                email=f"{username}@example.org",
                password=DEMO_PASSWORD,
                display_name=display_name,
            )
        users = {
            u.username: u for u in User.objects.filter(username__in=dict(RESIDENTS))
        }
        for index, (members, lines) in enumerate(CONVERSATIONS):
            for position, (author, body) in enumerate(lines):
                recipients = tuple(sorted(m for m in members if m != author))
                message_send(
                    SendRequest.of(
                        users[author],
                        community,
                        client_id=f"seed-demo-{index}-{position}",
                        body=body,
                        to=recipients,
                    )
                )
        names = ", ".join(username for username, _ in RESIDENTS)
        self.stdout.write(
            f"Demo community {community.slug}: residents {names}, "
            f"password {DEMO_PASSWORD!r}"
        )
