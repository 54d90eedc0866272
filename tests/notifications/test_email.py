"""Offline email, end to end: daphne, `manage.py notify_worker`, a real SMTP
server. The delay is EMAIL_DELAY_SECONDS; "no email" is always checked after
a control recipient of the same message got theirs and every email job has
finished."""

from __future__ import annotations

import time
from html import escape
from typing import Any

import pytest

from .conftest import EMAIL_DELAY_SECONDS, JOB_WITHIN, SITE_URL, Deployment, World
from .doubles import Mail, SmtpServer

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# A window long enough for a login, a socket and a read on a loaded machine.
LONG_DELAY_SECONDS = 20


def only_email(smtp: SmtpServer, world: World, resident: str) -> Mail:
    """The one email `resident` gets (fails on none or on a second one)."""
    smtp.wait_for(world.email(resident), timeout=LONG_DELAY_SECONDS + JOB_WITHIN)
    world.deployment.wait_jobs_done("send_email_batch")
    mails = smtp.mails(world.email(resident))
    assert len(mails) == 1, [m.message["Subject"] for m in mails]
    return mails[0]


def assert_no_email(smtp: SmtpServer, world: World, *residents: str) -> None:
    for resident in residents:
        assert smtp.mails(world.email(resident)) == [], resident


def test_three_messages_in_the_window_make_one_email_listing_them(
    deployment: Deployment, smtp: SmtpServer
) -> None:
    """Three messages to an offline resident within the delay: exactly one
    email, sent after the delay, listing the three; nothing to the sender."""
    world = deployment.world({"q": ["alice", "bob"]})
    bodies = ["Tondeuse samedi ?", "Ou dimanche matin.", "Merci d'avance !"]
    first = time.monotonic()
    for body in bodies:
        world.send("alice", ["bob"], body, "q")
    mail = only_email(smtp, world, "bob")
    assert mail.received_at - first >= EMAIL_DELAY_SECONDS - 0.5
    assert mail.received_at - first <= EMAIL_DELAY_SECONDS + JOB_WITHIN
    assert mail.message["Subject"] == "3 nouveaux messages de vos voisins"
    text = mail.part("text/plain")
    for body in bodies:
        assert body in text
        assert escape(body) in mail.part("text/html")
    assert_no_email(smtp, world, "alice")


async def test_online_recipient_gets_no_email(
    deployment: Deployment, smtp: SmtpServer, connect: Any
) -> None:
    """A participant with a socket open in the community is not emailed; an
    offline one of the same message is."""
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    bob = await connect(world, "bob", "q")
    world.send("alice", ["bob", "carol"], "Réunion ce soir", "q")
    await bob.next_of("message.new")
    only_email(smtp, world, "carol")
    assert_no_email(smtp, world, "bob", "alice")


async def test_message_read_within_the_window_is_not_emailed(
    new_deployment: Any, smtp: SmtpServer, connect: Any
) -> None:
    """A recipient who reads (message.read) before the delay ends gets no
    email for it; the other, unread recipient does."""
    deployment: Deployment = new_deployment(
        smtp.url, NOTIFY_EMAIL_DELAY_SECONDS=str(LONG_DELAY_SECONDS)
    )
    deployment.start_worker()
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    world.cookies("bob")  # log in beforehand: the window is short
    message = world.send("alice", ["bob", "carol"], "Colis chez moi", "q")
    committed = time.monotonic()
    bob = await connect(world, "bob", "q")
    await bob.mark_read(message["conversation"], message["id"])
    await bob.ping()  # frames are handled in order: the read is stored
    await bob.close()
    assert time.monotonic() - committed < LONG_DELAY_SECONDS, "read too late"
    only_email(smtp, world, "carol")
    assert_no_email(smtp, world, "bob")


def test_no_email_when_turned_off(deployment: Deployment, smtp: SmtpServer) -> None:
    """PATCH /api/me/preferences/ {"email": false}: no email."""
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    assert world.preferences("bob", email=False)["email"] is False
    world.send("alice", ["bob", "carol"], "Fête des voisins", "q")
    only_email(smtp, world, "carol")
    assert_no_email(smtp, world, "bob")


def test_community_forcing_text_out_hides_it(
    deployment: Deployment, smtp: SmtpServer
) -> None:
    """A community with force_hide_text: the email says a message came, not
    what it says, even to a resident who allows text."""
    world = deployment.world({"q": ["alice", "bob"]})
    deployment.shell(
        "from conversations.models import Community; "
        f"Community.objects.filter(slug={world.slugs['q']!r})"
        ".update(force_hide_text=True)"
    )
    assert world.preferences("bob")["email_include_text"] is True
    world.send("alice", ["bob"], "Code du portail 4821", "q")
    mail = only_email(smtp, world, "bob")
    assert "4821" not in mail.message.as_string()
    assert "Le texte n'est pas inclus" in mail.part("text/plain")


def test_resident_refusing_text_gets_it_hidden(
    deployment: Deployment, smtp: SmtpServer
) -> None:
    """email_include_text false: the email carries no message text."""
    world = deployment.world({"q": ["alice", "bob"]})
    world.preferences("bob", email_include_text=False)
    world.send("alice", ["bob"], "Code du portail 4821", "q")
    mail = only_email(smtp, world, "bob")
    assert "4821" not in mail.message.as_string()


async def test_away_recipient_is_emailed(
    deployment: Deployment, smtp: SmtpServer, connect: Any
) -> None:
    """A resident whose only socket said idle is away and gets an email; one
    with an idle and an active socket is online and does not."""
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    bob = await connect(world, "bob", "q")
    await bob.presence("idle")
    await bob.ping()
    carol_idle = await connect(world, "carol", "q")
    await carol_idle.presence("idle")
    await carol_idle.ping()
    await connect(world, "carol", "q")
    world.send("alice", ["bob", "carol"], "Tu es là ?", "q")
    only_email(smtp, world, "bob")
    assert_no_email(smtp, world, "carol")


def test_email_has_both_parts_links_and_unsubscribe_headers(
    deployment: Deployment, smtp: SmtpServer
) -> None:
    """Text and HTML parts, a link to the conversation under SITE_URL,
    RFC 8058 headers, and a From that is never the sender's address."""
    world = deployment.world({"q": ["alice", "bob"]})
    message = world.send("alice", ["bob"], "Bonjour Bob", "q")
    mail = only_email(smtp, world, "bob")
    headers = mail.message
    assert headers.get_content_type() == "multipart/alternative"
    slug, conversation = world.slugs["q"], message["conversation"]
    link = f"{SITE_URL}/?community={slug}&conversation={conversation}"
    assert link in mail.part("text/plain")
    assert f'href="{escape(link)}"' in mail.part("text/html")
    unsubscribe = str(headers["List-Unsubscribe"]).strip()  # may be folded
    assert unsubscribe.startswith(f"<{SITE_URL}/unsubscribe/")
    assert unsubscribe.endswith("/>")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    alice = world.email("alice")
    assert alice not in str(headers["From"])
    assert alice not in mail.mail_from
    assert alice not in str(headers.get("Reply-To", ""))
    assert headers["To"] == world.email("bob")


def test_email_is_french_by_default_and_english_on_request(
    deployment: Deployment, smtp: SmtpServer
) -> None:
    """language defaults to "fr"; a resident who chose "en" gets English."""
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    assert world.preferences("bob")["language"] == "fr"
    world.preferences("carol", language="en")
    world.send("alice", ["bob", "carol"], "Salut", "q")
    french = only_email(smtp, world, "bob")
    english = only_email(smtp, world, "carol")
    sender = world.users["alice"].title()
    assert french.message["Subject"] == f"Nouveau message de {sender}"
    assert french.part("text/plain").startswith("Bonjour")
    assert english.message["Subject"] == f"New message from {sender}"
    assert english.part("text/plain").startswith("Hello")
    assert 'lang="en"' in english.part("text/html")
