"""The rules of notification, in process (pytest-django): push endpoint
checks (SSRF), unsubscribe tokens, header-safe names, preference validation,
push payload size."""

from __future__ import annotations

import json
from email import message_from_bytes, policy

import pytest
from django.core import mail, signing
from django.test import Client, override_settings

from conversations.errors import BadRequest
from conversations.models import (
    Community,
    EmailBatch,
    Message,
    PendingNotification,
    User,
)
from conversations.notifications.content import safe_name
from conversations.notifications.email import email_batch_send
from conversations.notifications.outcomes import Done
from conversations.notifications.push import endpoint_refusal, push_payload
from conversations.notifications.tokens import unsubscribe_token, unsubscribe_user_id
from conversations.services.access import community_create, resident_add
from conversations.services.preferences import preferences_update
from conversations.services.send import SendRequest, message_send

from .doubles import browser_keys

DEFAULTS = {
    "email": True,
    "email_include_text": True,
    "language": "fr",
    "push": True,
    "quiet_hours": None,
    "time_zone": "Europe/Paris",
    "email_status": "ok",
}

REFUSED = [
    "http://8.8.8.8/push",  # not https
    "ftp://8.8.8.8/push",
    "https://localhost/push",
    "https://push.localhost/push",
    "https://printer.local/push",
    "https://127.0.0.1/push",
    "https://127.1/push",  # shorthand for 127.0.0.1
    "https://2130706433/push",  # 127.0.0.1 as one number
    "https://10.1.2.3/push",
    "https://172.16.0.1/push",
    "https://192.168.1.1/push",
    "https://100.64.0.1/push",  # carrier-grade NAT
    "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
    "https://0.0.0.0/push",
    "https://[::1]/push",
    "https://[fe80::1]/push",
    "https://[fc00::1]/push",
    "https://[::ffff:127.0.0.1]/push",
    "https://user:pw@8.8.8.8/push",  # credentials
    "https://8.8.8.8@127.0.0.1/push",
    "https:///push",
    "https://[::1/push",
    "not a url",
]
ACCEPTED = [
    "https://8.8.8.8/push/abc",
    "https://1.1.1.1:8443/push",
    "https://[2001:4860:4860::8888]/push",
]


@override_settings(PUSH_ALLOW_PRIVATE_ENDPOINTS=False)
@pytest.mark.parametrize("endpoint", REFUSED)
def test_private_or_malformed_push_endpoints_are_refused(endpoint: str) -> None:
    """Only https on a public address: never the server's own network."""
    assert endpoint_refusal(endpoint) is not None


@override_settings(PUSH_ALLOW_PRIVATE_ENDPOINTS=False)
@pytest.mark.parametrize("endpoint", ACCEPTED)
def test_public_https_endpoints_are_accepted(endpoint: str) -> None:
    """A public IP literal over https is fine (no lookup needed)."""
    assert endpoint_refusal(endpoint) is None


@override_settings(PUSH_ALLOW_PRIVATE_ENDPOINTS=True)
def test_private_endpoints_flag_allows_local_http_but_not_credentials() -> None:
    """PUSH_ALLOW_PRIVATE_ENDPOINTS (tests only) opens http and loopback,
    not URLs with credentials or other schemes."""
    assert endpoint_refusal("http://127.0.0.1:9/push/x") is None
    assert endpoint_refusal("http://u:p@127.0.0.1:9/push/x") is not None
    assert endpoint_refusal("ftp://127.0.0.1/push") is not None


@pytest.mark.django_db
@override_settings(PUSH_ALLOW_PRIVATE_ENDPOINTS=False)
def test_api_refuses_private_subscriptions_with_400() -> None:
    """POST /api/push/subscriptions/ with a plain-http or private endpoint:
    400 bad_request, nothing stored; a public https one: 201."""
    community, _ = community_create(slug="q", name="Q")
    bob, _ = resident_add(community=community, username="bob", email="b@example.org")
    client = Client()
    client.force_login(bob)
    subscription = {"keys": browser_keys()[2]}
    for endpoint in ("http://127.0.0.1:9/push", "https://10.0.0.1/push"):
        answer = client.post(
            "/api/push/subscriptions/",
            {**subscription, "endpoint": endpoint},
            content_type="application/json",
        )
        assert answer.status_code == 400, endpoint
        assert answer.json()["code"] == "bad_request"
    assert not bob.push_subscriptions.exists()
    answer = client.post(
        "/api/push/subscriptions/",
        {**subscription, "endpoint": "https://8.8.8.8/push/abc"},
        content_type="application/json",
    )
    assert answer.status_code == 201


def test_unsubscribe_token_names_its_resident_and_nothing_else() -> None:
    """A token gives back its user id; altered, re-salted, re-keyed or
    non-integer tokens give None."""
    token = unsubscribe_token(42)
    assert unsubscribe_user_id(token) == 42
    assert unsubscribe_user_id(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert unsubscribe_user_id(signing.dumps(42, salt="other")) is None
    assert (
        unsubscribe_user_id(signing.dumps("42", salt="conversations.unsubscribe"))
        is None
    )
    assert (
        unsubscribe_user_id(signing.dumps(True, salt="conversations.unsubscribe"))
        is None
    )
    assert unsubscribe_user_id("") is None
    with override_settings(SECRET_KEY="another-deployment-key-0123456789abcdef"):
        foreign = unsubscribe_token(42)
    assert unsubscribe_user_id(foreign) is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Mallory\r\nBcc: x@y", "Mallory Bcc: x@y"),
        ("Eve\nSubject: hi", "Eve Subject: hi"),
        ("A\x00B\x1bC", "A B C"),
        ("bidi\u202etxt.exe", "bidi txt.exe"),
        ("\r\n", "?"),
        ("x" * 200, "x" * 80),
    ],
)
def test_safe_name_is_one_clean_line(name: str, expected: str) -> None:
    """No CR, LF, control or format characters survive into a header."""
    assert safe_name(name) == expected


@pytest.mark.django_db
def test_display_name_cannot_inject_email_headers() -> None:
    """A sender named "Mallory\\r\\nBcc: ..." yields a one-line Subject and
    no Bcc header or recipient in the email actually sent."""
    community, _ = community_create(slug="q", name="Q\r\nX-Evil: 1")
    mallory, _ = resident_add(
        community=community, username="mallory", email="m@example.org"
    )
    User.objects.filter(pk=mallory.pk).update(
        display_name="Mallory\r\nBcc: evil@example.org"
    )
    mallory.refresh_from_db()
    bob, _ = resident_add(community=community, username="bob", email="b@example.org")
    message_send(
        SendRequest.of(mallory, community, client_id="c1", body="Salut", to=("bob",))
    )
    batch = EmailBatch.objects.get(recipient=bob)
    assert email_batch_send(batch_id=batch.pk) == Done("sent")
    (sent,) = mail.outbox
    assert sent.recipients() == ["b@example.org"]
    raw = sent.message().as_bytes()
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["X-Evil"] is None
    assert "\n" not in str(parsed["Subject"])
    assert b"\nBcc:" not in raw
    assert b"\nX-Evil:" not in raw


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {"sms": True},
        {"push": "false"},
        {"email": "false"},
        {"email": 0},
        {"email": None},
        {"email_include_text": "yes"},
        {"language": "de"},
        {"language": "FR"},
        {"language": 1},
        {"language": None},
    ],
)
def test_invalid_preferences_are_refused_and_change_nothing(
    changes: dict[str, object],
) -> None:
    """Unknown fields, wrong types and unknown languages: BadRequest."""
    community, _ = community_create(slug="q", name="Q")
    bob, _ = resident_add(community=community, username="bob", email="b@example.org")
    with pytest.raises(BadRequest):
        preferences_update(user=bob, changes=changes)
    assert preferences_update(user=bob, changes={}) == DEFAULTS


@pytest.mark.django_db
def test_preferences_patch_keeps_the_other_fields() -> None:
    """A partial update changes only what it names."""
    community, _ = community_create(slug="q", name="Q")
    bob, _ = resident_add(community=community, username="bob", email="b@example.org")
    preferences_update(user=bob, changes={"language": "en"})
    result = preferences_update(user=bob, changes={"email": False})
    assert result == {**DEFAULTS, "email": False, "language": "en"}


@pytest.mark.parametrize("body", ["a" * 5000, "é" * 5000, "🏠" * 5000])
def test_push_payload_stays_small_with_a_maximal_body(body: str) -> None:
    """A 5,000-character body still makes a payload under 3,000 bytes (the
    push service accepts 4 KiB after encryption)."""
    sender = User(username="alice", display_name="A" * 150)
    community = Community(slug="q" * 50, name="Q")
    message = Message(
        pk=10**15, conversation_id=10**15, community=community, sender=sender, body=body
    )
    notification = PendingNotification(message=message)
    data = push_payload(notification, "fr", text=True)
    assert len(data.encode()) < 3000
    payload = json.loads(data)
    assert payload["body"]
    assert body.startswith(payload["body"].rstrip("…"))


@pytest.mark.django_db
def test_unsubscribe_link_of_a_deleted_account_does_not_fail() -> None:
    """One-click POST with the valid token of an account deleted since the
    email went out: a normal answer (nothing left to send), never a 500."""
    community, _ = community_create(slug="q", name="Q")
    bob, _ = resident_add(community=community, username="bob", email="b@example.org")
    token = unsubscribe_token(bob.pk)
    bob.delete()
    answer = Client().post(f"/unsubscribe/{token}/")
    assert answer.status_code < 500
