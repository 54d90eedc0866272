"""Reply by email and bounces, through the services `inbound_mail` calls,
against a real database (the SMTP side is in tests/notifications/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from conversations.limits import ResidentLimits
from conversations.mail import receive
from conversations.mail.addresses import address_of
from conversations.mail.receive import message_receive, recipient_check
from conversations.mail.tokens import mail_token_for
from conversations.models import (
    Block,
    Community,
    MailToken,
    Membership,
    Message,
    User,
)
from conversations.services.access import (
    membership_remove,
    membership_suspend,
    resident_add,
    resident_revoke_access,
)

from .conftest import Send

pytestmark = pytest.mark.django_db

DOMAIN = "reply.voisins.example.test"
FIXTURES = Path(__file__).resolve().parents[1] / "notifications" / "mail_fixtures"


@pytest.fixture(autouse=True)
def reply_domain(settings: Any) -> None:
    settings.REPLY_EMAIL_DOMAIN = DOMAIN


def reply_address(user: User, conversation_id: int) -> str:
    token = mail_token_for(
        kind=MailToken.Kind.REPLY, user_id=user.pk, conversation_id=conversation_id
    )
    return address_of("reply", token, DOMAIN)


def bounce_address(user: User) -> str:
    token = mail_token_for(
        kind=MailToken.Kind.BOUNCE, user_id=user.pk, conversation_id=None
    )
    return address_of("bounce", token, DOMAIN)


def reply_mail(body: str, *, message_id: str | None = None, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Bob <bob@example.org>"
    message["To"] = "Voisins <reply@example>"
    message["Subject"] = "Re: Nouveau message"
    message["Message-ID"] = message_id or make_msgid(domain="example.org")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def deliver(address: str, raw: bytes, mail_from: str = "bob@example.org") -> str:
    reply = message_receive(
        address=address, domain=DOMAIN, mail_from=mail_from, raw=raw
    )
    return str(reply)


@pytest.fixture
def conversation(send: Send, alice: User, bob: User) -> int:
    """A conversation alice started with bob; bob answers by email."""
    return send(alice, "Je peux emprunter ta tondeuse ?", to=["bob"]).message[
        "conversation"
    ]


def bodies(conversation: int) -> list[str]:
    return list(
        Message.objects.filter(conversation_id=conversation)
        .order_by("id")
        .values_list("body", flat=True)
    )


def test_reply_posts_its_new_text_as_the_resident(conversation: int, bob: User) -> None:
    """The new text is stored as bob's message in that conversation; the
    quoted history is not."""
    raw = reply_mail(
        "Oui, passe samedi.\n\nLe 26/11/2026 à 09:16, Voisins a écrit :\n> Je peux"
    )
    assert deliver(reply_address(bob, conversation), raw).startswith("250 ")
    last = Message.objects.filter(conversation_id=conversation).latest("id")
    assert (last.sender_id, last.body) == (bob.pk, "Oui, passe samedi.")


def test_the_same_message_id_twice_posts_once(conversation: int, bob: User) -> None:
    """A resent email (same Message-ID) answers 250 and stores nothing new."""
    raw = reply_mail("Je confirme.", message_id="<same-id@example.org>")
    address = reply_address(bob, conversation)
    assert deliver(address, raw) == "250 2.0.0 Posted."
    assert deliver(address, raw) == "250 2.0.0 Already posted."
    assert bodies(conversation).count("Je confirme.") == 1


def test_forged_or_foreign_addresses_are_refused_at_rcpt(
    conversation: int, bob: User
) -> None:
    """An unknown token, another domain or another local part: 550."""
    good = reply_address(bob, conversation)
    forged = good.replace(good[6:10], "aaaa")
    for address in (
        forged,
        good.replace(DOMAIN, "example.org"),
        f"postmaster@{DOMAIN}",
    ):
        assert str(recipient_check(address=address, domain=DOMAIN)).startswith("550 ")
    assert recipient_check(address=good, domain=DOMAIN).accepted


@pytest.mark.parametrize(
    "revoke",
    [
        lambda user, community: membership_suspend(
            membership=Membership.objects.get(user=user, community=community)
        ),
        lambda user, community: membership_remove(
            membership=Membership.objects.get(user=user, community=community)
        ),
        lambda user, community: resident_revoke_access(user_id=user.pk),
    ],
    ids=["suspended", "removed", "deactivated"],
)
def test_an_ended_membership_deletes_the_reply_tokens_at_once(
    conversation: int,
    bob: User,
    community: Community,
    revoke: Callable[[User, Community], None],
) -> None:
    """Suspension, removal or deactivation: the reply address answers 550
    and its token row is gone."""
    address = reply_address(bob, conversation)
    revoke(bob, community)
    assert not MailToken.objects.filter(user=bob, kind="reply").exists()
    assert str(recipient_check(address=address, domain=DOMAIN)).startswith("550 ")


def test_membership_is_checked_at_use_time_too(
    conversation: int, bob: User, community: Community
) -> None:
    """A suspension that bypassed the service (a bulk update) still stops
    the reply address: the token is checked against the membership."""
    address = reply_address(bob, conversation)
    Membership.objects.filter(user=bob).update(status=Membership.Status.SUSPENDED)
    assert str(recipient_check(address=address, domain=DOMAIN)).startswith("550 ")
    assert deliver(address, reply_mail("Toujours là ?")).startswith("550 5.1.1")


def test_blocked_reply_is_refused_with_5xx_and_not_posted(
    conversation: int, alice: User, bob: User
) -> None:
    Block.objects.create(blocker=alice, blocked=bob)
    before = bodies(conversation)
    answer = deliver(reply_address(bob, conversation), reply_mail("Coucou"))
    assert answer == "550 5.7.1 A participant does not accept your messages."
    assert bodies(conversation) == before


def test_too_long_empty_and_automatic_replies_post_nothing(
    conversation: int, bob: User
) -> None:
    """Over 5,000 characters: 550 5.3.4; nothing new once quotes are gone:
    550 5.6.0; an out-of-office reply or a null sender: 250, dropped."""
    address = reply_address(bob, conversation)
    before = bodies(conversation)
    assert deliver(address, reply_mail("x" * 5001)).startswith("550 5.3.4 ")
    empty = reply_mail("\nOn Thu, Voisins wrote:\n> Je peux emprunter ?\n")
    assert deliver(address, empty).startswith("550 5.6.0 ")
    away = reply_mail("Je suis absent.", Auto_Submitted="auto-replied")
    assert deliver(address, away) == "250 2.0.0 Automatic replies are not posted."
    assert deliver(address, reply_mail("Bonjour"), mail_from="").startswith("250 ")
    assert bodies(conversation) == before


def test_rate_limited_reply_is_refused_and_not_posted(
    conversation: int,
    bob: User,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the resident's send budget (CHAT_SEND_RATE): 550 5.7.1."""
    settings.CHAT_SEND_RATE = (0.001, 1)
    monkeypatch.setattr(receive, "resident_limits", ResidentLimits())
    address = reply_address(bob, conversation)
    assert deliver(address, reply_mail("Un")).startswith("250 ")
    assert deliver(address, reply_mail("Deux")).startswith("550 5.7.1 ")
    assert "Deux" not in bodies(conversation)


def test_reply_token_is_one_per_resident_and_conversation(
    conversation: int, bob: User
) -> None:
    assert reply_address(bob, conversation) == reply_address(bob, conversation)
    assert MailToken.objects.filter(user=bob, kind="reply").count() == 1


# Bounces


def dsn(name: str, user: User) -> bytes:
    raw = (FIXTURES / name).read_bytes().replace(b"RECIPIENT", user.email.encode())
    return raw.replace(b"BOUNCE_ADDRESS", bounce_address(user).encode())


def status_of(user: User) -> str:
    return User.objects.get(pk=user.pk).email_status


def test_permanent_failure_marks_bouncing_and_a_delay_does_not(bob: User) -> None:
    address = bounce_address(bob)
    assert deliver(address, dsn("dsn_temporary.eml", bob), mail_from="") == (
        "250 2.0.0 Received."
    )
    assert status_of(bob) == "ok"
    deliver(address, dsn("dsn_permanent.eml", bob), mail_from="")
    assert status_of(bob) == "bouncing"


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_preferences_show_the_email_status_and_confirm_resets_it(bob: User) -> None:
    """GET /api/me/preferences/ says bouncing; POST /api/me/email/confirm/
    makes it ok, and bounces of earlier emails no longer count."""
    old_bounce_address = bounce_address(bob)
    deliver(old_bounce_address, dsn("dsn_permanent.eml", bob), mail_from="")
    client = logged_in(bob)
    assert client.get("/api/me/preferences/").json()["email_status"] == "bouncing"
    answer = client.post("/api/me/email/confirm/")
    assert (answer.status_code, answer.json()) == (200, {"email_status": "ok"})
    assert client.get("/api/me/preferences/").json()["email_status"] == "ok"
    late = deliver(old_bounce_address, dsn("dsn_permanent.eml", bob), mail_from="")
    assert late.startswith("550 ")
    assert status_of(bob) == "ok"


def test_confirm_needs_a_logged_in_resident() -> None:
    answer = Client().post("/api/me/email/confirm/")
    assert answer.status_code == 401


@pytest.mark.parametrize("how", ["service", "save", "update_fields"])
def test_any_change_of_address_resets_the_status(
    bob: User, community: Community, how: str
) -> None:
    """addresident/import (resident_add), the admin (a full save) or a save
    of the email field alone: a new address starts ok."""
    User.objects.filter(pk=bob.pk).update(email_status="bouncing")
    user = User.objects.get(pk=bob.pk)
    if how == "service":
        resident_add(community=community, username="bob", email="bob@new.example")
    else:
        user.email = "bob@new.example"
        user.save(**({"update_fields": ["email"]} if how == "update_fields" else {}))
    assert status_of(bob) == "ok"


def test_saving_without_changing_the_address_keeps_bouncing(bob: User) -> None:
    User.objects.filter(pk=bob.pk).update(email_status="bouncing")
    user = User.objects.get(pk=bob.pk)
    user.display_name = "Bob L."
    user.save()
    assert status_of(bob) == "bouncing"


def test_preferences_patch_answers_with_the_email_status(bob: User) -> None:
    answer = logged_in(bob).patch(
        "/api/me/preferences/",
        data=json.dumps({"language": "en"}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["email_status"] == "ok"
