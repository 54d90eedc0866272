"""Web Push (RFC 8030/8291/8292) through pywebpush, signed with VAPID."""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.utils import timezone

from ..models import PendingNotification, PushSubscription
from .content import conversation_url, excerpt, safe_name, shows_text
from .decision import decide
from .outcomes import Done, Outcome, Retry
from .recipients import accounts, active_memberships, read_marks, recipient_state
from .safe_http import EndpointRefused, endpoint_addresses, guarded_session, url_refusal

logger = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 3000  # well under the 4 KiB a push service must accept
# After an endpoint ran into PUSH_TIMEOUT_SECONDS, how many times that long
# this process waits before trying it again (its pushes are retried later).
SLOW_PAUSE_TIMEOUTS = 30

TITLES = {
    "fr": ("Nouveau message de {sender}", "Nouveau message"),
    "en": ("New message from {sender}", "New message"),
}


class _SlowEndpoints:
    """Endpoints that ran into the deadline, and until when they rest. A
    hostile endpoint then holds a push thread PUSH_TIMEOUT_SECONDS per
    pause, not once per message sent to its resident; a real push service
    that had a bad moment gets its pushes a few minutes late."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def resting(self, endpoint: str) -> int:
        """Seconds before `endpoint` may be tried again (0: now)."""
        with self._lock:
            left = self._until.get(endpoint, 0) - time.monotonic()
        return math.ceil(left) if left > 0 else 0

    def rest(self, endpoint: str, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            for known, until in list(self._until.items()):
                if until <= now:
                    del self._until[known]
            self._until[endpoint] = now + seconds


_slow = _SlowEndpoints()


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
    """Why a push endpoint may not be stored (None: fine): public https only,
    so that the server cannot be aimed at its own network (SSRF). Each send
    checks again, on the addresses it connects to (safe_http)."""
    allow_private = settings.PUSH_ALLOW_PRIVATE_ENDPOINTS
    refusal = url_refusal(endpoint, allow_private=allow_private)
    if refusal is not None or allow_private:
        return refusal
    try:
        endpoint_addresses(
            endpoint, allow_private=False, timeout=settings.PUSH_TIMEOUT_SECONDS
        )
    except EndpointRefused as error:
        return str(error)
    except requests.Timeout:
        return "The endpoint's host does not resolve."
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
    from pywebpush import WebPushException, webpush

    resting = _slow.resting(subscription.endpoint)
    if resting:
        return "retry", resting
    private_key, _ = vapid_keys()
    session = guarded_session(allow_private=settings.PUSH_ALLOW_PRIVATE_ENDPOINTS)
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
            # The whole exchange, not each read (safe_http).
            timeout=settings.PUSH_TIMEOUT_SECONDS,
            requests_session=session,
        )
    except EndpointRefused as error:
        logger.warning("push subscription %s refused: %s", subscription.pk, error)
        return "dropped", 0
    except WebPushException as error:
        status = getattr(error.response, "status_code", None)
        if status in (404, 410):
            PushSubscription.objects.filter(pk=subscription.pk).delete()
            return "gone", 0
        if status == 429 or (status is not None and status >= 500):
            return "retry", _retry_after(error.response)
        # 3xx included: a push service does not redirect, and following one
        # would let the endpoint choose where the server connects.
        logger.warning("push to subscription %s refused: %s", subscription.pk, status)
        return "dropped", 0
    except requests.Timeout as error:
        pause = SLOW_PAUSE_TIMEOUTS * settings.PUSH_TIMEOUT_SECONDS
        _slow.rest(subscription.endpoint, pause)
        logger.warning("push to subscription %s too slow: %r", subscription.pk, error)
        return "retry", pause
    except (requests.RequestException, OSError) as error:
        logger.warning("push to subscription %s failed: %r", subscription.pk, error)
        return "retry", 0
    finally:
        session.close()
    return "ok", 0


def _retry_after(response: Any) -> int:
    value = getattr(response, "headers", {}).get("Retry-After", "")
    return min(int(value), 3600) if value.isdigit() else 0
