"""Notification preferences and Web Push subscriptions."""

from __future__ import annotations

from dataclasses import asdict

from django.db import transaction

from ..errors import BadRequest
from ..models import NotificationPreference, PushSubscription, User
from ..notifications.content import Preferences, preferences_for
from ..notifications.push import endpoint_refusal
from ..wire.schema import EndpointBody, PreferencesPatch, PushSubscriptionBody
from ..wire.validate import validated


def preferences_get(*, user: User) -> dict[str, object]:
    return _answer(user, preferences_for(user))


def preferences_update(*, user: User, changes: object) -> dict[str, object]:
    """Apply a partial update; unknown fields or wrong types are refused."""
    patch = validated(PreferencesPatch, changes)
    with transaction.atomic():
        current = preferences_for(user)
        merged = Preferences(**{**asdict(current), **patch})
        NotificationPreference.objects.update_or_create(
            user=user, defaults=asdict(merged)
        )
    return _answer(user, merged)


def _answer(user: User, preferences: Preferences) -> dict[str, object]:
    """The declared `Preferences` body: push, quiet hours and time zone as
    stored (they have no effect yet), and the read-only email status."""
    row = NotificationPreference.objects.filter(user=user).first()
    quiet = (
        {"start": f"{row.quiet_start:%H:%M}", "end": f"{row.quiet_end:%H:%M}"}
        if row is not None and row.quiet_start and row.quiet_end
        else None
    )
    return {
        **asdict(preferences),
        "push": row.push if row is not None else True,
        "quiet_hours": quiet,
        "time_zone": row.time_zone if row is not None else "Europe/Paris",
        "email_status": user.email_status,
    }


def preferences_unsubscribe(*, user_id: int) -> None:
    """One-click unsubscribe: email off, for every community of the resident
    (nothing to do for an account deleted since the email went out)."""
    if User.objects.filter(pk=user_id).exists():
        NotificationPreference.objects.update_or_create(
            user_id=user_id, defaults={"email": False}
        )


def push_subscription_save(*, user: User, subscription: object) -> None:
    """Store a browser's subscription; an endpoint follows its last poster."""
    body = validated(PushSubscriptionBody, subscription)
    refusal = endpoint_refusal(body["endpoint"])
    if refusal is not None:
        raise BadRequest(refusal)
    PushSubscription.objects.update_or_create(
        endpoint=body["endpoint"],
        defaults={
            "user": user,
            "p256dh": body["keys"]["p256dh"],
            "auth": body["keys"]["auth"],
        },
    )


def push_subscription_delete(*, user: User, body: object) -> None:
    endpoint = validated(EndpointBody, body)["endpoint"]
    PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
