"""Reads: sync paging, conversation lists with unread counts, history pages."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conversations.errors import NotFound
from conversations.models import Community, Membership, User
from conversations.selectors.access import (
    community_get_for_user,
    conversation_get_for_user,
)
from conversations.selectors.conversations import (
    community_list_for_user,
    conversation_list_for_user,
    member_list,
)
from conversations.selectors.messages import messages_after, messages_before
from conversations.services.access import membership_suspend
from conversations.services.messages import message_mark_read

from .conftest import Send

pytestmark = pytest.mark.django_db


def after(
    user: User, community: Community, after_id: int = 0, limit: int = 200
) -> tuple[list[int], bool]:
    messages, more = messages_after(
        user_id=user.pk,
        community_id=community.pk,
        community_slug=community.slug,
        after=after_id,
        limit=limit,
    )
    return [m["id"] for m in messages], more


# messages_after (sync).


def test_messages_after_pages_ascending_with_more(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Pages come ascending by id; `more` is true until the last page."""
    ids = [send(alice, f"m{i}", to=["bob"]).message["id"] for i in range(7)]
    page1, more1 = after(bob, community, 0, limit=3)
    page2, more2 = after(bob, community, page1[-1], limit=3)
    page3, more3 = after(bob, community, page2[-1], limit=3)
    assert (page1, more1) == (ids[0:3], True)
    assert (page2, more2) == (ids[3:6], True)
    assert (page3, more3) == (ids[6:7], False)


def test_messages_after_with_exactly_a_full_page_says_no_more(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A page that holds the last message exactly reports more=false."""
    ids = [send(alice, to=["bob"]).message["id"] for _ in range(3)]
    assert after(bob, community, 0, limit=3) == (ids, False)


def test_messages_after_returns_nothing_past_the_last_id(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """After the newest id the batch is empty and complete."""
    last = send(alice, to=["bob"]).message["id"]
    assert after(bob, community, last) == ([], False)


def test_messages_after_covers_only_own_conversations(
    send: Send, alice: User, bob: User, carol: User, community: Community
) -> None:
    """A resident syncs their conversations, never others' in the community."""
    to_bob = send(alice, to=["bob"]).message["id"]
    send(alice, to=["carol"])
    group = send(carol, to=["alice", "bob"]).message["id"]
    send(carol, to=["alice"])
    assert after(bob, community) == ([to_bob, group], False)


def test_messages_after_covers_only_this_community(
    send: Send,
    make_resident: Callable[..., User],
    alice: User,
    bob: User,
    community: Community,
    other_community: Community,
) -> None:
    """Sync in one community never returns another community's messages."""
    make_resident(other_community, "alice")
    make_resident(other_community, "bob")
    here = send(alice, to=["bob"]).message["id"]
    there = send(alice, to=["bob"], community=other_community).message["id"]
    assert after(bob, community) == ([here], False)
    assert after(bob, other_community) == ([there], False)


def test_messages_after_returns_full_message_objects(
    send: Send, alice: User, bob: User, carol: User, community: Community
) -> None:
    """Synced messages are the same objects the ack carried."""
    acked = send(alice, "Fête ?", to=["bob", "carol"]).message
    messages, _ = messages_after(
        user_id=carol.pk,
        community_id=community.pk,
        community_slug=community.slug,
        after=0,
    )
    assert messages == [acked]


def test_messages_after_default_page_is_200(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Without a limit a batch holds at most 200 messages."""
    for _ in range(201):
        send(alice, to=["bob"])
    messages, more = messages_after(
        user_id=bob.pk,
        community_id=community.pk,
        community_slug=community.slug,
        after=0,
    )
    assert len(messages) == 200
    assert more


# conversation_list_for_user.


def test_conversation_list_is_most_recent_first_with_last_message(
    send: Send, alice: User, bob: User, carol: User, community: Community
) -> None:
    """Each entry has participants and last message; newest activity first."""
    send(alice, "old", to=["bob"])
    group_last = send(carol, "group", to=["alice", "bob"]).message
    pair_last = send(bob, "new", to=["alice"]).message
    listing = conversation_list_for_user(user_id=alice.pk, community=community)
    assert [c["id"] for c in listing] == [
        pair_last["conversation"],
        group_last["conversation"],
    ]
    assert listing[0]["participants"] == ["alice", "bob"]
    assert listing[0]["last_message"] == pair_last
    assert listing[1]["last_message"] == group_last


def test_unread_counts_exclude_own_messages(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Own messages never count as unread."""
    send(alice, to=["bob"])
    send(alice, to=["bob"])
    send(bob, to=["alice"])
    [alice_view] = conversation_list_for_user(user_id=alice.pk, community=community)
    [bob_view] = conversation_list_for_user(user_id=bob.pk, community=community)
    assert alice_view["unread"] == 1
    assert bob_view["unread"] == 2


def test_unread_counts_respect_the_read_mark(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Only others' messages after the resident's read mark are unread."""
    ids = [send(alice, to=["bob"]).message["id"] for _ in range(4)]
    conversation = send(bob, to=["alice"]).message["conversation"]
    message_mark_read(
        user=bob, community=community, conversation_id=conversation, up_to=ids[1]
    )
    [view] = conversation_list_for_user(user_id=bob.pk, community=community)
    assert view["unread"] == 2
    message_mark_read(
        user=bob, community=community, conversation_id=conversation, up_to=ids[3]
    )
    [view] = conversation_list_for_user(user_id=bob.pk, community=community)
    assert view["unread"] == 0


def test_unread_counts_are_per_conversation(
    send: Send, alice: User, bob: User, carol: User, community: Community
) -> None:
    """Each conversation counts its own unread messages."""
    pair = send(bob, to=["alice"]).message["conversation"]
    group = send(carol, to=["alice", "bob"]).message["conversation"]
    send(carol, to=["alice", "bob"])
    listing = conversation_list_for_user(user_id=alice.pk, community=community)
    assert {c["id"]: c["unread"] for c in listing} == {pair: 1, group: 2}


def test_conversation_list_is_limited_to_own_conversations_in_community(
    send: Send,
    make_resident: Callable[..., User],
    alice: User,
    bob: User,
    carol: User,
    community: Community,
    other_community: Community,
) -> None:
    """Others' conversations and other communities' never appear."""
    make_resident(other_community, "alice")
    make_resident(other_community, "bob")
    mine = send(alice, to=["bob"]).message["conversation"]
    send(bob, to=["carol"])
    send(alice, to=["bob"], community=other_community)
    listing = conversation_list_for_user(user_id=alice.pk, community=community)
    assert [c["id"] for c in listing] == [mine]
    assert conversation_list_for_user(user_id=carol.pk, community=community)[0][
        "participants"
    ] == ["bob", "carol"]


# messages_before (history).


def test_messages_before_pages_newest_first(send: Send, alice: User, bob: User) -> None:
    """History comes newest first, `before` excludes its id, `limit` caps."""
    ids = [send(alice, to=["bob"]).message["id"] for _ in range(5)]
    conversation = send(bob, to=["alice"]).message["conversation"]
    ids.append(
        messages_before(
            user_id=bob.pk, conversation_id=conversation, before=None, limit=1
        )[0]["id"]
    )
    page1 = messages_before(
        user_id=bob.pk, conversation_id=conversation, before=None, limit=3
    )
    page2 = messages_before(
        user_id=bob.pk, conversation_id=conversation, before=page1[-1]["id"], limit=3
    )
    page3 = messages_before(
        user_id=bob.pk, conversation_id=conversation, before=page2[-1]["id"], limit=3
    )
    newest_first = list(reversed(ids))
    assert [m["id"] for m in page1] == newest_first[0:3]
    assert [m["id"] for m in page2] == newest_first[3:6]
    assert page3 == []


def test_messages_before_refuses_others_conversation_like_a_missing_one(
    send: Send, alice: User, bob: User, mallory: User
) -> None:
    """History of someone else's conversation is the same NotFound as none."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    with pytest.raises(NotFound) as foreign:
        messages_before(
            user_id=mallory.pk, conversation_id=conversation, before=None, limit=10
        )
    with pytest.raises(NotFound) as missing:
        messages_before(
            user_id=mallory.pk, conversation_id=10**12, before=None, limit=10
        )
    assert str(foreign.value) == str(missing.value)


def test_messages_before_refuses_a_suspended_participant(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A participant whose membership is suspended loses their history."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    membership_suspend(membership=Membership.objects.get(user=bob))
    with pytest.raises(NotFound):
        messages_before(
            user_id=bob.pk, conversation_id=conversation, before=None, limit=10
        )
    assert conversation_get_for_user(user_id=alice.pk, conversation_id=conversation)


# Communities and members.


def test_community_list_has_only_active_memberships(
    make_resident: Callable[..., User],
    alice: User,
    community: Community,
    other_community: Community,
    make_community: Callable[..., Community],
) -> None:
    """A resident sees the communities where they are an active member."""
    make_community("les-halles", "Les Halles")
    make_resident(other_community, "alice")
    assert community_list_for_user(user_id=alice.pk) == [
        {"slug": "bourg-centre", "name": "Bourg Centre", "unread": 0},
        {"slug": "la-croix", "name": "La Croix", "unread": 0},
    ]
    membership_suspend(
        membership=Membership.objects.get(user=alice, community=other_community)
    )
    assert community_list_for_user(user_id=alice.pk) == [
        {"slug": "bourg-centre", "name": "Bourg Centre", "unread": 0}
    ]
    with pytest.raises(NotFound):
        community_get_for_user(user_id=alice.pk, community_slug="la-croix")


def test_member_list_filters_and_excludes_suspended(
    alice: User, bob: User, carol: User, community: Community
) -> None:
    """Members search matches username or display name; suspended are hidden."""
    names = [m["username"] for m in member_list(community=community)]
    assert names == ["alice", "bob", "carol"]
    assert member_list(community=community, query="DUBOIS") == [
        {"username": "carol", "display_name": "Carole Dubois"}
    ]
    membership_suspend(membership=Membership.objects.get(user=bob))
    assert [m["username"] for m in member_list(community=community)] == [
        "alice",
        "carol",
    ]
