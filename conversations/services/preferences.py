"""Notification preferences and Web Push subscriptions."""

from __future__ import annotations

from dataclasses import asdict

from django.db import transaction

from ..errors import BadRequest
from ..models import NotificationPreference, PushSubscription, User
from ..notifications.content import Preferences, preferences_for
from ..notifications.push import endpoint_refusal

FIELDS = {"email": bool, "email_include_text": bool, "language": str}


def preferences_get(*, user: User) -> dict[str, object]:
    return asdict(preferences_for(user))


def preferences_update(*, user: User, changes: dict[str, object]) -> dict[str, object]:
    """Apply a partial update; unknown fields or wrong types are refused."""
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise BadRequest("Unknown preference: " + ", ".join(unknown))
    for name, value in changes.items():
        if type(value) is not FIELDS[name]:
            raise BadRequest(f"'{name}' must be a {FIELDS[name].__name__}.")
    if "language" in changes and changes["language"] not in ("fr", "en"):
        raise BadRequest("'language' must be 'fr' or 'en'.")
    with transaction.atomic():
        current = preferences_for(user)
        merged = Preferences(**{**asdict(current), **changes})
        NotificationPreference.objects.update_or_create(
            user=user, defaults=asdict(merged)
        )
    return asdict(merged)


def preferences_unsubscribe(*, user_id: int) -> None:
    """One-click unsubscribe: email off, for every community of the resident
    (nothing to do for an account deleted since the email went out)."""
    if User.objects.filter(pk=user_id).exists():
        NotificationPreference.objects.update_or_create(
            user_id=user_id, defaults={"email": False}
        )


def push_subscription_save(*, user: User, endpoint: object, keys: object) -> None:
    """Store a browser's subscription; an endpoint follows its last poster."""
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 2000:
        raise BadRequest("'endpoint' must be a URL of at most 2000 characters.")
    refusal = endpoint_refusal(endpoint)
    if refusal is not None:
        raise BadRequest(refusal)
    if not isinstance(keys, dict):
        raise BadRequest("'keys' must be an object with 'p256dh' and 'auth'.")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not _is_b64url(p256dh, 80, 100) or not _is_b64url(auth, 16, 32):
        raise BadRequest("'keys.p256dh' and 'keys.auth' must be base64url keys.")
    PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "p256dh": p256dh, "auth": auth}
    )


def push_subscription_delete(*, user: User, endpoint: object) -> None:
    if not isinstance(endpoint, str):
        raise BadRequest("'endpoint' must be a string.")
    PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()


def _is_b64url(value: object, shortest: int, longest: int) -> bool:
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
    return (
        isinstance(value, str)
        and shortest <= len(value) <= longest
        and set(value) <= alphabet
    )
