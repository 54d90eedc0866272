"""Notification preferences and Web Push subscriptions."""

from __future__ import annotations

from datetime import time
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django.db import transaction

from ..errors import BadRequest
from ..models import NotificationPreference, PushSubscription, User
from ..notifications.content import Preferences, preferences_for
from ..notifications.push import endpoint_refusal
from ..wire.resident import EndpointBody, PreferencesPatch, PushSubscriptionBody
from ..wire.validate import validated


def preferences_get(*, user: User) -> dict[str, object]:
    """The resident's preferences as the API shows them."""
    return _wire(preferences_for(user), email_status=user.email_status)


def preferences_update(*, user: User, changes: object) -> dict[str, object]:
    """Apply a partial update; unknown fields, wrong types, unknown time
    zones and empty quiet hours (start == end) are refused."""
    fields = _model_fields(validated(PreferencesPatch, changes))
    with transaction.atomic():
        NotificationPreference.objects.update_or_create(user=user, defaults=fields)
    return preferences_get(user=user)


def _wire(preferences: Preferences, *, email_status: str) -> dict[str, object]:
    start, end = preferences.quiet_start, preferences.quiet_end
    return {
        "email": preferences.email,
        "email_include_text": preferences.email_include_text,
        "language": preferences.language,
        "push": preferences.push,
        "quiet_hours": (
            None
            if start is None or end is None
            else {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M")}
        ),
        "time_zone": preferences.time_zone,
        "email_status": email_status,
    }


def _model_fields(patch: PreferencesPatch) -> dict[str, Any]:
    """The NotificationPreference columns a validated patch sets."""
    fields: dict[str, Any] = {
        name: value
        for name, value in patch.items()
        if name not in ("quiet_hours", "time_zone")
    }
    if "time_zone" in patch:
        if patch["time_zone"] not in _time_zones():
            raise BadRequest("Invalid: time_zone")
        fields["time_zone"] = patch["time_zone"]
    if "quiet_hours" in patch:
        quiet = patch["quiet_hours"]
        start = None if quiet is None else time.fromisoformat(quiet["start"])
        end = None if quiet is None else time.fromisoformat(quiet["end"])
        # An empty window would read as "always" or "never": say which instead
        # (null turns quiet hours off).
        if start is not None and start == end:
            raise BadRequest("Invalid: quiet_hours (start and end must differ)")
        fields["quiet_start"], fields["quiet_end"] = start, end
    return fields


@cache
def _time_zones() -> frozenset[str]:
    """IANA names zoneinfo knows (the system's database, else the tzdata
    package): read once, the disk does not change under a running server."""
    return frozenset(available_timezones())


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
