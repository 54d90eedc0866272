"""Logout closes sockets (a Revocation row); the admin never shows messages."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

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


def test_membership_change_form_cannot_move_a_membership(
    operator_client: Client,
    bob: User,
    carol: User,
    community: Community,
    other_community: Community,
) -> None:
    """An existing membership keeps its resident and community: moving it would
    end access in the old community without closing sockets (no revocation)."""
    membership = Membership.objects.get(user=bob)
    response = operator_client.post(
        f"/admin/conversations/membership/{membership.pk}/change/",
        {
            "user": carol.pk,
            "community": other_community.pk,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code in {200, 302}
    membership.refresh_from_db()
    assert (membership.user_id, membership.community_id) == (bob.pk, community.pk)


def test_community_inline_cannot_reassign_a_membership(
    operator_client: Client,
    make_resident: Callable[..., User],
    bob: User,
    community: Community,
    other_community: Community,
) -> None:
    """The community page's membership rows cannot hand bob's membership to
    someone else (that would silently end bob's access)."""
    zoe = make_resident(other_community, "zoe")
    membership = Membership.objects.get(user=bob)
    others = Membership.objects.filter(community=community).exclude(pk=membership.pk)
    data = {
        "name": community.name,
        "slug": community.slug,
        "created_at_0": "2026-01-01",
        "created_at_1": "00:00:00",
        "memberships-TOTAL_FORMS": str(1 + others.count()),
        "memberships-INITIAL_FORMS": str(1 + others.count()),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "memberships-0-id": str(membership.pk),
        "memberships-0-community": str(community.pk),
        "memberships-0-user": str(zoe.pk),
    }
    for index, other in enumerate(others, start=1):
        data[f"memberships-{index}-id"] = str(other.pk)
        data[f"memberships-{index}-community"] = str(community.pk)
        data[f"memberships-{index}-user"] = str(other.user_id)
    response = operator_client.post(
        f"/admin/conversations/community/{community.pk}/change/", data
    )
    assert response.status_code in {200, 302}
    membership.refresh_from_db()
    assert membership.user_id == bob.pk


def test_membership_add_form_still_adds_a_member(
    operator_client: Client,
    make_resident: Callable[..., User],
    community: Community,
    other_community: Community,
) -> None:
    """Adding a membership in the admin works and makes an active member."""
    zoe = make_resident(other_community, "zoe")
    response = operator_client.post(
        "/admin/conversations/membership/add/",
        {
            "user": zoe.pk,
            "community": community.pk,
            "created_at_0": "2026-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=zoe, community=community).is_active
