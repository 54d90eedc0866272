"""Email and push as separate channels, end to end: daphne, a real
notify_worker, aiosmtpd and a push service that checks VAPID and decrypts.

Push and email preferences are independent, quiet hours hold pushes back for
good and emails until their end, a muted conversation notifies nothing. Each
"nothing arrived" is checked after a later event that the same worker
produced (a control resident's push or email), never after a bare sleep.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import EMAIL_DELAY_SECONDS, Deployment, World
from .doubles import PushService, SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

EMAIL_WITHIN = EMAIL_DELAY_SECONDS + 30  # generous: a loaded two-core machine
PUSH_WITHIN = 30.0
# A zone with a half-hour offset and no clock changes: wall-clock times there
# are not UTC's, and the window cannot straddle a change while the test runs.
ZONE = "Asia/Kolkata"


@pytest.fixture
def push(deployment: Deployment, push_service: PushService) -> PushService:
    """The push service, trusting the key this deployment publishes."""
    push_service.server_key = deployment.push_key()
    return push_service


def pushed_messages(push: PushService, browser: str) -> list[int]:
    return [p.payload["message"] for p in push.received(browser) if p.payload]


def texts(smtp: SmtpServer, world: World, resident: str) -> list[str]:
    return [m.part("text/plain") for m in smtp.mails(world.email(resident))]


def test_email_off_and_push_on_sends_the_push_only(
    deployment: Deployment, smtp: SmtpServer, push: PushService
) -> None:
    """email false, push true: bob's browser gets the push; no email, checked
    once carol's email for the same message has gone out."""
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    world.preferences("bob", email=False, push=True)
    browser = world.subscribe("bob")
    message = world.send("alice", ["bob", "carol"], "Vide-grenier dimanche", "q")
    (received,) = push.wait_for(browser, timeout=PUSH_WITHIN)
    assert received.payload is not None
    assert received.payload["message"] == message["id"]
    smtp.wait_for(world.email("carol"), timeout=EMAIL_WITHIN)
    assert smtp.mails(world.email("bob")) == []


def test_push_off_and_email_on_sends_the_email_only(
    deployment: Deployment, smtp: SmtpServer, push: PushService
) -> None:
    """push false, email true: bob gets the email; no push, checked once
    carol's push for the same message and bob's email have arrived."""
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    world.preferences("bob", push=False, email=True)
    bob_browser = world.subscribe("bob")
    carol_browser = world.subscribe("carol")
    world.send("alice", ["bob", "carol"], "Vide-grenier dimanche", "q")
    push.wait_for(carol_browser, timeout=PUSH_WITHIN)
    (mail,) = smtp.wait_for(world.email("bob"), timeout=EMAIL_WITHIN)
    assert "Vide-grenier dimanche" in mail.part("text/plain")
    assert push.received(bob_browser) == []


def quiet_hours_ending_soon(at_least: float) -> tuple[dict[str, Any], float]:
    """Quiet hours in ZONE that began two hours ago and end at the first
    minute boundary at least `at_least` seconds away: the PATCH body, and
    their end on the time.monotonic() clock."""
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(ZONE))
    end = (local + timedelta(seconds=at_least)).replace(
        second=0, microsecond=0
    ) + timedelta(minutes=1)
    start = local - timedelta(hours=2)
    body = {
        "quiet_hours": {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")},
        "time_zone": ZONE,
    }
    return body, time.monotonic() + (end - now).total_seconds()


def test_quiet_hours_hold_pushes_for_good_and_the_email_until_their_end(
    deployment: Deployment, smtp: SmtpServer, push: PushService
) -> None:
    """Two messages during bob's quiet hours (in his zone): no push, then or
    later; one email listing both, sent once the quiet hours end and only
    once. carol, without quiet hours, is pushed and emailed as usual."""
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    bob_browser = world.subscribe("bob")
    carol_browser = world.subscribe("carol")
    world.cookies("alice")  # logged in beforehand: the window is short
    quiet, ends = quiet_hours_ending_soon(at_least=20)
    assert world.preferences("bob", **quiet)["quiet_hours"] == quiet["quiet_hours"]
    world.send("alice", ["bob", "carol"], "Premier message de nuit", "q")
    world.send("alice", ["bob", "carol"], "Second message de nuit", "q")
    assert time.monotonic() < ends, "the quiet hours ended before the test's sends"

    push.wait_for(carol_browser, 2, timeout=PUSH_WITHIN)
    smtp.wait_for(world.email("carol"), timeout=EMAIL_WITHIN)

    (mail,) = smtp.wait_for(
        world.email("bob"), timeout=ends - time.monotonic() + EMAIL_WITHIN
    )
    # 0.5 s of slack: `ends` maps a wall-clock instant onto the monotonic clock.
    assert mail.received_at >= ends - 0.5
    assert "Premier message de nuit" in mail.part("text/plain")
    assert "Second message de nuit" in mail.part("text/plain")

    # Past the end: a later message's email proves every job due by then ran.
    world.send("alice", ["carol"], "Plus tard", "q")
    smtp.wait_for(world.email("carol"), 2, timeout=EMAIL_WITHIN)
    assert len(smtp.mails(world.email("bob"))) == 1
    assert push.received(bob_browser) == []


async def test_a_muted_conversation_notifies_nothing_and_joins_no_email(
    deployment: Deployment, smtp: SmtpServer, push: PushService, connect: Any
) -> None:
    """bob mutes his conversation with alice. Its messages still arrive live
    and count as unread, but are neither pushed nor emailed: not while his
    tab is idle (not even in the email that a message of their group
    conversation sets off), nor when his active tab drops right after
    delivering them (the group's message then is owed, theirs is not)."""
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    browser = world.subscribe("bob")
    pair = world.send("alice", ["bob"], "Installation", "q")["conversation"]
    group = world.send("alice", ["bob", "carol"], "Installation", "q")["conversation"]
    smtp.wait_for(world.email("bob"), timeout=EMAIL_WITHIN)  # the set-up's email
    push.wait_for(browser, 2, timeout=PUSH_WITHIN)
    deployment.shell(
        "from conversations.models import Participant; "
        f"Participant.objects.filter(conversation_id={pair}, "
        f"user__username={world.users['bob']!r}).update(muted=True)"
    )

    # Away: an idle tab.
    tab = await connect(world, "bob", "q")
    await tab.send_json({"type": "presence", "state": "idle"})
    await tab.ping()
    muted = [world.send("alice", ["bob"], "Code du portail 4821", "q")["id"]]
    heard = world.send("alice", ["bob", "carol"], "Apéro vendredi", "q")["id"]
    live = {(await tab.next_of("message.new"))["message"]["id"] for _ in range(2)}
    assert live == {muted[0], heard}
    push.wait_for(browser, 3, timeout=PUSH_WITHIN)
    mails = smtp.wait_for(world.email("bob"), 2, timeout=EMAIL_WITHIN)
    assert "Apéro vendredi" in mails[1].part("text/plain")
    unread = {
        c["id"]: c["unread"] for c in world.http("bob").conversations(world.slugs["q"])
    }
    assert (unread[pair], unread[group]) == (2, 2)

    # Active, then the tab drops: one decision for both messages it carried.
    await tab.send_json({"type": "presence", "state": "active"})
    await tab.ping()
    muted.append(world.send("alice", ["bob"], "Alarme 1234", "q")["id"])
    world.send("alice", ["bob", "carol"], "Et samedi ?", "q")
    for _ in range(2):
        await tab.next_of("message.new")
    await tab.close()
    mails = smtp.wait_for(world.email("bob"), 3, timeout=EMAIL_WITHIN)
    assert "Et samedi ?" in mails[2].part("text/plain")
    push.wait_for(browser, 4, timeout=PUSH_WITHIN)

    assert not [t for t in texts(smtp, world, "bob") if "4821" in t or "1234" in t]
    assert not set(muted) & set(pushed_messages(push, browser))
