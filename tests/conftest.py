"""Shared test plumbing: skipping (or, in CI, failing) when a server is absent."""

from __future__ import annotations

import multiprocessing
import os

import pytest

# A forked child process (a daphne server, say) inherits the test process's
# already used Redis channel layer and fails its WebSocket handshakes without
# any error: start children with spawn, fresh.
multiprocessing.set_start_method("spawn", force=True)


def require_service(available: bool, reason: str) -> None:
    """Skip when a server the test needs is missing; fail instead under CI.

    `.ci/run` sets REQUIRE_SERVICES=1 so that a missing Redis, PostgreSQL,
    SMTP or browser can never turn into a silently green run.
    """
    if available:
        return
    if os.environ.get("REQUIRE_SERVICES") == "1":
        pytest.fail(f"required server unavailable: {reason}", pytrace=False)
    pytest.skip(reason)
