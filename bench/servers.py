"""Server processes for the benchmark: redis-server, PostgreSQL databases,
daphne (the project and the tutorial peer) and the bare relay.

Adapted from tests/support/servers.py (kept separate so that the benchmark
does not depend on the test tree). Every wait is bounded in time.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

# The test harness already manages private Redis servers and PostgreSQL
# databases; the bench reuses it rather than keeping a second copy.
from tests.support.servers import (  # noqa: F401 (re-exported to bench.run)
    PostgresServer,
    RedisServer,
    free_port,
    redis_available,
    wait_until,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
# Where the servers' code runs from: a snapshot taken at the start of a run
# (see `snapshot_sources`), so that edits to the tree during a run do not
# change the code under test halfway through.
SOURCE_DIRS = ("chatsite", "conversations", "frontend", "bench")
_source_root = REPO_ROOT


def source_root() -> Path:
    return _source_root


def snapshot_sources(destination: Path, *, rev: str | None = None) -> Path:
    """Copy the code under test: the working tree as it is now, or `rev`."""
    global _source_root
    destination.mkdir(parents=True)
    if rev is None:
        for name in SOURCE_DIRS:
            shutil.copytree(
                REPO_ROOT / name,
                destination / name,
                ignore=shutil.ignore_patterns("__pycache__", "results"),
            )
        shutil.copy2(REPO_ROOT / "manage.py", destination / "manage.py")
    else:
        paths = ["chatsite", "conversations", "frontend", "manage.py"]
        archive = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "archive", rev, *paths],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
        subprocess.run(
            ["tar", "-x", "-C", str(destination)], input=archive, check=True, timeout=60
        )
        shutil.copytree(
            REPO_ROOT / "bench",
            destination / "bench",
            ignore=shutil.ignore_patterns("__pycache__", "results"),
        )
    _source_root = destination
    return destination


def source_fingerprint(root: Path) -> str:
    """sha256 over the Python sources of the code under test."""
    digest = hashlib.sha256()
    for path in sorted(root.glob("[cm]*/**/*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


HOST = "127.0.0.1"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# The parent's values of these must never leak into a server under test.
_SERVER_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "VAR_DIR",
    "STATIC_ROOT",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SITE_URL",
    "ALLOWED_ORIGINS",
    "SECRET_KEY",
    "CHAT_SEND_RATE",
    "CHAT_TYPING_RATE",
    "CHAT_CONNECT_RATE",
    "CHAT_SYNC_RATE",
    "CHAT_ERROR_RATE",
    "CHANNEL_LAYER_PREFIX",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SERVER_VARIABLES}
    env["PYTHONPATH"] = str(_source_root)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def stop_process(process: subprocess.Popen[bytes], *, grace: float = 8.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def http_ok(url: str) -> bool:
    try:
        with _NO_PROXY.open(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def run_checked(
    args: Sequence[str | Path], *, env: dict[str, str], timeout: float = 300
) -> str:
    """Run a helper command; return its stdout, raise with stderr if it failed."""
    done = subprocess.run(
        [str(a) for a in args],
        cwd=_source_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))} failed:\n{done.stderr[-3000:]}")
    return done.stdout


class ServerProcess:
    """One server process on a fixed port, started again on the same port."""

    def __init__(
        self,
        *,
        args: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        health_path: str = "/healthz",
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.env = env
        self.log_path = log_path
        self.health_path = health_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 60.0) -> float:
        """Start and wait until healthy; return the seconds that took."""
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.args,
                cwd=_source_root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        url = self.origin + self.health_path
        deadline = started + timeout
        while not http_ok(url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.args[:4]} did not become healthy:\n{tail(self.log_path)}"
                )
            time.sleep(0.05)
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def daphne(
    application: str, *, env: dict[str, str], log_path: Path, port: int | None = None
) -> ServerProcess:
    """A daphne process; the project's accepts sockets from its own address
    only (its SITE_URL), as the load generator's Origin says."""
    port = port or free_port()
    return ServerProcess(
        args=[PYTHON, "-m", "daphne", "-b", HOST, "-p", "{port}", application],
        env={**env, "SITE_URL": f"http://{HOST}:{port}"},
        log_path=log_path,
        port=port,
    )
