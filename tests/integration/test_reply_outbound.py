"""Notification emails with a reply domain: Reply-To, envelope sender and the
line saying where a reply goes; a bouncing address gets nothing. The last
test hands the email to a real SMTP server (aiosmtpd) through Django's SMTP
backend, which is how the envelope sender reaches the world."""

from __future__ import annotations

import threading
from email.utils import parseaddr
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.mail.backends.smtp import EmailBackend

from conversations.mail.addresses import parse_address
from conversations.models import EmailBatch, MailToken, User
from conversations.notifications.email import email_batch_send
from tests.support.servers import free_port

from .conftest import Send

pytestmark = pytest.mark.django_db

DOMAIN = "reply.voisins.example.test"
FROM = "Voisins <no-reply@voisins.example.test>"


@pytest.fixture(autouse=True)
def mail_settings(settings: Any) -> None:
    settings.REPLY_EMAIL_DOMAIN = DOMAIN
    settings.DEFAULT_FROM_EMAIL = FROM


def send_batch_of(user: User) -> EmailBatch:
    batch = EmailBatch.objects.get(recipient=user, state=EmailBatch.State.PENDING)
    email_batch_send(batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def token_row(address: str) -> MailToken:
    parsed = parse_address(parseaddr(address)[1], DOMAIN)
    assert parsed is not None, address
    return MailToken.objects.get(kind=parsed.kind, token=parsed.token)


def test_reply_to_names_the_conversation_and_the_envelope_the_resident(
    send: Send, alice: User, bob: User
) -> None:
    """Reply-To is reply+<token> for (bob, that conversation), the envelope
    sender bounce+<token> for bob; the visible From is unchanged and the text
    says where a reply goes."""
    conversation = send(alice, "Tondeuse ?", to=["bob"]).message["conversation"]
    assert send_batch_of(bob).state == EmailBatch.State.SENT
    (email,) = mail.outbox
    reply = token_row(email.message()["Reply-To"])
    assert (reply.kind, reply.user_id, reply.conversation_id) == (
        "reply",
        bob.pk,
        conversation,
    )
    bounce = token_row(email.from_email)
    assert (bounce.kind, bounce.user_id, bounce.conversation_id) == (
        "bounce",
        bob.pk,
        None,
    )
    assert email.message()["From"] == FROM
    assert "votre réponse sera envoyée dans la conversation avec Alice" in email.body
    assert "la plus récente" not in email.body


def test_an_email_about_several_conversations_answers_the_newest(
    send: Send, alice: User, bob: User, carol: User
) -> None:
    """Two conversations in one email: Reply-To goes to the newest message's
    conversation, and the text says it is the most recent one."""
    send(alice, "Tondeuse ?", to=["bob"])
    newest = send(carol, "Apéro ?", to=["bob"]).message["conversation"]
    send_batch_of(bob)
    (email,) = mail.outbox
    assert token_row(email.message()["Reply-To"]).conversation_id == newest
    assert "conversation avec Carole Dubois" in email.body
    assert "la plus récente de cet e-mail" in email.body


def test_without_a_reply_domain_nothing_changes(
    send: Send, alice: User, bob: User, settings: Any
) -> None:
    settings.REPLY_EMAIL_DOMAIN = ""
    send(alice, "Tondeuse ?", to=["bob"])
    send_batch_of(bob)
    (email,) = mail.outbox
    assert email.from_email == FROM
    assert email.message()["Reply-To"] is None
    assert "répondre à cet e-mail" not in email.body
    assert not MailToken.objects.exists()


def test_a_bouncing_address_gets_no_email(send: Send, alice: User, bob: User) -> None:
    """The decision sees no address: the batch is skipped, nothing is sent."""
    send(alice, "Tondeuse ?", to=["bob"])
    User.objects.filter(pk=bob.pk).update(email_status="bouncing")
    assert send_batch_of(bob).state == EmailBatch.State.SKIPPED
    assert mail.outbox == []


class Recorder:
    def __init__(self) -> None:
        self.envelopes: list[tuple[str, list[str], bytes]] = []
        self.received = threading.Event()

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        self.envelopes.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        self.received.set()
        return "250 OK"


def test_over_smtp_the_envelope_sender_is_the_bounce_address(
    send: Send, alice: User, bob: User, settings: Any
) -> None:
    """Django's SMTP backend sends MAIL FROM:<bounce+…> while the message's
    From header stays DEFAULT_FROM_EMAIL."""
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
        assert EmailBackend().port == controller.port
        send(alice, "Tondeuse ?", to=["bob"])
        send_batch_of(bob)
        assert recorder.received.wait(timeout=20)
    finally:
        controller.stop()
    ((mail_from, rcpt_tos, raw),) = recorder.envelopes
    assert token_row(mail_from).user_id == bob.pk
    assert rcpt_tos == [bob.email]
    assert b"\r\nFrom: Voisins <no-reply@voisins.example.test>\r\n" in raw
