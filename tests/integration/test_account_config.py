"""Configuration that guards accounts: placeholder SECRET_KEYs stop a
deployment, unsubscribe links expire gracefully, link tokens stay out of
the logs."""

from __future__ import annotations

import io
import logging
import secrets
import time
from typing import Any

import pytest
from django.core import signing
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client

from chatsite.logfilters import RedactSecretPaths
from conversations.models import NotificationPreference, User
from conversations.notifications.tokens import (
    TOKEN_LIFETIME,
    unsubscribe_token,
    unsubscribe_user_id,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "key",
    [
        "dev-only-insecure-key-change-me-in-production",
        "replace-me-with-50-random-characters-replace-me-with-50-random",
        "build-only-collectstatic-not-a-secret",
        "please-CHANGE-ME-" + "x" * 40,
    ],
)
def test_check_deploy_fails_with_a_placeholder_secret_key(
    settings: Any, key: str
) -> None:
    """`check --deploy` stops (an Error, not a Warning) on a known or
    obvious placeholder SECRET_KEY."""
    settings.SECRET_KEY = key
    with pytest.raises(SystemCheckError, match=r"conversations\.E001"):
        call_command("check", "--deploy", stdout=io.StringIO(), stderr=io.StringIO())


def test_check_deploy_accepts_a_random_secret_key(settings: Any) -> None:
    """A generated key raises no error (the other deploy checks only warn
    under the test settings)."""
    settings.SECRET_KEY = secrets.token_urlsafe(50)
    call_command("check", "--deploy", stdout=io.StringIO(), stderr=io.StringIO())


class PastSigner(signing.TimestampSigner):
    """Signs as if it were `age` seconds ago: time control without a clock."""

    def __init__(self, age: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.age = age

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time() - self.age))


def aged_token(user_id: int, age: float) -> str:
    signer = PastSigner(age, salt="conversations.unsubscribe")
    return signer.sign_object(user_id, compress=False)


def test_unsubscribe_tokens_last_sixty_days(alice: User) -> None:
    """A token 59 days old still names its resident; 61 days old, nobody."""
    day = 86_400
    assert TOKEN_LIFETIME.days == 60
    assert unsubscribe_user_id(aged_token(alice.pk, 59 * day)) == alice.pk
    assert unsubscribe_user_id(aged_token(alice.pk, 61 * day)) is None


@pytest.mark.parametrize("method", ["get", "post"])
def test_expired_unsubscribe_link_shows_a_page_and_changes_nothing(
    alice: User, method: str
) -> None:
    """An expired link (GET or one-click POST) answers 410 with a page that
    sends the resident to the app's settings; email stays on."""
    token = aged_token(alice.pk, 61 * 86_400)
    response = getattr(Client(), method)(f"/unsubscribe/{token}/")
    assert response.status_code == 410
    page = response.content.decode()
    assert "Lien expiré" in page
    assert 'href="http://127.0.0.1:8000/"' in page
    assert not NotificationPreference.objects.filter(user=alice, email=False).exists()


def test_a_fresh_unsubscribe_link_still_works(alice: User) -> None:
    """Control: a token made now unsubscribes at once."""
    response = Client().post(f"/unsubscribe/{unsubscribe_token(alice.pk)}/")
    assert response.status_code == 200
    assert NotificationPreference.objects.get(user=alice).email is False


def configured_handler() -> logging.Handler:
    """The handler the settings' LOGGING put on the root logger."""
    for handler in logging.getLogger().handlers:
        if any(isinstance(f, RedactSecretPaths) for f in handler.filters):
            return handler
    raise AssertionError("no handler redacts secret paths")


@pytest.mark.parametrize(
    ("path", "shown"),
    [
        ("/unsubscribe/MTI:1vQ:abcdef/", "/unsubscribe/[redacted]/"),
        ("/accounts/invitation/Zm9v-YmFy_baz/", "/accounts/invitation/[redacted]/"),
        ("/accounts/reset/MQ/cx7-0a1b2c3d/", "/accounts/reset/MQ/[redacted]/"),
    ],
)
def test_log_lines_never_show_link_tokens(path: str, shown: str) -> None:
    """A record naming a tokened path, as django.request writes one for a
    410, reaches the log with the token redacted; so does an exception."""
    handler = configured_handler()
    stream = io.StringIO()
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        logging.getLogger("django.request").warning("Gone: %s", path)
        try:
            raise ValueError(f"bad path {path}")
        except ValueError:
            logging.getLogger("conversations").exception("failed")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
    text = stream.getvalue()
    token = path.rstrip("/").rsplit("/", 1)[1]
    assert token not in text
    assert f"Gone: {shown}" in text
    assert f"bad path {shown}" in text
