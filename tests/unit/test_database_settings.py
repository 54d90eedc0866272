"""DATABASE_URL and its companions turned into Django's database settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from chatsite.settings.stores import database_config

URL = "postgres://chat@db.internal:5432/chat"


def test_direct_postgresql_bounds_idle_transactions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABASE_POOLER", raising=False)
    monkeypatch.setenv("DATABASE_IDLE_TRANSACTION_TIMEOUT", "20")
    config = database_config(URL, Path("/nonexistent"))
    assert config["OPTIONS"]["options"] == "-c idle_in_transaction_session_timeout=20s"
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is False


def test_pgbouncer_gets_no_startup_options_and_no_named_cursors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_POOLER", "pgbouncer")
    monkeypatch.setenv("DATABASE_IDLE_TRANSACTION_TIMEOUT", "20")
    config = database_config(URL, Path("/nonexistent"))
    assert "options" not in config["OPTIONS"]
    assert config["OPTIONS"]["keepalives"] == 1
    assert config["DISABLE_SERVER_SIDE_CURSORS"] is True


def test_an_unknown_pooler_is_refused_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_POOLER", "pgpool")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOLER"):
        database_config(URL, Path("/nonexistent"))
