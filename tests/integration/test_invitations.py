"""Invitations: the operator commands (and the admin action) email a
one-time link to residents without a password; the link's page sets one,
signs the resident in and lands in their community."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from conversations.models import Community, Invitation, NotificationPreference, User

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Tondeuse-du-samedi-42"
LINK = re.compile(
    r"http://127\.0\.0\.1:8000(/accounts/invitation/[^/\s]+/\?community=[\w-]+)"
)


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def import_csv(tmp_path: Path, rows: str, *flags: str) -> str:
    path = tmp_path / "residents.csv"
    path.write_text("username,email,display_name,password\n" + rows, encoding="utf-8")
    return run("import_residents", "bourg-centre", str(path), *flags)


def link_for(address: str) -> str:
    """The path of the last invitation link sent to `address`."""
    (email,) = [m for m in mail.outbox if m.to == [address]][-1:]
    match = LINK.search(email.body)
    assert match is not None, email.body
    return match.group(1)


def choose(path: str, password: str = NEW_PASSWORD) -> tuple[Client, object]:
    client = Client()
    response = client.post(path, {"new_password1": password, "new_password2": password})
    return client, response


def test_import_with_invite_emails_only_those_without_a_password(
    tmp_path: Path, community: Community
) -> None:
    """One email per imported resident without a usable password; a resident
    whose row sets a password gets none."""
    out = import_csv(
        tmp_path,
        "lea,lea@example.org,Léa,\nmax,max@example.org,Max,\n"
        f"noe,noe@example.org,Noé,{PASSWORD}\n",
        "--invite",
    )
    assert sorted(m.to[0] for m in mail.outbox) == [
        "lea@example.org",
        "max@example.org",
    ]
    assert "2 sent" in out
    assert "1 already has a password" in out
    (email,) = [m for m in mail.outbox if m.to == ["lea@example.org"]]
    assert email.subject == f"Votre accès à Voisins · {community.name}"
    assert "lea" in email.body


def test_import_without_invite_sends_nothing(
    tmp_path: Path, community: Community
) -> None:
    """Control: the same import without --invite emails nobody."""
    import_csv(tmp_path, "lea,lea@example.org,Léa,\n")
    assert mail.outbox == []


def test_the_link_sets_the_password_signs_in_and_lands_in_the_community(
    community: Community,
) -> None:
    """The link's page takes a new password, signs the resident in and
    redirects to /?community=<slug>; the password then logs in."""
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org", "--invite")
    path = link_for("lea@example.org")
    page = Client().get(path)
    assert page.status_code == 200
    assert "Bienvenue" in page.content.decode()
    client, response = choose(path)
    assert response.status_code == 302
    assert response["Location"] == "/?community=bourg-centre"
    assert client.get("/api/communities/").status_code == 200
    assert Client().login(username="lea", password=NEW_PASSWORD)


def test_the_invitation_stores_only_a_hash(community: Community) -> None:
    """The token in the link is nowhere in the database."""
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org", "--invite")
    token = link_for("lea@example.org").split("/")[3]
    invitation = Invitation.objects.get(user__username="lea")
    assert token not in invitation.token_hash
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)


def test_a_used_link_is_refused(community: Community) -> None:
    """A second use of the link: a clear 410 page, the password unchanged."""
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org", "--invite")
    path = link_for("lea@example.org")
    choose(path)
    _, again = choose(path, "Autre-mot-de-passe-77")
    assert again.status_code == 410
    assert "déjà été utilisé" in again.content.decode()
    assert Client().login(username="lea", password=NEW_PASSWORD)


def test_a_new_invitation_voids_the_previous_link(community: Community) -> None:
    """Inviting again: the first link is refused, the second works."""
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org", "--invite")
    first = link_for("lea@example.org")
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org", "--invite")
    second = link_for("lea@example.org")
    assert first != second
    assert Client().get(first).status_code == 410
    _, response = choose(second)
    assert response.status_code == 302


def test_an_eight_day_old_link_is_refused(community: Community) -> None:
    """A link older than 7 days says it expired; nothing is set."""
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org", "--invite")
    path = link_for("lea@example.org")
    sent = timezone.now() - timedelta(days=8)
    Invitation.objects.update(created_at=sent, expires_at=sent + timedelta(days=7))
    page = Client().get(path)
    assert page.status_code == 410
    assert "Invitation expirée" in page.content.decode()
    _, response = choose(path)
    assert response.status_code == 410
    assert not User.objects.get(username="lea").has_usable_password()


def test_a_weak_password_is_refused_and_the_link_stays_valid(
    community: Community,
) -> None:
    """The validators apply: a common password shows the form again with the
    reason; the link still works afterwards."""
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org", "--invite")
    path = link_for("lea@example.org")
    _, weak = choose(path, "password123")
    assert weak.status_code == 200
    assert 'aria-invalid="true"' in weak.content.decode()
    _, strong = choose(path)
    assert strong.status_code == 302


def test_residents_with_a_password_are_not_invited(
    alice: User, community: Community
) -> None:
    """addresident --invite for a resident who has a password says so and
    sends nothing."""
    out = run(
        "addresident", "bourg-centre", "alice", "--email", alice.email, "--invite"
    )
    assert "already has a password" in out
    assert mail.outbox == []


def test_the_invitation_is_in_the_residents_language(community: Community) -> None:
    """A resident who chose English gets the English invitation."""
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org")
    NotificationPreference.objects.create(
        user=User.objects.get(username="lea"), language="en"
    )
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org", "--invite")
    (email,) = mail.outbox
    assert email.subject.startswith("Your access to Voisins")


def test_admin_action_invites_the_selected_residents(
    alice: User, community: Community
) -> None:
    """The users page's action emails those without a password and reports
    the others."""
    run("addresident", "bourg-centre", "lea", "--email", "lea@example.org")
    staff = User.objects.create_superuser("gerant", "g@example.org", "op-Pass-123!")
    client = Client()
    client.force_login(staff)
    lea = User.objects.get(username="lea")
    response = client.post(
        "/admin/conversations/user/",
        {"action": "invite", "_selected_action": [lea.pk, alice.pk]},
        follow=True,
    )
    assert [m.to for m in mail.outbox] == [["lea@example.org"]]
    assert "1 already has a password" in response.content.decode()
    assert "/?community=bourg-centre" in mail.outbox[0].body
