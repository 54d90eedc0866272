"""Run a command with TEST_POSTGRES_URL pointing at a fresh database name.

Used by `make test` for the PostgreSQL pass. Where no PostgreSQL answers, the
pass is skipped with a clear reason, or fails when REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import os
import socket
import sys

HOST = os.environ.get("TEST_POSTGRES_HOST", "127.0.0.1")
PORT = int(os.environ.get("TEST_POSTGRES_PORT", "5432"))
USER = os.environ.get("TEST_POSTGRES_USER", "postgres")


def main() -> int:
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError as error:
        reason = f"PostgreSQL suite: no server at {HOST}:{PORT} ({error})"
        if os.environ.get("REQUIRE_SERVICES") == "1":
            print(f"FAILED: {reason}", file=sys.stderr)
            return 1
        print(f"SKIPPED: {reason}")
        return 0
    name = f"voisins_{os.getpid()}"
    os.environ["TEST_POSTGRES_URL"] = f"postgres://{USER}@{HOST}:{PORT}/{name}"
    os.execvp(sys.argv[1], sys.argv[1:])  # noqa: S606 (the Makefile's command)


if __name__ == "__main__":
    sys.exit(main())
