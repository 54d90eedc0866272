"""Delivery status notifications (RFC 3464) read with the standard library:
only a 5.x.x failure is permanent."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from conversations.mail.dsn import permanent_failure

FIXTURES = Path(__file__).resolve().parents[1] / "notifications" / "mail_fixtures"


def dsn(name: str) -> EmailMessage:
    raw = (FIXTURES / name).read_bytes().replace(b"RECIPIENT", b"bob@example.org")
    message = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_failed_with_a_5xx_status_is_permanent() -> None:
    """Postfix's "User unknown" notice: Action failed, Status 5.1.1."""
    assert permanent_failure(dsn("dsn_permanent.eml"))


@pytest.mark.parametrize("name", ["dsn_temporary.eml", "dsn_expired_temporary.eml"])
def test_a_delay_or_a_4xx_status_is_not_permanent(name: str) -> None:
    """A delay notice (Action delayed, 4.4.1) and a server that gave up after
    temporary failures (Action failed, Status 4.4.7) change nothing."""
    assert not permanent_failure(dsn(name))


def test_a_message_that_is_no_report_is_not_permanent() -> None:
    """An auto-reply sent to the bounce address, say, even if it talks of
    failures."""
    message = EmailMessage()
    message.set_content("Action: failed\nStatus: 5.1.1\n")
    assert not permanent_failure(message)
