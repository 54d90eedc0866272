"""Editing, deleting, sync of changes, separate copies, mute: v2 services
against the real database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from conversations.errors import EditWindowClosed, NotAllowed, NotFound
from conversations.models import (
    Community,
    Conversation,
    Message,
    Participant,
    PendingNotification,
    User,
)
from conversations.selectors.messages import sync_page
from conversations.services.editing import message_delete, message_edit
from conversations.services.send import SendRequest, message_send

from .conftest import Send

pytestmark = pytest.mark.django_db


def test_edit_changes_the_body_for_everyone_with_a_new_rev(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """The edited message keeps its id, gets edited_at and a rev above every
    id and rev handed out before."""
    first = send(alice, "Bonjour", to=["bob"]).message
    later = send(bob, "Salut", to=["alice"]).message
    edited = message_edit(
        user=alice, community=community, message_id=first["id"], body="Bonsoir"
    )
    assert (edited["id"], edited["body"]) == (first["id"], "Bonsoir")
    assert edited["edited_at"] is not None
    assert edited["rev"] > later["id"]
    assert Message.objects.get(pk=first["id"]).body == "Bonsoir"
    again = message_edit(
        user=alice, community=community, message_id=first["id"], body="Bonne nuit"
    )
    assert again["rev"] > edited["rev"]


def test_edit_with_the_same_body_changes_nothing(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    first = send(alice, "Bonjour", to=["bob"]).message
    same = message_edit(
        user=alice, community=community, message_id=first["id"], body="Bonjour"
    )
    assert (same["rev"], same["edited_at"]) == (first["rev"], None)


def test_only_the_sender_may_edit_or_delete(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A participant gets not_allowed; the message is unchanged."""
    message = send(alice, "Bonjour", to=["bob"]).message
    with pytest.raises(NotAllowed):
        message_edit(user=bob, community=community, message_id=message["id"], body="x")
    with pytest.raises(NotAllowed):
        message_delete(user=bob, community=community, message_id=message["id"])
    assert Message.objects.get(pk=message["id"]).body == "Bonjour"


def test_a_message_not_yours_to_see_is_not_found_like_a_missing_one(
    send: Send, alice: User, bob: User, mallory: User, community: Community
) -> None:
    message = send(alice, "Secret", to=["bob"]).message
    for message_id in (message["id"], 10**12):
        with pytest.raises(NotFound) as error:
            message_edit(
                user=mallory, community=community, message_id=message_id, body="x"
            )
        assert error.value.detail == "No such message."
        with pytest.raises(NotFound):
            message_delete(user=mallory, community=community, message_id=message_id)


@override_settings(MESSAGE_EDIT_WINDOW_SECONDS=60)
def test_edit_after_the_window_is_refused(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    message = send(alice, "Bonjour", to=["bob"]).message
    Message.objects.filter(pk=message["id"]).update(
        sent_at=timezone.now() - timedelta(seconds=61)
    )
    with pytest.raises(EditWindowClosed):
        message_edit(
            user=alice, community=community, message_id=message["id"], body="x"
        )
    # Deleting has no window.
    assert message_delete(user=alice, community=community, message_id=message["id"])[
        "deleted"
    ]


def test_delete_erases_the_body_and_pending_notifications(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """The body is gone from the database, not hidden; an email or push not
    yet sent will not show it."""
    message = send(alice, "Mon code est 1234", to=["bob"]).message
    assert PendingNotification.objects.filter(message_id=message["id"]).exists()
    gone = message_delete(user=alice, community=community, message_id=message["id"])
    assert (gone["body"], gone["deleted"], gone["attachments"]) == ("", True, [])
    assert gone["rev"] > message["rev"]
    row = Message.objects.get(pk=message["id"])
    assert (row.body, row.deleted) == ("", True)
    assert not Message.objects.filter(body__contains="1234").exists()
    assert not PendingNotification.objects.filter(message_id=message["id"]).exists()
    again = message_delete(user=alice, community=community, message_id=message["id"])
    assert again["rev"] == gone["rev"]
    with pytest.raises(NotAllowed):
        message_edit(
            user=alice, community=community, message_id=message["id"], body="x"
        )


def test_sync_with_since_rev_returns_the_changes_missed(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """bob saw messages 1-3 (up to rev of 3); alice then edits 1 and deletes
    2 and sends 4: bob's sync gets 4 as new and 1, 2 as changed, by rev."""
    m1, m2, m3 = (send(alice, f"m{i}", to=["bob"]).message for i in range(3))
    message_edit(user=alice, community=community, message_id=m1["id"], body="m0 bis")
    message_delete(user=alice, community=community, message_id=m2["id"])
    m4 = send(alice, "m4", to=["bob"]).message
    page = sync_page(
        user_id=bob.pk,
        community_id=community.pk,
        community_slug=community.slug,
        after=m3["id"],
        since_rev=m3["rev"],
    )
    assert [m["id"] for m in page.messages] == [m4["id"]]
    assert page.changed is not None
    assert [(m["id"], m["body"], m["deleted"]) for m in page.changed] == [
        (m1["id"], "m0 bis", False),
        (m2["id"], "", True),
    ]
    assert [m["rev"] for m in page.changed] == sorted(m["rev"] for m in page.changed)
    assert not page.more
    without = sync_page(
        user_id=bob.pk,
        community_id=community.pk,
        community_slug=community.slug,
        after=m3["id"],
    )
    assert without.changed is None


def test_sync_of_changes_is_paged_with_the_new_messages(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Changes and new messages share the page limit; `more` covers both."""
    olds = [send(alice, f"old {i}", to=["bob"]).message for i in range(3)]
    for old in olds:
        message_edit(user=alice, community=community, message_id=old["id"], body="e")
    news = [send(alice, f"new {i}", to=["bob"]).message for i in range(3)]
    page = sync_page(
        user_id=bob.pk,
        community_id=community.pk,
        community_slug=community.slug,
        after=olds[-1]["id"],
        since_rev=olds[-1]["rev"],
        limit=4,
    )
    assert page.changed is not None
    assert [m["id"] for m in page.changed] == [m["id"] for m in olds]
    assert [m["id"] for m in page.messages] == [news[0]["id"]]
    assert page.more


def test_separate_copies_are_one_to_one_and_reveal_no_names(
    alice: User, bob: User, carol: User, mallory: User, community: Community
) -> None:
    """A message to three neighbours, separately: three 1-to-1 conversations,
    one message each, one ack listing them all; a resend answers the same."""
    request = SendRequest.of(
        alice,
        community,
        client_id="street-1",
        body="Fête de la rue samedi !",
        to=("bob", "carol", "mallory"),
        separate=True,
    )
    result = message_send(request)
    assert result.created
    assert [m["participants"] for m in result.messages] == [
        ["alice", "bob"],
        ["alice", "carol"],
        ["alice", "mallory"],
    ]
    assert len({m["conversation"] for m in result.messages}) == 3
    assert result.message == result.messages[0]
    for message in result.messages:
        conversation = Conversation.objects.get(pk=message["conversation"])
        assert Participant.objects.filter(conversation=conversation).count() == 2
    again = message_send(request)
    assert not again.created
    assert again.messages == result.messages
    assert Message.objects.filter(client_id="street-1").count() == 3


def test_mute_is_the_residents_own_setting(
    send: Send, alice: User, bob: User, mallory: User
) -> None:
    """PATCH muted: 200 with the conversation; the other participant's view
    does not change; someone else's conversation is 404."""
    conversation = send(alice, "Bonjour", to=["bob"]).message["conversation"]
    client = Client()
    client.force_login(bob)
    answer = client.patch(
        f"/api/conversations/{conversation}/",
        data={"muted": True},
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["muted"] is True
    assert answer.json()["read_marks"] == {"alice": 0, "bob": 0}
    assert Participant.objects.get(conversation_id=conversation, user=bob).muted
    assert not Participant.objects.get(conversation_id=conversation, user=alice).muted
    outsider = Client()
    outsider.force_login(mallory)
    for target in (conversation, 10**12):
        refused = outsider.patch(
            f"/api/conversations/{target}/",
            data={"muted": True},
            content_type="application/json",
        )
        assert refused.status_code == 404
    bad = client.patch(
        f"/api/conversations/{conversation}/",
        data={"muted": "yes"},
        content_type="application/json",
    )
    assert bad.status_code == 400


def test_community_list_counts_unread_per_community(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    send(alice, "un", to=["bob"])
    send(alice, "deux", to=["bob"])
    client = Client()
    client.force_login(bob)
    assert client.get("/api/communities/").json() == [
        {"slug": community.slug, "name": community.name, "unread": 2}
    ]
