"""A private PostgreSQL cluster (initdb + pg_ctl) that a test may stop.

The machine's shared PostgreSQL on 5432 is never touched: this cluster lives
in its own temporary directory on a free port, with trust authentication on
loopback, and is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.servers import HOST, free_port

_BIN_DIRS = ("/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin")


def _tool(name: str) -> str | None:
    for directory in _BIN_DIRS:
        candidate = Path(directory) / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def cluster_tools_available() -> tuple[bool, str]:
    missing = [name for name in ("initdb", "pg_ctl") if _tool(name) is None]
    if missing:
        return False, f"PostgreSQL server tools not found: {', '.join(missing)}"
    return True, ""


class PrivatePostgres:
    """initdb in a temporary directory, pg_ctl start/stop on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="voisins-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        # initdb refuses to run as root: run the tools as `postgres` then.
        self._as: list[str] = []
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    def url(self, database: str) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        subprocess.run(
            [*self._as, *args],
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def init(self) -> None:
        self._run(
            str(_tool("initdb")),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            timeout=120,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses={HOST} "
            f"-c unix_socket_directories={self.root} -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            str(_tool("pg_ctl")),
            "-D",
            str(self.data),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
            timeout=90,
        )

    def stop(self, mode: str = "fast") -> None:
        self._run(str(_tool("pg_ctl")), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(
            host=HOST,
            port=self.port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        ) as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            )

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
