"""The send's pure checks: facts and requests in, plans out, no database."""

from __future__ import annotations

from conversations.errors import (
    BadRequest,
    Blocked,
    ChatError,
    Forbidden,
    NotFound,
    NotMember,
)
from conversations.models import Attachment
from conversations.services.send import SendRequest, SendResult, participant_key
from conversations.services.send.checks import Placement, Repeat, Target, check_sends
from conversations.services.send.facts import ConversationFacts, Person, SendFacts

ALICE, BOB, CAROL = Person(1, "alice"), Person(2, "bob"), Person(3, "carol")
HOME = 10


def request(
    client_id: str = "c1",
    *,
    sender: Person = ALICE,
    to: tuple[str, ...] | None = ("bob",),
    conversation_id: int | None = None,
    community_id: int = HOME,
    attachments: tuple[int, ...] = (),
    separate: bool = False,
) -> SendRequest:
    return SendRequest(
        sender_id=sender.id,
        sender_username=sender.username,
        community_id=community_id,
        community_slug="home",
        client_id=client_id,
        body="Bonjour",
        to=None if conversation_id is not None else to,
        conversation_id=conversation_id,
        attachment_ids=attachments,
        separate=separate,
    )


def facts(**changes: object) -> SendFacts:
    """Alice, bob and carol are active members of HOME; conversation 7 holds
    alice and bob there."""
    value = SendFacts(
        active_senders={(p.id, HOME) for p in (ALICE, BOB, CAROL)},
        conversations={7: ConversationFacts(7, HOME, 70)},
        participants={7: [ALICE, BOB]},
        members={HOME: {"alice": 1, "bob": 2, "carol": 3}},
    )
    for name, new in changes.items():
        setattr(value, name, new)
    return value


def only(plans: list[object]) -> object:
    """The one plan; for a placement, its one target."""
    (plan,) = plans
    if isinstance(plan, Placement):
        (target,) = plan.targets
        return target
    return plan


def test_new_pair_gets_a_conversation_to_create() -> None:
    plan = only(check_sends([request()], facts()))
    assert plan == Target(HOME, None, participant_key([1, 2]), 0, (ALICE, BOB))


def test_known_pair_reuses_its_conversation() -> None:
    key = participant_key([1, 2])
    known = facts(by_key={(HOME, key): ConversationFacts(7, HOME, 70)})
    plan = only(check_sends([request()], known))
    assert plan == Target(HOME, 7, key, 70, (ALICE, BOB))


def test_by_id_in_own_conversation() -> None:
    plan = only(check_sends([request(conversation_id=7)], facts()))
    assert isinstance(plan, Target)
    assert (plan.conversation_id, plan.previous_id) == (7, 70)


def test_missing_foreign_and_other_community_conversations_look_alike() -> None:
    """Three ways to name a conversation that is not yours: one answer."""
    plans = [
        only(check_sends([request(conversation_id=99)], facts())),
        only(check_sends([request(sender=CAROL, conversation_id=7)], facts())),
        only(
            check_sends(
                [request(conversation_id=7)],
                facts(conversations={7: ConversationFacts(7, HOME + 1, 70)}),
            )
        ),
    ]
    assert all(isinstance(p, NotFound) for p in plans)
    assert {(p.detail, p.client_id) for p in plans if isinstance(p, ChatError)} == {
        ("No such conversation.", "c1")
    }


def test_inactive_sender_is_forbidden_before_anything_else() -> None:
    plan = only(check_sends([request(to=("nobody",))], facts(active_senders=set())))
    assert isinstance(plan, Forbidden)


def test_unknown_recipient_is_not_member_and_self_is_bad_request() -> None:
    assert isinstance(only(check_sends([request(to=("dave",))], facts())), NotMember)
    assert isinstance(
        only(check_sends([request(to=("alice", "bob"))], facts())), BadRequest
    )


def test_a_block_by_any_participant_refuses_the_send() -> None:
    blocked = facts(blocks={(CAROL.id, ALICE.id)})
    assert isinstance(
        only(check_sends([request(to=("bob", "carol"))], blocked)), Blocked
    )
    assert isinstance(only(check_sends([request(to=("bob",))], blocked)), Target)


def test_resend_is_answered_from_what_is_stored() -> None:
    stored = SendResult(
        messages=[{"id": 5}],  # type: ignore[list-item]
        created=False,
        previous_ids=[0],
    )
    plan = only(check_sends([request()], facts(existing={(1, "c1"): stored})))
    assert plan is stored


def test_a_repeat_inside_the_batch_points_at_the_first() -> None:
    plans = check_sends([request("x"), request("y"), request("x")], facts())
    assert plans[2] == Repeat(first=0)
    assert isinstance(plans[1], Placement)


def test_same_client_id_from_two_senders_is_two_sends() -> None:
    plans = check_sends(
        [request("x"), request("x", sender=BOB, to=("alice",))], facts()
    )
    assert all(isinstance(p, Placement) for p in plans)


def test_participants_keep_whether_they_can_be_reached() -> None:
    """A suspended participant still counts for the conversation but is
    marked unreachable, so the write leaves them out of the fan-out."""
    gone = Person(2, "bob", reachable=False)
    plan = only(
        check_sends(
            [request(conversation_id=7)], facts(participants={7: [ALICE, gone]})
        )
    )
    assert isinstance(plan, Target)
    assert plan.people == (ALICE, gone)


def test_separate_copies_go_to_each_pair_and_learn_nothing_of_the_others() -> None:
    """`separate` to bob and carol: two targets, each alice and one neighbour."""
    (plan,) = check_sends([request(to=("bob", "carol"), separate=True)], facts())
    assert isinstance(plan, Placement)
    assert [t.people for t in plan.targets] == [(ALICE, BOB), (ALICE, CAROL)]
    assert [t.copy for t in plan.targets] == [0, 1]
    assert [t.key for t in plan.targets] == [
        participant_key([1, 2]),
        participant_key([1, 3]),
    ]


def test_a_block_by_one_recipient_refuses_every_separate_copy() -> None:
    blocked = facts(blocks={(CAROL.id, ALICE.id)})
    plan = only(check_sends([request(to=("bob", "carol"), separate=True)], blocked))
    assert isinstance(plan, Blocked)


def upload(
    pk: int, *, uploader: Person = ALICE, community_id: int = HOME
) -> Attachment:
    return Attachment(pk=pk, uploader_id=uploader.id, community_id=community_id)


def test_own_unused_uploads_are_attached() -> None:
    uploads = {1: upload(1), 2: upload(2)}
    (plan,) = check_sends([request(attachments=(1, 2))], facts(uploads=uploads))
    assert isinstance(plan, Placement)
    assert plan.attachment_ids == (1, 2)


def test_someone_elses_used_missing_or_foreign_upload_is_bad_attachment() -> None:
    """Another's upload, one in another community, a used or missing one: the
    same error, naming the client_id."""
    uploads = {1: upload(1, uploader=BOB), 2: upload(2, community_id=HOME + 1)}
    for ids in ((1,), (2,), (3,)):
        plan = only(check_sends([request(attachments=ids)], facts(uploads=uploads)))
        assert isinstance(plan, ChatError)
        assert (plan.code, plan.client_id) == ("bad_attachment", "c1")


def test_an_upload_is_used_once_per_batch() -> None:
    uploads = {1: upload(1)}
    plans = check_sends(
        [request("a", attachments=(1,)), request("b", attachments=(1,))],
        facts(uploads=uploads),
    )
    assert isinstance(plans[0], Placement)
    assert isinstance(plans[1], ChatError)
    assert plans[1].code == "bad_attachment"
