"""A private PostgreSQL cluster (initdb + pg_ctl) that a test may stop.

The machine's shared PostgreSQL on 5432 is never touched: this cluster lives
in its own temporary directory on a free port, with trust authentication on
loopback, and is removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.support.servers import HOST, free_port


def _bin_dirs() -> list[Path]:
    """Where initdb and pg_ctl live: Debian keeps them out of PATH, under
    /usr/lib/postgresql/<major>/bin, so ask pg_config first, then take the
    newest major version installed, then the usual places."""
    found: list[Path] = []
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        answer = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10
        )
        if answer.returncode == 0 and answer.stdout.strip():
            found.append(Path(answer.stdout.strip()))

    def major(path: Path) -> int:
        digits = re.match(r"\d+", path.parent.name)
        return int(digits.group()) if digits else 0

    found.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=major, reverse=True)
    )
    found.extend([Path("/usr/local/bin"), Path("/usr/bin")])
    return found


def _tool(name: str) -> str | None:
    for directory in _bin_dirs():
        candidate = directory / name
        if candidate.exists():
            return str(candidate)
    return shutil.which(name)


def cluster_tools_available() -> tuple[bool, str]:
    missing = [name for name in ("initdb", "pg_ctl") if _tool(name) is None]
    if missing:
        return False, f"PostgreSQL server tools not found: {', '.join(missing)}"
    return True, ""


class PrivatePostgres:
    """initdb in a temporary directory, pg_ctl start/stop on a free port.

    The cluster test (tests/cluster/) runs it on another host: `wrap` is the
    command prefix that enters that host's network namespace, `host` the
    address it listens on and `trusted` the network it lets in.
    """

    def __init__(
        self,
        *,
        host: str = HOST,
        port: int | None = None,
        wrap: Sequence[str] = (),
        trusted: str | None = None,
        prefix: str = "voisins-pg-",
    ) -> None:
        self.host = host
        self.port = port or free_port()
        self.trusted = trusted
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        # initdb refuses to run as root: run the tools as `postgres` then.
        self._as: list[str] = list(wrap)
        if os.geteuid() == 0:
            self._as += ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.root, "postgres")

    def url(self, database: str) -> str:
        return f"postgres://postgres@{self.host}:{self.port}/{database}"

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
        if self.trusted is not None:
            # initdb's trust lines cover loopback only.
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.trusted} trust\n")

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses={self.host} "
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
            host=self.host,
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
