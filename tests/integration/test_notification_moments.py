"""Push and email preferences, quiet hours and mute at the three moments the
notification decision is asked: the send (outbox), a dropped socket
(outbox_add_missed) and the job (email_batch_send, push_deliver)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conversations.models import (
    Community,
    EmailBatch,
    Participant,
    PendingNotification,
    PushSubscription,
    User,
)
from conversations.notifications.decision import QuietHours, quiet_until
from conversations.notifications.email import email_batch_send
from conversations.notifications.outbox import outbox_add_missed
from conversations.notifications.outcomes import Defer, Done
from conversations.notifications.push import push_deliver
from conversations.notifications.tasks import send_email_batch
from conversations.selectors.conversations import conversation_list_for_user
from conversations.services.preferences import preferences_update
from tests.notifications.doubles import browser_keys

from .conftest import Send

pytestmark = pytest.mark.django_db


def subscribe(user: User) -> None:
    """A browser subscription on a closed local port: a push that is wrongly
    attempted fails fast instead of leaving the machine."""
    keys = browser_keys()[2]
    PushSubscription.objects.create(
        user=user,
        endpoint=f"http://127.0.0.1:9/push/{user.username}",
        p256dh=keys["p256dh"],
        auth=keys["auth"],
    )


def jobs(name: str) -> list[DBTaskResult[Any, Any]]:
    return list(
        DBTaskResult.objects.filter(task_path__endswith=name).order_by("enqueued_at")
    )


def quiet_now() -> tuple[dict[str, Any], datetime]:
    """Quiet hours in UTC that hold now and end in one to two hours: the
    PATCH body and the instant they end."""
    hour = timezone.now().astimezone(UTC).hour
    start, end = time((hour - 1) % 24), time((hour + 2) % 24)
    ends = quiet_until(QuietHours(start, end, ZoneInfo("UTC")), timezone.now())
    assert ends is not None
    body = {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
    return {"quiet_hours": body, "time_zone": "UTC"}, ends


def mute(user: User, conversation_id: int) -> None:
    Participant.objects.filter(user=user, conversation_id=conversation_id).update(
        muted=True
    )


# At send time.


def test_email_off_and_push_on_owes_a_push_and_no_email(
    send: Send, alice: User, bob: User
) -> None:
    """email false: a push job, and the outbox row has no email batch."""
    subscribe(bob)
    preferences_update(user=bob, changes={"email": False})
    message = send(alice, "Salut", to=["bob"]).message
    (row,) = PendingNotification.objects.filter(recipient=bob)
    assert row.message_id == message["id"]
    assert row.batch is None
    assert not EmailBatch.objects.filter(recipient=bob).exists()
    assert [job.args_kwargs["args"][:2] for job in jobs("send_push")] == [
        [bob.pk, message["id"]]
    ]


def test_push_off_and_email_on_owes_an_email_and_no_push(
    send: Send, alice: User, bob: User
) -> None:
    """push false: an email batch and its job, no push job."""
    subscribe(bob)
    preferences_update(user=bob, changes={"push": False})
    send(alice, "Salut", to=["bob"])
    batch = EmailBatch.objects.get(recipient=bob)
    assert PendingNotification.objects.get(recipient=bob).batch == batch
    assert [job.args_kwargs["args"] for job in jobs("send_email_batch")] == [[batch.pk]]
    assert jobs("send_push") == []


def test_in_quiet_hours_the_batch_waits_for_their_end_and_nothing_is_pushed(
    send: Send, alice: User, bob: User
) -> None:
    """The batch (and its job) is due when the quiet hours end; no push job."""
    subscribe(bob)
    changes, ends = quiet_now()
    preferences_update(user=bob, changes=changes)
    send(alice, "Salut", to=["bob"])
    batch = EmailBatch.objects.get(recipient=bob)
    assert batch.due_at == ends
    (job,) = jobs("send_email_batch")
    assert job.run_after == ends
    assert jobs("send_push") == []


def test_a_muted_conversation_owes_nothing_at_send_time(
    send: Send, community: Community, alice: User, bob: User, carol: User
) -> None:
    """Muted by bob: no outbox row, batch or job for him; carol, not muted,
    is owed her email; bob's unread count still counts the message."""
    subscribe(bob)
    first = send(alice, "Premier", to=["bob", "carol"]).message
    EmailBatch.objects.all().delete()  # and with them, the outbox rows
    mute(bob, first["conversation"])
    send(alice, "Second", to=["bob", "carol"])
    assert not PendingNotification.objects.filter(recipient=bob).exists()
    assert not EmailBatch.objects.filter(recipient=bob).exists()
    assert PendingNotification.objects.filter(recipient=carol).exists()
    # The one push job is the first message's, sent before the mute.
    assert [job.args_kwargs["args"][:2] for job in jobs("send_push")] == [
        [bob.pk, first["id"]]
    ]
    (listed,) = conversation_list_for_user(user_id=bob.pk, community=community)
    assert listed["unread"] == 2


# When a socket drops.


def test_a_muted_conversation_owes_nothing_when_a_socket_drops(
    send: Send, community: Community, alice: User, bob: User
) -> None:
    """outbox_add_missed for a muted conversation's unread message writes
    nothing; unmuted, the same call owes the email."""
    message = send(alice, "Salut", to=["bob"]).message
    PendingNotification.objects.all().delete()
    EmailBatch.objects.all().delete()
    mute(bob, message["conversation"])
    missed = {
        "user_id": bob.pk,
        "community_id": community.pk,
        "message_ids": [message["id"]],
        "presence": None,
    }
    outbox_add_missed(**missed)
    assert not PendingNotification.objects.exists()
    Participant.objects.filter(user=bob).update(muted=False)
    outbox_add_missed(**missed)
    assert PendingNotification.objects.get().recipient == bob


# When the job runs.


def test_a_conversation_muted_after_the_send_is_left_out_of_the_email(
    send: Send, alice: User, bob: User, carol: User
) -> None:
    """Two conversations in one batch, one muted before the job: the email
    lists the other only; a batch of the muted one alone is skipped."""
    quiet = send(alice, "Dans la conversation muette", to=["bob"]).message
    send(alice, "Dans le groupe", to=["bob", "carol"])
    batch = EmailBatch.objects.get(recipient=bob)
    assert batch.items.count() == 2
    mute(bob, quiet["conversation"])
    assert email_batch_send(batch_id=batch.pk) == Done("sent")
    (sent,) = mail.outbox
    assert "Dans le groupe" in sent.body
    assert "muette" not in sent.message().as_string()

    again = send(alice, "Encore", conversation=quiet["conversation"]).message
    assert not PendingNotification.objects.filter(message_id=again["id"]).exists()
    Participant.objects.filter(user=bob).update(muted=False)
    lone = send(alice, "Seul", conversation=quiet["conversation"])
    mute(bob, quiet["conversation"])
    lone_batch = PendingNotification.objects.get(message_id=lone.message["id"]).batch
    assert lone_batch is not None
    assert email_batch_send(batch_id=lone_batch.pk) == Done("skipped")
    assert len(mail.outbox) == 1


@override_settings(PUSH_ALLOW_PRIVATE_ENDPOINTS=True)
@pytest.mark.parametrize("change", ["mute", "push off", "quiet hours"])
def test_a_push_owed_at_send_time_is_dropped_when_no_longer_wanted(
    send: Send, alice: User, bob: User, change: str
) -> None:
    """Muted, pushes turned off or quiet hours begun before the job ran: the
    push is not attempted (the closed endpoint would answer retry) and is
    marked done."""
    subscribe(bob)
    message = send(alice, "Salut", to=["bob"]).message
    if change == "mute":
        mute(bob, message["conversation"])
    elif change == "push off":
        preferences_update(user=bob, changes={"push": False})
    else:
        preferences_update(user=bob, changes=quiet_now()[0])
    outcome = push_deliver(recipient_id=bob.pk, message_id=message["id"])
    assert outcome == Done("not needed")
    assert PendingNotification.objects.get(recipient=bob).pushed


def test_an_email_due_in_quiet_hours_is_deferred_and_stays_open(
    send: Send, alice: User, bob: User
) -> None:
    """Quiet hours set after the send: the job holds the batch until their
    end (Defer; the task is enqueued again for then, no attempt counted);
    a message arriving meanwhile joins it; without quiet hours both go out
    in one email."""
    send(alice, "Premier", to=["bob"])
    batch = EmailBatch.objects.get(recipient=bob)
    changes, ends = quiet_now()
    preferences_update(user=bob, changes=changes)
    assert email_batch_send(batch_id=batch.pk) == Defer("held", until=ends)
    assert send_email_batch.call(batch.pk) == "held"
    batch.refresh_from_db()
    assert (batch.state, batch.due_at, batch.attempts) == ("pending", ends, 0)
    assert jobs("send_email_batch")[-1].run_after == ends
    send(alice, "Second", to=["bob"])
    assert EmailBatch.objects.filter(recipient=bob).count() == 1
    assert mail.outbox == []

    preferences_update(user=bob, changes={"quiet_hours": None})
    assert email_batch_send(batch_id=batch.pk) == Done("sent")
    (sent,) = mail.outbox
    assert "Premier" in sent.body
    assert "Second" in sent.body


def test_quiet_hours_of_another_zone_are_read_in_that_zone(
    send: Send, alice: User, bob: User
) -> None:
    """The same clock times in a zone where they do not hold now: the email
    goes at once and the push is owed."""
    subscribe(bob)
    changes, _ = quiet_now()
    now = timezone.now()
    far = "Pacific/Kiritimati"  # UTC+14: ten hours before the UTC window
    assert (
        quiet_until(
            QuietHours(
                time.fromisoformat(changes["quiet_hours"]["start"]),
                time.fromisoformat(changes["quiet_hours"]["end"]),
                ZoneInfo(far),
            ),
            now,
        )
        is None
    )
    preferences_update(user=bob, changes={**changes, "time_zone": far})
    send(alice, "Salut", to=["bob"])
    batch = EmailBatch.objects.get(recipient=bob)
    assert batch.due_at - now < timedelta(seconds=130)
    assert len(jobs("send_push")) == 1


def test_the_email_gives_message_times_in_the_residents_zone(
    send: Send, alice: User, bob: User
) -> None:
    """A resident in Tokyo reads the time of the message on Tokyo's clock."""
    preferences_update(user=bob, changes={"time_zone": "Asia/Tokyo"})
    message = send(alice, "Salut", to=["bob"]).message
    batch = EmailBatch.objects.get(recipient=bob)
    assert email_batch_send(batch_id=batch.pk) == Done("sent")
    sent_at = datetime.fromisoformat(message["sent_at"].replace("Z", "+00:00"))
    tokyo = sent_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%d/%m %H:%M")
    paris = sent_at.astimezone(ZoneInfo("Europe/Paris")).strftime("%d/%m %H:%M")
    (sent,) = mail.outbox
    assert tokyo in sent.body
    assert paris not in sent.body
