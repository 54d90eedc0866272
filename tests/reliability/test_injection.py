"""Injection: hostile text stays text in pages, JSON, emails and pushes;
display names cannot forge email headers; push endpoints cannot aim the
server at its own network.

Forged unsubscribe tokens are covered over a real SMTP round trip in
tests/notifications/test_unsubscribe.py; the in-process check here adds the
token shapes an attacker would try first.
"""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from typing import Any

import pytest
from django.core import mail, signing
from django.test import Client
from django_tasks_db.models import DBTaskResult

from conversations.models import (
    Community,
    NotificationPreference,
    PendingNotification,
    PushSubscription,
    User,
)
from conversations.notifications.push import push_payload
from conversations.notifications.tokens import unsubscribe_token
from conversations.services.access import community_create, resident_add
from conversations.services.send import SendRequest, message_send

from .figures import record

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
PAYLOADS = [
    SCRIPT,
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(document.cookie)</script>",
    "<!--<script>",
    "javascript:alert(1)",
    "{{ 7*7 }} {% debug %}",
    "\u202egnp.exe",
]
HOSTILE_NAMES = [
    "Eve\r\nBcc: victim@evil.example",
    "Eve\nX-Injected: 1",
    "=?utf-8?q?Eve=0D=0ABcc=3A_victim=40evil=2Eexample?=",
    "Eve\u2028Bcc: victim@evil.example",
    'Eve" <attacker@evil.example>, "',
    SCRIPT,
]


@pytest.fixture
def community() -> Community:
    return community_create(slug="injection", name=f"Quartier {SCRIPT}")[0]


def resident(community: Community, username: str, display_name: str = "") -> User:
    return resident_add(
        community=community,
        username=username,
        email=f"{username}@example.org",
        password="pw-injection-42",
        display_name=display_name or username,
    )[0]


def send(sender: User, community: Community, body: str, to: list[str]) -> Any:
    return message_send(
        SendRequest.of(
            sender,
            community,
            client_id=f"inj-{abs(hash(body))}-{sender.pk}",
            body=body,
            to=tuple(sorted(to)),
        )
    )


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_notification_tasks() -> None:
    """What `notify_worker` does with the queued tasks, due or not."""
    for row in DBTaskResult.objects.filter(status="READY"):
        row.task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"])
        row.delete()


def test_payloads_stay_inert_in_the_page_and_the_api(community: Community) -> None:
    """Hostile bodies, display names and community names never appear raw in
    the app page; the API answers JSON with nosniff, never HTML."""
    eve = resident(community, "eve", f"Eve {SCRIPT}")
    bob = resident(community, "bob")
    for body in PAYLOADS:
        send(eve, community, body, ["bob"])
    page = logged_in(eve).get("/")
    html = page.content.decode()
    assert page.status_code == 200
    for payload in [*PAYLOADS[:4], f"Eve {SCRIPT}", f"Quartier {SCRIPT}"]:
        assert payload not in html, payload
    assert html.count("<script") == html.count("</script>")
    client = logged_in(bob)
    listing = client.get(f"/api/communities/{community.slug}/conversations/")
    assert listing["Content-Type"] == "application/json; charset=utf-8"
    assert listing["X-Content-Type-Options"] == "nosniff"
    conversation = listing.json()[0]["id"]
    history = client.get(f"/api/conversations/{conversation}/messages/?limit=200")
    assert {m["body"] for m in history.json()} == set(PAYLOADS)
    record("injection_page_api", payloads=len(PAYLOADS), raw_in_page=0)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_display_names_cannot_forge_email_headers(
    community: Community, name: str, settings: Any
) -> None:
    """A sender whose display name carries CR/LF, an encoded word or an
    address list: the notification email still has one recipient, no added
    header, a one-line subject, and the HTML part escapes the body."""
    settings.NOTIFY_EMAIL_DELAY_SECONDS = 0
    eve = resident(community, "eve", name)
    resident(community, "bob")
    send(eve, community, SCRIPT, ["bob"])
    mail.outbox.clear()
    run_notification_tasks()
    (email,) = mail.outbox
    assert email.recipients() == ["bob@example.org"]
    parsed = message_from_bytes(email.message().as_bytes(), policy=policy.default)
    assert parsed["Bcc"] is None
    assert parsed["X-Injected"] is None
    assert parsed.get_all("To") == ["bob@example.org"]
    assert parsed["Cc"] is None
    assert "\n" not in str(parsed["Subject"])
    assert "victim@evil.example" not in str(parsed["To"])
    html = email.alternatives[0][0]
    assert SCRIPT not in str(html)
    assert "&lt;script&gt;" in str(html)


def test_push_payload_is_plain_json_with_a_one_line_title(
    community: Community,
) -> None:
    """A push carries the body as a JSON string and a sanitized title."""
    eve = resident(community, "eve", "Eve\r\nX: y\u202e")
    bob = resident(community, "bob")
    result = send(eve, community, SCRIPT, ["bob"])
    notification = PendingNotification.objects.get(
        recipient=bob, message_id=result.message["id"]
    )
    payload = json.loads(push_payload(notification, "fr", text=True))
    assert payload["body"] == SCRIPT
    assert "\n" not in payload["title"]
    assert "\r" not in payload["title"]
    assert "\u202e" not in payload["title"]


def test_forged_unsubscribe_tokens_change_nothing(community: Community) -> None:
    """Tokens that are random, signed with another salt, altered, or for a
    non-integer are refused (400) and leave the preference on."""
    bob = resident(community, "bob")
    good = unsubscribe_token(bob.pk)
    forged = [
        "x",
        signing.dumps(bob.pk),
        signing.dumps(bob.pk, salt="conversations.unsubscrib"),
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),
        signing.dumps(str(bob.pk), salt="conversations.unsubscribe"),
        signing.dumps(True, salt="conversations.unsubscribe"),
    ]
    client = Client(enforce_csrf_checks=True)
    for token in forged:
        answer = client.post(f"/unsubscribe/{token}/")
        assert answer.status_code == 400, token
    assert not NotificationPreference.objects.filter(user=bob, email=False).exists()
    assert client.post(f"/unsubscribe/{good}/").status_code == 200
    assert NotificationPreference.objects.get(user=bob).email is False
    record("unsubscribe_forgery", forged_tokens=len(forged), accepted=0)


PRIVATE_ENDPOINTS = [
    "https://10.0.0.1/push/x",
    "https://127.0.0.1/push/x",
    "https://[::1]/push/x",
    "https://169.254.169.254/latest/meta-data/",
    "https://localhost/push/x",
    "https://push.localhost/x",
    "https://0.0.0.0/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://2130706433/x",
    "https://192.168.1.1:8443/x",
    "https://[fd00::1]/x",
    "http://push.example.com/x",
    "https://user:pw@push.example.com/x",
    "ftp://push.example.com/x",
]


def test_push_subscriptions_to_private_networks_are_refused(
    community: Community, settings: Any
) -> None:
    """With PUSH_ALLOW_PRIVATE_ENDPOINTS off, endpoints on loopback, private,
    link-local or metadata addresses, or not https, are refused (400) and
    nothing is stored."""
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False
    bob = resident(community, "bob")
    client = logged_in(bob)
    keys = {"p256dh": "B" + "A" * 86, "auth": "A" * 22}
    refused = 0
    for endpoint in PRIVATE_ENDPOINTS:
        answer = client.post(
            "/api/push/subscriptions/",
            {"endpoint": endpoint, "keys": keys},
            content_type="application/json",
            HTTP_X_CSRFTOKEN=client.cookies.get("csrftoken", "").value
            if client.cookies.get("csrftoken")
            else "",
        )
        assert answer.status_code == 400, (endpoint, answer.status_code, answer.content)
        refused += 1
    assert not PushSubscription.objects.exists()
    record("push_ssrf", endpoints_tried=len(PRIVATE_ENDPOINTS), refused=refused)
