"""message_send and message_mark_read against the real database."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from conversations.errors import Blocked, Forbidden, NotFound, NotMember
from conversations.models import (
    Block,
    Community,
    Conversation,
    Membership,
    Message,
    Participant,
    User,
)
from conversations.router import PROCESS_GROUP
from conversations.services.access import membership_remove, membership_suspend
from conversations.services.messages import message_mark_read

from .conftest import Send

pytestmark = pytest.mark.django_db


def membership(user: User, community: Community) -> Membership:
    return Membership.objects.get(user=user, community=community)


def has_pending(layer: Any, channel: str) -> bool:
    """Whether the in-memory layer holds an undelivered event for `channel`."""
    queue = layer.channels.get(channel)
    return queue is not None and not queue.empty()


def read_mark(user: User, conversation_id: int) -> int:
    return Participant.objects.get(
        user=user, conversation_id=conversation_id
    ).last_read_id


# Conversations keyed by participant set.


def test_first_send_creates_conversation_with_sender_and_recipients(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Sending to bob creates one conversation of {alice, bob} holding the message."""
    result = send(alice, "Bonjour Bob", to=["bob"])
    assert result.created
    message = result.message
    assert message["sender"] == "alice"
    assert message["participants"] == ["alice", "bob"]
    assert message["community"] == community.slug
    assert message["body"] == "Bonjour Bob"
    conversation = Conversation.objects.get(pk=message["conversation"])
    assert conversation.community_id == community.pk
    assert conversation.last_message_id == message["id"]
    assert set(conversation.participants.values_list("user__username", flat=True)) == {
        "alice",
        "bob",
    }


def test_same_participant_set_maps_to_same_conversation_either_direction(
    send: Send, alice: User, bob: User
) -> None:
    """alice->bob and bob->alice land in one conversation."""
    first = send(alice, to=["bob"]).message
    reply = send(bob, to=["alice"]).message
    again = send(alice, to=["bob"]).message
    assert first["conversation"] == reply["conversation"] == again["conversation"]
    assert Conversation.objects.count() == 1


def test_group_conversation_is_one_per_participant_set(
    send: Send, alice: User, bob: User, carol: User
) -> None:
    """{alice,bob,carol} is one conversation from any sender, distinct from pairs."""
    group_a = send(alice, to=["bob", "carol"]).message["conversation"]
    group_c = send(carol, to=["bob", "alice"]).message["conversation"]
    pair = send(alice, to=["bob"]).message["conversation"]
    assert group_a == group_c
    assert pair != group_a
    assert send(bob, to=["carol", "alice"]).message["participants"] == [
        "alice",
        "bob",
        "carol",
    ]


def test_same_set_in_another_community_is_another_conversation(
    send: Send,
    make_resident: Callable[..., User],
    alice: User,
    bob: User,
    other_community: Community,
) -> None:
    """The same two residents get a separate conversation per community."""
    make_resident(other_community, "alice")
    make_resident(other_community, "bob")
    here = send(alice, to=["bob"]).message
    there = send(alice, to=["bob"], community=other_community).message
    assert here["conversation"] != there["conversation"]
    assert there["community"] == "la-croix"


def test_send_by_conversation_id_reuses_it(send: Send, alice: User, bob: User) -> None:
    """A send naming the conversation lands in it."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    reply = send(bob, "Oui", conversation=conversation).message
    assert reply["conversation"] == conversation
    assert reply["participants"] == ["alice", "bob"]


# Idempotency.


def test_resend_of_client_id_returns_same_message_and_creates_nothing(
    send: Send, alice: User, bob: User
) -> None:
    """The same client_id from the same sender returns created=False, same id."""
    first = send(alice, "Une fois", to=["bob"], client_id="dup-1")
    second = send(alice, "Une fois", to=["bob"], client_id="dup-1")
    assert first.created
    assert not second.created
    assert second.message == first.message
    assert Message.objects.count() == 1


def test_resend_of_client_id_ignores_a_changed_body_or_target(
    send: Send, alice: User, bob: User, carol: User
) -> None:
    """A resend returns the stored message even if the retry differs."""
    first = send(alice, "Original", to=["bob"], client_id="dup-2")
    second = send(alice, "Changed", to=["carol"], client_id="dup-2")
    assert not second.created
    assert second.message["id"] == first.message["id"]
    assert second.message["body"] == "Original"
    assert Message.objects.count() == 1


def test_same_client_id_from_different_senders_are_two_messages(
    send: Send, alice: User, bob: User
) -> None:
    """client_id is unique per sender, not globally."""
    a = send(alice, to=["bob"], client_id="same")
    b = send(bob, to=["alice"], client_id="same")
    assert a.created
    assert b.created
    assert a.message["id"] != b.message["id"]


# Refusals.


def test_recipient_who_is_not_a_member_is_not_member(
    send: Send,
    make_resident: Callable[..., User],
    alice: User,
    other_community: Community,
) -> None:
    """A recipient of another community only gets `not_member`, with client_id."""
    make_resident(other_community, "zoe")
    with pytest.raises(NotMember) as caught:
        send(alice, to=["zoe"], client_id="nm-1")
    assert caught.value.client_id == "nm-1"
    assert "zoe" in caught.value.detail
    assert Conversation.objects.count() == 0
    assert Message.objects.count() == 0


def test_unknown_recipient_is_not_member(send: Send, alice: User) -> None:
    """A username that does not exist gets `not_member`."""
    with pytest.raises(NotMember):
        send(alice, to=["nobody"])


def test_suspended_recipient_is_not_member(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A recipient whose membership is suspended gets `not_member`."""
    membership_suspend(membership=membership(bob, community))
    with pytest.raises(NotMember):
        send(alice, to=["bob"])
    assert Message.objects.count() == 0


def test_one_bad_recipient_refuses_the_whole_send(
    send: Send, alice: User, bob: User
) -> None:
    """If any recipient is not a member, nothing is stored."""
    with pytest.raises(NotMember):
        send(alice, to=["bob", "ghost"])
    assert Conversation.objects.count() == 0


def test_inactive_user_account_is_not_member(
    send: Send, alice: User, bob: User
) -> None:
    """A deactivated account cannot receive messages."""
    User.objects.filter(pk=bob.pk).update(is_active=False)
    with pytest.raises(NotMember):
        send(alice, to=["bob"])


def test_sending_to_oneself_is_bad_request(send: Send, alice: User, bob: User) -> None:
    """`to` must not include the sender."""
    with pytest.raises(Exception, match="yourself") as caught:
        send(alice, to=["alice", "bob"])
    assert getattr(caught.value, "code", None) == "bad_request"


def test_blocked_sender_gets_blocked(send: Send, alice: User, bob: User) -> None:
    """A participant who blocked the sender refuses their messages: `blocked`."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    Block.objects.create(blocker=bob, blocked=alice)
    with pytest.raises(Blocked) as caught:
        send(alice, to=["bob"], client_id="b-1")
    assert caught.value.client_id == "b-1"
    with pytest.raises(Blocked):
        send(alice, conversation=conversation)
    assert Message.objects.count() == 1


def test_block_in_a_group_refuses_the_group_message(
    send: Send, alice: User, bob: User, carol: User
) -> None:
    """One blocking participant is enough to refuse a group send."""
    Block.objects.create(blocker=carol, blocked=alice)
    with pytest.raises(Blocked):
        send(alice, to=["bob", "carol"])
    assert send(bob, to=["alice", "carol"]).created


def test_block_is_one_way(send: Send, alice: User, bob: User) -> None:
    """The blocker can still write to the one they blocked."""
    Block.objects.create(blocker=bob, blocked=alice)
    assert send(bob, to=["alice"]).created


def test_suspended_sender_is_forbidden(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A sender whose own membership is suspended gets Forbidden."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    membership_suspend(membership=membership(alice, community))
    with pytest.raises(Forbidden) as caught:
        send(alice, to=["bob"], client_id="f-1")
    assert caught.value.client_id == "f-1"
    with pytest.raises(Forbidden):
        send(alice, conversation=conversation)
    assert Message.objects.count() == 1


def test_removed_sender_is_forbidden(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A resident whose membership was removed cannot send there."""
    membership_remove(membership=membership(alice, community))
    with pytest.raises(Forbidden):
        send(alice, to=["bob"])


def test_others_conversation_is_not_found_like_a_missing_one(
    send: Send, alice: User, bob: User, mallory: User
) -> None:
    """Sending to someone else's conversation is the same NotFound as a missing id."""
    conversation = send(alice, to=["bob"]).message["conversation"]
    with pytest.raises(NotFound) as foreign:
        send(mallory, conversation=conversation)
    with pytest.raises(NotFound) as missing:
        send(mallory, conversation=conversation + 1000)
    assert (foreign.value.code, foreign.value.detail) == (
        missing.value.code,
        missing.value.detail,
    )
    assert Message.objects.count() == 1


def test_conversation_of_another_community_is_not_found(
    send: Send,
    make_resident: Callable[..., User],
    alice: User,
    bob: User,
    other_community: Community,
) -> None:
    """A conversation id from another community is NotFound in this one."""
    make_resident(other_community, "alice")
    make_resident(other_community, "bob")
    there = send(alice, to=["bob"], community=other_community).message
    with pytest.raises(NotFound):
        send(alice, conversation=there["conversation"])


def test_message_ids_increase(send: Send, alice: User, bob: User, carol: User) -> None:
    """Successive messages, across conversations, get increasing ids."""
    ids = [
        send(alice, to=["bob"]).message["id"],
        send(carol, to=["bob"]).message["id"],
        send(bob, to=["alice"]).message["id"],
        send(alice, to=["bob", "carol"]).message["id"],
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4


def test_previous_id_links_each_message_to_its_predecessor(
    send: Send, alice: User, bob: User, carol: User
) -> None:
    """previous_id is the conversation's previous message, 0 for the first."""
    first = send(alice, to=["bob"])
    send(alice, to=["carol"])
    second = send(bob, to=["alice"])
    assert first.previous_id == 0
    assert second.previous_id == first.message["id"]


def test_sent_at_is_utc_with_milliseconds(send: Send, alice: User, bob: User) -> None:
    """sent_at is rendered as the contract shows: ...HH:MM:SS.mmmZ."""
    sent_at = send(alice, to=["bob"]).message["sent_at"]
    assert sent_at.endswith("Z")
    assert len(sent_at) == len("2026-11-26T09:14:03.512Z")


def test_unicode_body_is_stored_exactly(send: Send, alice: User, bob: User) -> None:
    """Any Unicode (emoji, accents, RTL, markup) is stored as sent."""
    body = "Tondeuse 🏡 « été » مرحبا <b>&amp;</b> " + "🎉" * 4960
    stored = send(alice, body, to=["bob"]).message
    assert Message.objects.get(pk=stored["id"]).body == body


def test_fan_out_reaches_exactly_the_participants_after_commit(
    send: Send,
    alice: User,
    bob: User,
    mallory: User,
    community: Community,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    """message.new waits for the commit, then one layer message reaches every
    server process, naming exactly the participants in this community."""
    layer = get_channel_layer()
    assert layer is not None
    async_to_sync(layer.flush)()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(PROCESS_GROUP, channel)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = send(alice, "Salut", to=["bob"], client_id="fan-1")
    assert len(callbacks) == 1
    assert not has_pending(layer, channel)
    callbacks[0]()
    message = async_to_sync(layer.receive)(channel)
    (item,) = message["items"]
    assert sorted(item["users"]) == sorted([alice.pk, bob.pk])
    assert mallory.pk not in item["users"]
    assert item["community"] == community.pk
    assert item["event"]["type"] == "message.new"
    frame = json.loads(item["event"]["frame"])
    assert frame == {"type": "message.new", "message": result.message}
    assert not has_pending(layer, channel)
    async_to_sync(layer.flush)()


def test_refused_send_schedules_no_event(
    send: Send,
    alice: User,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    """A send refused with not_member fans nothing out."""
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(NotMember):
        send(alice, to=["ghost"])
    assert callbacks == []


# Read marks.


def test_mark_read_moves_the_mark_forward_only(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """message_mark_read raises the mark, and a lower mark changes nothing."""
    ids = [send(alice, to=["bob"]).message["id"] for _ in range(3)]
    conversation = Message.objects.get(pk=ids[0]).conversation_id
    result = message_mark_read(
        user=bob, community=community, conversation_id=conversation, up_to=ids[1]
    )
    assert result.changed
    assert read_mark(bob, conversation) == ids[1]
    lower = message_mark_read(
        user=bob, community=community, conversation_id=conversation, up_to=ids[0]
    )
    assert not lower.changed
    assert read_mark(bob, conversation) == ids[1]
    same = message_mark_read(
        user=bob, community=community, conversation_id=conversation, up_to=ids[1]
    )
    assert not same.changed


def test_mark_read_clamps_to_the_last_message(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A mark past the newest message is clamped to that message."""
    last = send(alice, to=["bob"]).message
    result = message_mark_read(
        user=bob,
        community=community,
        conversation_id=last["conversation"],
        up_to=2**63 - 1,
    )
    assert result.up_to == last["id"]
    assert read_mark(bob, last["conversation"]) == last["id"]
    later = send(alice, to=["bob"]).message
    assert later["id"] > read_mark(bob, last["conversation"])


def test_mark_read_touches_only_the_reader(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """Bob reading does not move alice's mark."""
    message = send(alice, to=["bob"]).message
    message_mark_read(
        user=bob,
        community=community,
        conversation_id=message["conversation"],
        up_to=message["id"],
    )
    assert read_mark(alice, message["conversation"]) == 0


def test_mark_read_on_others_conversation_is_not_found(
    send: Send, alice: User, bob: User, mallory: User, community: Community
) -> None:
    """Marking someone else's conversation is NotFound and changes nothing."""
    message = send(alice, to=["bob"]).message
    with pytest.raises(NotFound):
        message_mark_read(
            user=mallory,
            community=community,
            conversation_id=message["conversation"],
            up_to=message["id"],
        )
    with pytest.raises(NotFound):
        message_mark_read(
            user=mallory, community=community, conversation_id=10**12, up_to=1
        )


def test_mark_read_after_suspension_is_not_found(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """A suspended resident cannot use their conversations any more."""
    message = send(alice, to=["bob"]).message
    membership_suspend(membership=membership(bob, community))
    with pytest.raises(NotFound):
        message_mark_read(
            user=bob,
            community=community,
            conversation_id=message["conversation"],
            up_to=message["id"],
        )
