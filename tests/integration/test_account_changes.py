"""Who changed an account, and what follows: the resident's history
(GET /api/me/account-events/), the notice to a replaced address, and other
sessions ended after a password change, whatever the path (Django's views,
the admin, the commands)."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks_db.models import DBTaskResult

from conversations.models import (
    AccountEvent,
    Community,
    Membership,
    NotificationPreference,
    Revocation,
    User,
)

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Tondeuse-du-samedi-42"


@pytest.fixture(autouse=True)
def blank_history(alice: User, bob: User) -> None:
    """alice and bob as they are before each test: members, no history (the
    fixtures' own membership_added rows are not what the tests look at)."""
    AccountEvent.objects.all().delete()


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser("gerant", "gerant@example.org", "op-Pass-123!")


@pytest.fixture
def staff_client(staff: User) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def signed_in(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def events(client: Client) -> list[dict[str, Any]]:
    response = client.get("/api/me/account-events/")
    assert response.status_code == 200, response.content
    result: list[dict[str, Any]] = response.json()
    return result


def run_queued_tasks() -> None:
    """What `notify_worker` does with the queued jobs, due or not."""
    for row in DBTaskResult.objects.filter(status="READY"):
        row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        row.delete()


def admin_change_email(client: Client, user: User, email: str) -> None:
    page = client.get(f"/admin/conversations/user/{user.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    data.update(
        email=email,
        last_login_0="",
        last_login_1="",
        date_joined_0="2026-01-01",
        date_joined_1="00:00:00",
    )
    response = client.post(f"/admin/conversations/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors


# The audit trail


def test_admin_email_change_is_in_the_history_and_told_to_the_old_address(
    staff_client: Client, alice: User
) -> None:
    """Staff changing alice's email: alice's history says who and shows the
    new address masked; the old address gets a notice naming the staff
    member, without the new address in full."""
    admin_change_email(staff_client, alice, "alice.nouvelle@fournisseur.example")
    (event,) = events(signed_in("alice"))
    assert event["kind"] == "email_changed"
    assert event["actor"] == "staff:gerant"
    assert event["detail"] == "a***@f***.example"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["created_at"])
    mail.outbox.clear()
    run_queued_tasks()
    (notice,) = mail.outbox
    assert notice.to == ["alice@example.org"]
    assert "a été changée" in notice.subject
    assert "gerant" in notice.body
    assert "a***@f***.example" in notice.body
    assert "alice.nouvelle" not in notice.body + notice.subject


def test_email_change_notice_speaks_english_when_chosen(alice: User) -> None:
    """The notice follows the resident's language; an operator's change
    (a command) names the operator."""
    NotificationPreference.objects.create(user=alice, language="en")
    call_command(
        "addresident",
        "bourg-centre",
        "alice",
        "--email",
        "a2@example.org",
        stdout=io.StringIO(),
    )
    mail.outbox.clear()
    run_queued_tasks()
    (notice,) = mail.outbox
    assert notice.to == ["alice@example.org"]
    assert notice.subject == "The email address of your Voisins account was changed"
    assert "the site's operator" in notice.body


def test_admin_suspension_is_in_the_history(
    staff_client: Client, bob: User, community: Community
) -> None:
    """The admin's suspend action is written with the staff member's name
    and the community's name."""
    membership = Membership.objects.get(user=bob)
    staff_client.post(
        "/admin/conversations/membership/",
        {"action": "suspend", "_selected_action": [membership.pk]},
    )
    (event,) = AccountEvent.objects.filter(user=bob)
    assert (event.kind, event.actor, event.detail) == (
        "membership_suspended",
        "staff:gerant",
        community.name,
    )


def test_operator_membership_changes_are_in_the_history(
    alice: User, other_community: Community
) -> None:
    """Adding to a community, suspending, reactivating (the commands) are
    written as the operator's, newest first in the API."""
    out = io.StringIO()
    call_command("addresident", "la-croix", "alice", "--email", alice.email, stdout=out)
    call_command("suspendresident", "la-croix", "alice", stdout=out)
    call_command("suspendresident", "la-croix", "alice", "--reactivate", stdout=out)
    history = events(signed_in("alice"))
    assert [(e["kind"], e["actor"], e["detail"]) for e in history] == [
        ("membership_reactivated", "operator", "La Croix"),
        ("membership_suspended", "operator", "La Croix"),
        ("membership_added", "operator", "La Croix"),
    ]


def test_admin_added_membership_is_in_the_history(
    staff_client: Client, make_resident: Any, other_community: Community
) -> None:
    """A membership added on the admin's membership page names the staff."""
    zoe = make_resident(other_community, "zoe")
    community = Community.objects.get(slug="bourg-centre")
    response = staff_client.post(
        "/admin/conversations/membership/add/",
        {
            "user": zoe.pk,
            "community": community.pk,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    added = AccountEvent.objects.get(user=zoe, detail=community.name)
    assert (added.kind, added.actor) == ("membership_added", "staff:gerant")


def test_residents_see_only_their_own_history(
    staff_client: Client, alice: User, bob: User
) -> None:
    """bob's history has nothing about alice's email change."""
    admin_change_email(staff_client, alice, "alice2@example.org")
    assert events(signed_in("bob")) == []
    assert len(events(signed_in("alice"))) == 1


def test_history_needs_a_session() -> None:
    """No session: 401, as the rest of the API."""
    assert Client().get("/api/me/account-events/").status_code == 401


# Password changes end the other sessions


def session_hash(client: Client) -> str:
    return hashlib.sha256(client.session.session_key.encode()).hexdigest()


def test_password_change_form_ends_the_other_sessions_only(alice: User) -> None:
    """Through /accounts/password_change/: the other session's API answers
    401, the changing one stays in; the revocation keeps the session the
    change was made from (its sockets stay open)."""
    changing, other = signed_in("alice"), signed_in("alice")
    kept = session_hash(changing)
    response = changing.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert other.get("/api/communities/").status_code == 401
    assert changing.get("/api/communities/").status_code == 200
    (revocation,) = Revocation.objects.filter(user=alice)
    assert revocation.keep_session_hash == kept
    assert (revocation.session_hash, revocation.community_id) == ("", None)
    (event,) = events(changing)
    assert (event["kind"], event["actor"]) == ("password_changed", "self")


def test_logout_after_a_password_change_covers_the_sessions_old_key(
    alice: User,
) -> None:
    """Django gives the changing session a new key; a logout from it later
    still closes the sockets opened with the key it had before."""
    changing = signed_in("alice")
    before = session_hash(changing)
    changing.post(
        "/accounts/password_change/",
        {
            "old_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
    )
    after = session_hash(changing)
    assert after != before
    changing.post("/accounts/logout/")
    revoked = set(
        Revocation.objects.filter(user=alice)
        .exclude(session_hash="")
        .values_list("session_hash", flat=True)
    )
    assert revoked == {before, after}


def test_password_reset_confirm_ends_every_session(alice: User) -> None:
    """A password set through the reset link keeps no session."""
    other = signed_in("alice")
    alice.refresh_from_db()  # the login moved last_login, part of the token
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    token = default_token_generator.make_token(alice)
    browser = Client()
    landing = browser.get(f"/accounts/reset/{uid}/{token}/")
    assert landing.status_code == 302
    response = browser.post(
        landing["Location"],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert other.get("/api/communities/").status_code == 401
    (revocation,) = Revocation.objects.filter(user=alice)
    assert revocation.keep_session_hash == ""
    assert AccountEvent.objects.get(user=alice).actor == "self"


def test_admin_password_change_ends_every_session(
    staff_client: Client, alice: User
) -> None:
    """Staff setting alice's password: all of alice's sessions end, and her
    history names the staff member."""
    other = signed_in("alice")
    response = staff_client.post(
        f"/admin/conversations/user/{alice.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert other.get("/api/communities/").status_code == 401
    (revocation,) = Revocation.objects.filter(user=alice)
    assert revocation.keep_session_hash == ""
    assert AccountEvent.objects.get(user=alice).actor == "staff:gerant"


def test_changepassword_command_ends_every_session(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`manage.py changepassword`: every session ends, the operator is named."""
    from django.contrib.auth.management.commands.changepassword import Command

    monkeypatch.setattr(Command, "_get_pass", lambda self, prompt="": NEW_PASSWORD)
    other = signed_in("alice")
    call_command("changepassword", "alice", stdout=io.StringIO())
    assert other.get("/api/communities/").status_code == 401
    assert Revocation.objects.get(user=alice).keep_session_hash == ""
    assert AccountEvent.objects.get(user=alice).actor == "operator"


def test_admin_deactivation_closes_every_socket(
    staff_client: Client, alice: User
) -> None:
    """Unticking "active" in the admin records a revocation of all sockets."""
    page = staff_client.get(f"/admin/conversations/user/{alice.pk}/change/")
    form = page.context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and name not in ("password", "groups", "user_permissions")
    }
    data.pop("is_active")
    data.update(date_joined_0="2026-01-01", date_joined_1="00:00:00")
    response = staff_client.post(f"/admin/conversations/user/{alice.pk}/change/", data)
    assert response.status_code == 302
    alice.refresh_from_db()
    assert not alice.is_active
    revocation = Revocation.objects.get(user=alice)
    assert (revocation.community_id, revocation.session_hash) == (None, "")
