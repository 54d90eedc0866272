"""Notification preferences over HTTP: push, quiet hours, time zone and the
read-only email status, validated and stored (GET/PATCH /api/me/preferences/)."""

from __future__ import annotations

from datetime import time
from typing import Any

import pytest
from django.test import Client

from conversations.models import NotificationPreference, User
from conversations.notifications.tokens import unsubscribe_token

pytestmark = pytest.mark.django_db

PATH = "/api/me/preferences/"
DEFAULTS = {
    "email": True,
    "email_include_text": True,
    "language": "fr",
    "push": True,
    "quiet_hours": None,
    "time_zone": "Europe/Paris",
    "email_status": "ok",
}


def client_of(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def patch(client: Client, body: Any) -> Any:
    return client.patch(PATH, data=body, content_type="application/json")


def test_defaults_of_a_resident_who_chose_nothing(bob: User) -> None:
    """GET: push on, no quiet hours, Paris time, email status ok."""
    answer = client_of(bob).get(PATH)
    assert answer.status_code == 200
    assert answer.json() == DEFAULTS


def test_push_quiet_hours_and_time_zone_are_stored_and_read_back(bob: User) -> None:
    """PATCH stores the quiet hours as times of the resident's zone; GET
    gives back what PATCH answered."""
    client = client_of(bob)
    changes = {
        "push": False,
        "quiet_hours": {"start": "22:00", "end": "07:30"},
        "time_zone": "America/Montreal",
    }
    answer = patch(client, changes)
    assert answer.status_code == 200, answer.content
    assert answer.json() == {**DEFAULTS, **changes}
    assert client.get(PATH).json() == answer.json()
    row = NotificationPreference.objects.get(user=bob)
    assert (row.push, row.email) == (False, True)
    assert (row.quiet_start, row.quiet_end) == (time(22, 0), time(7, 30))
    assert row.time_zone == "America/Montreal"


def test_quiet_hours_null_turns_them_off(bob: User) -> None:
    """quiet_hours: null clears both times; the other fields stay."""
    client = client_of(bob)
    patch(client, {"quiet_hours": {"start": "12:00", "end": "14:00"}, "push": False})
    answer = patch(client, {"quiet_hours": None})
    assert answer.json() == {**DEFAULTS, "push": False}
    row = NotificationPreference.objects.get(user=bob)
    assert (row.quiet_start, row.quiet_end) == (None, None)


@pytest.mark.parametrize(
    "changes",
    [
        {"time_zone": "Mars/Olympus_Mons"},
        {"time_zone": "europe/paris"},
        {"time_zone": "../../etc/passwd"},
        {"time_zone": "/usr/share/zoneinfo/UTC"},
        {"time_zone": ""},
        {"time_zone": None},
        {"time_zone": "x" * 65},
        {"quiet_hours": {"start": "22:00", "end": "22:00"}},
        {"quiet_hours": {"start": "24:00", "end": "07:00"}},
        {"quiet_hours": {"start": "7:00", "end": "08:00"}},
        {"quiet_hours": {"start": "22:00"}},
        {"quiet_hours": {"start": "22:00", "end": "07:00", "days": "weekdays"}},
        {"quiet_hours": {"start": "22:00:00", "end": "07:00:00"}},
        {"quiet_hours": "22:00-07:00"},
        {"push": "false"},
        {"push": None},
        {"email_status": "ok"},
    ],
)
def test_bad_preferences_get_400_and_change_nothing(
    bob: User, changes: dict[str, Any]
) -> None:
    """An unknown time zone, an empty or malformed window, a wrong type or
    the read-only email_status: 400 bad_request, nothing stored."""
    client = client_of(bob)
    answer = patch(client, {"push": False, **changes})
    assert answer.status_code == 400, answer.content
    assert answer.json()["code"] == "bad_request"
    assert client.get(PATH).json() == DEFAULTS
    assert not NotificationPreference.objects.filter(user=bob).exists()


@pytest.mark.parametrize("name", ["UTC", "Pacific/Chatham", "America/Argentina/Salta"])
def test_any_iana_time_zone_is_accepted(bob: User, name: str) -> None:
    """Zones with odd offsets or three-part names are IANA names too."""
    answer = patch(client_of(bob), {"time_zone": name})
    assert answer.status_code == 200, answer.content
    assert answer.json()["time_zone"] == name


def test_email_status_shows_a_bouncing_address(bob: User) -> None:
    """email_status reads User.email_status."""
    User.objects.filter(pk=bob.pk).update(email_status=User.EmailStatus.BOUNCING)
    assert client_of(bob).get(PATH).json()["email_status"] == "bouncing"


def test_one_click_unsubscribe_turns_email_off_and_leaves_push_on(bob: User) -> None:
    """The unsubscribe link is about emails: pushes and quiet hours stay."""
    client = client_of(bob)
    patch(client, {"quiet_hours": {"start": "22:00", "end": "07:00"}})
    answer = Client().post(f"/unsubscribe/{unsubscribe_token(bob.pk)}/")
    assert answer.status_code == 200
    assert client.get(PATH).json() == {
        **DEFAULTS,
        "email": False,
        "quiet_hours": {"start": "22:00", "end": "07:00"},
    }
