"""Logout closes sockets (a Revocation row); the admin never shows messages."""

from __future__ import annotations

import hashlib

import pytest
from django.contrib import admin
from django.test import Client

from conversations.models import Community, Membership, Message, Revocation, User

from .conftest import PASSWORD, Send

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(alice: User) -> User:
    return User.objects.create_superuser("operator", "op@example.org", "op-pass-123")


@pytest.fixture
def operator_client(operator: User) -> Client:
    client = Client()
    client.force_login(operator)
    return client


def test_logout_writes_a_revocation_for_that_session(alice: User) -> None:
    """POST /accounts/logout/ records a revocation naming the session's hash."""
    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    session_key = client.session.session_key
    assert session_key
    response = client.post("/accounts/logout/")
    assert response.status_code in {200, 302}
    revocation = Revocation.objects.get()
    assert revocation.user_id == alice.pk
    assert revocation.community_id is None
    assert revocation.session_hash == hashlib.sha256(session_key.encode()).hexdigest()
    assert session_key not in revocation.session_hash


def test_logout_when_logged_out_writes_nothing() -> None:
    """A logout without a session has nothing to revoke."""
    Client().post("/accounts/logout/")
    assert not Revocation.objects.exists()


def test_logout_ends_api_access(alice: User) -> None:
    """After logout the API answers 401 for that client."""
    client = Client()
    client.force_login(alice)
    assert client.get("/api/communities/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/api/communities/").status_code == 401


def test_membership_changelist_lists_memberships(
    operator_client: Client, alice: User, bob: User
) -> None:
    """The membership changelist shows each resident and status."""
    response = operator_client.get("/admin/conversations/membership/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Alice Martin" in content
    assert "Bob Lefèvre" in content
    assert "active" in content


def test_no_admin_page_shows_message_bodies(
    operator_client: Client, send: Send, alice: User, bob: User, community: Community
) -> None:
    """Message has no admin; no admin page an operator can open shows a body."""
    body = "Le code de la porte est 4812B"
    send(alice, body, to=["bob"])
    assert Message not in admin.site._registry
    assert operator_client.get("/admin/conversations/message/").status_code == 404
    pages = [
        "/admin/",
        "/admin/conversations/",
        "/admin/conversations/membership/",
        f"/admin/conversations/membership/{Membership.objects.first().pk}/change/",
        "/admin/conversations/community/",
        f"/admin/conversations/community/{community.pk}/change/",
        "/admin/conversations/user/",
        f"/admin/conversations/user/{alice.pk}/change/",
    ]
    for page in pages:
        response = operator_client.get(page)
        assert response.status_code == 200, page
        assert body not in response.content.decode(), page
        assert "4812B" not in response.content.decode(), page


def test_admin_suspend_action_suspends_and_revokes(
    operator_client: Client, bob: User
) -> None:
    """The suspend action suspends the membership and records a revocation."""
    membership = Membership.objects.get(user=bob)
    response = operator_client.post(
        "/admin/conversations/membership/",
        {"action": "suspend", "_selected_action": [membership.pk]},
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert not membership.is_active
    assert Revocation.objects.filter(user=bob, community=membership.community).exists()


def test_admin_delete_of_membership_revokes(operator_client: Client, bob: User) -> None:
    """Deleting a membership in the admin goes through membership_remove."""
    membership = Membership.objects.get(user=bob)
    response = operator_client.post(
        f"/admin/conversations/membership/{membership.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert Revocation.objects.filter(user=bob, community=membership.community).exists()


def test_admin_is_refused_to_residents(alice: User) -> None:
    """A resident without staff status cannot open the admin."""
    client = Client()
    client.force_login(alice)
    response = client.get("/admin/conversations/membership/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
