"""What a vanished application host can hold on PostgreSQL is bounded.

The send path takes its community's lock inside a transaction; a host cut
off before its COMMIT leaves a session idle in transaction, holding the
lock. The settings ask the server to end such sessions (settings/base.py,
`postgres_session_options`): these tests check that the option reaches the
server and that a silent lock holder is let go.
"""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import connection

from chatsite.settings.stores import postgres_session_options

pytestmark = pytest.mark.django_db

LOCK_KEY = 8_675_309  # any key: the test database is ours alone


def _require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only (SQLite has no sessions to leave behind)")


def _connect(**options: object) -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.update(options)
    return psycopg.connect(**params)


def test_sessions_are_opened_with_the_idle_transaction_timeout() -> None:
    """The project's own connection carries the configured bound."""
    _require_postgresql()
    with connection.cursor() as cursor:
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchone()[0] == "15s"


def test_a_silent_lock_holder_is_let_go() -> None:
    """A session that takes a transaction lock and then says nothing (a host
    whose cable was pulled) is ended by the server, and another session gets
    the lock. The timeout is 1 s here; waiting for the lock is bounded."""
    _require_postgresql()
    holder = _connect(**postgres_session_options(1))
    other = _connect(**postgres_session_options(0))
    try:
        holder.execute("BEGIN")
        holder.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
        other.autocommit = True
        got = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            row = other.execute(
                "SELECT pg_try_advisory_lock(%s)", [LOCK_KEY]
            ).fetchone()
            if row is not None and row[0]:
                got = True
                other.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])
                break
            time.sleep(0.2)
        assert got, "the idle holder kept the lock for 30 s"
        with pytest.raises(psycopg.Error):  # the ended session says why
            holder.execute("SELECT 1")
    finally:
        holder.close()
        other.close()


def test_no_timeout_means_no_option() -> None:
    """0 turns the bound off (PgBouncer in transaction mode refuses the
    `options` start-up parameter); keepalives stay."""
    options = postgres_session_options(0)
    assert "options" not in options
    assert options["keepalives"] == 1
