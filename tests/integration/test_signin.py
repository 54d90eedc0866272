"""Signing in: login throttling (resident and admin pages), password reset
emails, password validators. Through Django's test client, real database,
Django's locmem email backend."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.forms import SetPasswordForm
from django.core import mail
from django.test import Client
from django.utils import timezone

from conversations.models import Throttle, User
from conversations.services.throttle import (
    LOGIN_PER_ADDRESS,
    LOGIN_PER_USERNAME,
    Limit,
    key_hash,
    throttles_forget_old,
    username_key,
)

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def attempt(
    path: str, username: str, password: str, *, address: str = "203.0.113.7"
) -> tuple[int, str]:
    response = Client(REMOTE_ADDR=address).post(
        path, {"username": username, "password": password, "next": "/"}
    )
    return response.status_code, response.content.decode()


def fail_times(path: str, username: str, times: int, **kwargs: str) -> None:
    for _ in range(times):
        status, _ = attempt(path, username, "wrong-password", **kwargs)
        assert status == 200


def aged_rows(limit: Limit, key: str, count: int, age: timedelta) -> None:
    """`count` attempts made `age` ago: time control without sleeping."""
    at = timezone.now() - age
    Throttle.objects.bulk_create(
        Throttle(scope=limit.scope, key_hash=key_hash(limit.scope, key), created_at=at)
        for _ in range(count)
    )


@pytest.mark.parametrize("path", [LOGIN, ADMIN_LOGIN])
def test_five_failures_then_the_right_password_is_refused_with_429(
    alice: User, path: str
) -> None:
    """After 5 failed logins for a username, even the right password gets
    429, on the residents' page and on the admin's."""
    fail_times(path, "alice", 5)
    status, page = attempt(path, "alice", PASSWORD)
    assert status == 429
    assert "Trop de tentatives" in page
    assert "_auth_user_id" not in Client().session


def test_four_failures_still_let_the_right_password_in(alice: User) -> None:
    """Below the limit the right password logs in (302 to the app)."""
    fail_times(LOGIN, "alice", 4)
    status, _ = attempt(LOGIN, "alice", PASSWORD)
    assert status == 302


def test_the_refusal_is_in_english_when_chosen(alice: User) -> None:
    """The throttled page speaks the resident's chosen language."""
    fail_times(LOGIN, "alice", 5)
    client = Client(REMOTE_ADDR="203.0.113.7")
    client.cookies["django_language"] = "en"
    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many login attempts" in response.content.decode()


def normalized(page: str, username: str) -> str:
    """A page without what differs by design: the CSRF token, the name typed."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
    return page.replace(f'value="{username}"', 'value=""')


def test_unknown_username_gets_the_same_answers(alice: User) -> None:
    """A username nobody has: the same statuses and pages as alice's, failure
    after failure and once throttled."""
    known = [attempt(LOGIN, "alice", "wrong-password") for _ in range(6)]
    unknown = [attempt(LOGIN, "nobody", "wrong-password") for _ in range(6)]
    assert [s for s, _ in known] == [s for s, _ in unknown] == [200] * 5 + [429]
    for (_, a), (_, b) in zip(known, unknown, strict=True):
        assert normalized(a, "alice") == normalized(b, "nobody")


def test_fifty_failures_from_one_address_refuse_every_username(
    alice: User, bob: User
) -> None:
    """50 failures from one client address across usernames: then 429 for
    anyone from there, and another address is unaffected."""
    for n in range(50):
        status, _ = attempt(LOGIN, f"guess{n}", "wrong-password")
        assert status == 200
    assert attempt(LOGIN, "bob", PASSWORD)[0] == 429
    assert attempt(LOGIN, "bob", PASSWORD, address="198.51.100.9")[0] == 302


def test_the_window_passing_lets_them_in(alice: User) -> None:
    """Failures older than 15 minutes no longer count."""
    aged_rows(LOGIN_PER_USERNAME, username_key("alice"), 5, timedelta(minutes=16))
    aged_rows(LOGIN_PER_ADDRESS, "203.0.113.7", 50, timedelta(minutes=16))
    assert attempt(LOGIN, "alice", PASSWORD)[0] == 302


def test_failures_within_the_window_still_count(alice: User) -> None:
    """Control for the test above: the same rows 14 minutes old refuse."""
    aged_rows(LOGIN_PER_USERNAME, username_key("alice"), 5, timedelta(minutes=14))
    assert attempt(LOGIN, "alice", PASSWORD)[0] == 429


def test_throttle_rows_hold_no_username_or_address(alice: User) -> None:
    """What is stored is a keyed hash, never the username or the address."""
    fail_times(LOGIN, "alice", 1)
    rows = list(Throttle.objects.values_list("scope", "key_hash"))
    assert len(rows) == 2
    for _, stored in rows:
        assert "alice" not in stored
        assert "203.0.113" not in stored
        assert len(stored) == 64


def test_forwarded_address_is_ignored_by_default(alice: User) -> None:
    """Without a trusted proxy, X-Forwarded-For (which the client writes)
    changes nothing: the failures count against REMOTE_ADDR."""
    for n in range(50):
        Client(REMOTE_ADDR="10.0.0.3").post(
            LOGIN,
            {"username": f"guess{n}", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{n}"},
        )
    answer = Client(REMOTE_ADDR="10.0.0.3").post(
        LOGIN,
        {"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.200"},
    )
    assert answer.status_code == 429


def test_forwarded_address_is_believed_from_a_trusted_proxy(
    alice: User, settings: object
) -> None:
    """With TRUSTED_PROXY_COUNT=1 the entry the proxy appended (the last)
    is the client; entries to its left are the client's own claims."""

    settings.TRUSTED_PROXY_COUNT = 1  # type: ignore[attr-defined]
    for n in range(50):
        Client(REMOTE_ADDR="10.0.0.2").post(
            LOGIN,
            {"username": f"guess{n}", "password": "wrong"},
            headers={"X-Forwarded-For": f"198.51.100.{n}, 203.0.113.50"},
        )
    blocked = Client(REMOTE_ADDR="10.0.0.2").post(
        LOGIN,
        {"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "192.0.2.1, 203.0.113.50"},
    )
    assert blocked.status_code == 429
    other = Client(REMOTE_ADDR="10.0.0.2").post(
        LOGIN,
        {"username": "alice", "password": PASSWORD},
        headers={"X-Forwarded-For": "203.0.113.51"},
    )
    assert other.status_code == 302


def test_old_throttle_rows_are_forgotten(alice: User) -> None:
    """The periodic job deletes rows past every window and keeps the rest."""
    aged_rows(LOGIN_PER_USERNAME, "old", 3, timedelta(hours=2))
    aged_rows(LOGIN_PER_USERNAME, "recent", 2, timedelta(minutes=5))
    assert throttles_forget_old() == 3
    assert Throttle.objects.count() == 2


def test_login_page_links_to_the_password_reset() -> None:
    """The login page offers "Mot de passe oublié ?"."""
    page = Client().get(LOGIN).content.decode()
    assert 'href="/accounts/password_reset/"' in page
    assert "Mot de passe oublié ?" in page


# Password reset


def reset(email: str) -> int:
    response = Client().post("/accounts/password_reset/", {"email": email})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password_reset/done/"
    return len(mail.outbox)


def test_four_reset_requests_send_three_emails(alice: User) -> None:
    """At most 3 reset emails per address and hour."""
    counts = [reset("alice@example.org") for _ in range(4)]
    assert counts == [1, 2, 3, 3]


def test_reset_for_an_unknown_address_answers_the_same(alice: User) -> None:
    """An address no account uses: the same redirect and page, no email."""
    assert reset("nobody@example.org") == 0
    done = Client().get("/accounts/password_reset/done/").content.decode()
    assert "Si un compte utilise cette adresse" in done


def test_reset_email_links_to_site_url_in_the_residents_language(
    alice: User, settings: object
) -> None:
    """The link is built on SITE_URL, not on the Host the request named; the
    email is French by default."""
    Client().post(
        "/accounts/password_reset/",
        {"email": "alice@example.org"},
        headers={"Host": "localhost"},
    )
    (email,) = mail.outbox
    assert "mot de passe" in email.subject
    link = re.search(r"(http\S+/accounts/reset/\S+/)", email.body)
    assert link is not None
    assert link.group(1).startswith("http://127.0.0.1:8000/accounts/reset/")
    assert "localhost" not in email.body


def test_resident_without_a_password_can_choose_one_by_reset(
    make_resident: object, community: object
) -> None:
    """A resident created without a password (unusable) can use the reset:
    for them it is how they choose one."""
    user = User.objects.create(username="newbie", email="newbie@example.org")
    user.set_unusable_password()
    user.save()
    assert reset("newbie@example.org") == 1


@pytest.mark.parametrize(
    "password",
    ["alice-martin", "12345678901", "password123", "short"],
)
def test_weak_passwords_are_refused(alice: User, password: str) -> None:
    """Django's four validators: like the username or name, all digits, a
    common one, too short."""
    form = SetPasswordForm(
        alice, {"new_password1": password, "new_password2": password}
    )
    assert not form.is_valid()
