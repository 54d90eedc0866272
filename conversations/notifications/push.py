"""Web Push (RFC 8030/8291/8292) through pywebpush, signed with VAPID."""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import socket
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone

from ..models import PendingNotification, PushSubscription
from .content import conversation_url, excerpt, safe_name, shows_text
from .decision import decide
from .outcomes import Done, Outcome, Retry
from .recipients import accounts, active_memberships, read_marks, recipient_state

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 3000  # well under the 4 KiB a push service must accept
_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")

TITLES = {
    "fr": ("Nouveau message de {sender}", "Nouveau message"),
    "en": ("New message from {sender}", "New message"),
}


def vapid_keys() -> tuple[str, str]:
    """(private, public) as base64url: from the environment, else a
    development pair generated once into VAR_DIR and shared by every process."""
    if settings.VAPID_PRIVATE_KEY and settings.VAPID_PUBLIC_KEY:
        return settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY
    path = Path(settings.VAR_DIR) / "vapid.json"
    if not path.exists():
        private, public = generate_vapid_keys()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # O_EXCL: when two processes race, the first file wins for both.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                json.dump({"private_key": private, "public_key": public}, handle)
    data = json.loads(path.read_text())
    return data["private_key"], data["public_key"]


def generate_vapid_keys() -> tuple[str, str]:
    """A new P-256 key pair as base64url (raw private scalar, raw public point)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64(private), _b64(public)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def endpoint_refusal(endpoint: str) -> str | None:
    """Why a push endpoint may not be used (None: fine). Public https only,
    so that the server cannot be aimed at its own network (SSRF)."""
    allow_private = settings.PUSH_ALLOW_PRIVATE_ENDPOINTS
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        return "The endpoint is not a valid URL."
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        return "The endpoint must use https."
    host = parts.hostname
    if not host or parts.username or parts.password:
        return "The endpoint must name a host and carry no credentials."
    if allow_private:
        return None
    if host == "localhost" or host.endswith(_BLOCKED_SUFFIXES):
        return "The endpoint must be on a public address."
    try:
        addresses = {ipaddress.ip_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            return "The endpoint's host does not resolve."
        addresses = {ipaddress.ip_address(info[4][0]) for info in infos}
    if not addresses or not all(address.is_global for address in addresses):
        return "The endpoint must be on a public address."
    return None


def push_payload(notification: PendingNotification, language: str, text: bool) -> str:
    """The minimal JSON a service worker needs to show a notification."""
    message = notification.message
    sender = safe_name(message.sender.shown_name)
    with_sender, _ = TITLES.get(language, TITLES["fr"])
    payload: dict[str, Any] = {
        "type": "message",
        "title": with_sender.format(sender=sender),
        "community": message.community.slug,
        "conversation": message.conversation_id,
        "message": message.pk,
        "url": conversation_url(message),
    }
    if text:
        payload["body"] = excerpt(message.body, 200)
    data = json.dumps(payload, ensure_ascii=False)
    while len(data.encode()) > MAX_PAYLOAD_BYTES and payload.get("body"):
        payload["body"] = excerpt(payload["body"], len(payload["body"]) // 2)
        data = json.dumps(payload, ensure_ascii=False)
    return data


def push_deliver(
    *,
    recipient_id: int,
    message_id: int,
    attempt: int = 0,
    endpoints: list[str] | None = None,
) -> Outcome:
    """Push one notification to the recipient's browsers, once each
    (`endpoints`: only those, on a retry)."""
    notification = (
        PendingNotification.objects.select_related(
            "recipient", "message__sender", "message__community"
        )
        .filter(recipient_id=recipient_id, message_id=message_id)
        .first()
    )
    if notification is None or notification.pushed:
        return Done("done")
    message = notification.message
    account = accounts([recipient_id]).get(recipient_id)
    # Decided again at delivery, as emails are: a resident suspended (or
    # deactivated, or who read it, muted the conversation, turned pushes off
    # or entered quiet hours) since the message was sent gets nothing.
    state = recipient_state(
        account,
        message_id=message_id,
        member_active=bool(active_memberships([recipient_id], [message.community_id])),
        mark=read_marks([recipient_id], [message.conversation_id]).get(
            (recipient_id, message.conversation_id)
        ),
    )
    if (
        account is None
        or not decide(state, now=timezone.now(), email_delay=timedelta(0)).push
    ):
        push_abandon(recipient_id=recipient_id, message_id=message_id)
        return Done("not needed")
    subscriptions = PushSubscription.objects.filter(user_id=recipient_id)
    if endpoints is not None:
        subscriptions = subscriptions.filter(endpoint__in=endpoints)
    data = push_payload(
        notification,
        account.preferences.language,
        shows_text(account.preferences, message.community),
    )
    retry: list[str] = []
    hint = 0
    for subscription in subscriptions:
        outcome, wait = _send_one(subscription, data, notification)
        if outcome == "retry":
            retry.append(subscription.endpoint)
            hint = max(hint, wait)
    if retry:
        return Retry("retry", attempts=attempt + 1, hint=hint, remaining=tuple(retry))
    push_abandon(recipient_id=recipient_id, message_id=message_id)
    return Done("pushed")


def push_abandon(*, recipient_id: int, message_id: int) -> None:
    """Nothing more to push for this notification."""
    PendingNotification.objects.filter(
        recipient_id=recipient_id, message_id=message_id
    ).update(pushed=True)


def _send_one(
    subscription: PushSubscription, data: str, notification: PendingNotification
) -> tuple[str, int]:
    """Send to one browser: ("ok" | "gone" | "dropped" | "retry", seconds)."""
    import requests
    from pywebpush import WebPushException, webpush

    refusal = endpoint_refusal(subscription.endpoint)
    if refusal is not None:
        logger.warning("push subscription %s refused: %s", subscription.pk, refusal)
        return "dropped", 0
    private_key, _ = vapid_keys()
    try:
        webpush(
            subscription_info={
                "endpoint": subscription.endpoint,
                "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
            },
            data=data,
            # Raw key: pinned by tests/integration/test_library_internals.py.
            vapid_private_key=private_key,
            # pywebpush adds aud and exp to this dict: a fresh one per call.
            vapid_claims={"sub": settings.VAPID_SUBJECT},
            ttl=settings.PUSH_TTL_SECONDS,
            headers={
                "Urgency": "high",
                "Topic": f"conversation-{notification.message.conversation_id}",
            },
            timeout=settings.PUSH_TIMEOUT_SECONDS,
        )
    except WebPushException as error:
        status = getattr(error.response, "status_code", None)
        if status in (404, 410):
            PushSubscription.objects.filter(pk=subscription.pk).delete()
            return "gone", 0
        if status == 429 or (status is not None and status >= 500):
            return "retry", _retry_after(error.response)
        logger.warning("push to subscription %s refused: %s", subscription.pk, status)
        return "dropped", 0
    except (requests.RequestException, OSError) as error:
        logger.warning("push to subscription %s failed: %r", subscription.pk, error)
        return "retry", 0
    return "ok", 0


def _retry_after(response: Any) -> int:
    value = getattr(response, "headers", {}).get("Retry-After", "")
    return min(int(value), 3600) if value.isdigit() else 0
