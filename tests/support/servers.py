"""Real servers for the end-to-end tests and the benchmark: redis-server,
PostgreSQL, daphne and any other HTTP server process.

Everything here talks to separate processes over sockets, as a deployment
would: nothing imports the project's code. A `Site` is one deployment's
database and environment, prepared with the operator commands; a
`DaphneServer` is one server process of that site. Every wait is bounded.
"""

from __future__ import annotations

import csv
import itertools
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
# One password for every test resident: logins are not what these tests vary.
PASSWORD = "e2e-Voisins-pw-42"
HOST = "127.0.0.1"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

# Variables a deployment reads; the parent's values must never leak into a server.
_SITE_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DJANGO_SETTINGS_MODULE",
    "TEST_POSTGRES_URL",
    "SITE_URL",
    "ALLOWED_ORIGINS",
    "EMAIL_URL",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "VAR_DIR",
    "STATIC_ROOT",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECRET_KEY",
    "CHAT_SEND_RATE",
    "CHAT_TYPING_RATE",
    "CHAT_CONNECT_RATE",
    "CHAT_SYNC_RATE",
    "CHAT_ERROR_RATE",
    "CHANNEL_LAYER_PREFIX",
    "NOTIFY_EMAIL_DELAY_SECONDS",
    "REPLY_EMAIL_DOMAIN",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def free_port() -> int:
    """A TCP port nobody listens on right now (bind, read, release)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05
) -> None:
    """Poll `predicate` until it is true; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def server_env(*, pythonpath: Path = REPO_ROOT, **extra: str) -> dict[str, str]:
    """This process's environment minus what a deployment reads, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _SITE_VARIABLES}
    env["PYTHONPATH"] = str(pythonpath)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc/<pid>/status (KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook so a server dies with the test process that started it.

    A test run killed from outside (a CI timeout, a developer's Ctrl-C twice)
    skips every fixture's teardown, and the servers, in their own sessions,
    would live on holding ports and databases. Linux's parent-death signal
    fires when the *thread* that forked exits, so it is asked for only from
    the main thread, which lives as long as the run.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1

    def hook() -> None:
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)

    return hook


class _ChildProcess:
    """A server process of ours in its own session, output to `log_path`."""

    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def _spawn(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent(),
            )
        return self.process

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill(self) -> None:
        """SIGKILL: a crash, no cleanup."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 5 seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()


# Redis


def redis_available() -> bool:
    return shutil.which("redis-server") is not None


class RedisServer(_ChildProcess):
    """A private redis-server on a free port, with no persistence: `kill` is
    an outage that loses every key."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        host: str = HOST,
        wrap: Sequence[str] = (),
        password: str = "",
    ) -> None:
        """`wrap`, `host`, `password`: the cluster test runs it on another
        host (a command prefix entering its namespace, its address) with
        `requirepass`, as production does."""
        self.workdir = workdir
        self.host = host
        self.port = port or free_port()
        self.wrap = list(wrap)
        self.password = password
        self.log_path = workdir / f"redis-{self.port}.log"

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}{self.host}:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, on the same port) and wait for PONG."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        password = ["--requirepass", self.password] if self.password else []
        self._spawn(
            [
                *self.wrap,
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                *password,
            ]
        )
        try:
            wait_until(self.ping, timeout=10, what=f"redis-server on {self.port}")
        except TimeoutError:
            raise RuntimeError(
                f"redis-server did not start:\n{_tail(self.log_path)}"
            ) from None

    def ping(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.5) as sock:
                if self.password:
                    sock.sendall(f"AUTH {self.password}\r\n".encode())
                    if not sock.recv(64).startswith(b"+OK"):
                        return False
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def restart(self) -> None:
        self.kill()
        self.start()


# PostgreSQL


class PostgresServer:
    """The machine's PostgreSQL (trust auth); we only create and drop databases."""

    def __init__(
        self, host: str = HOST, port: int = 5432, user: str = "postgres"
    ) -> None:
        self.host = host
        self.port = port
        self.user = user

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{database}"

    def _connect(self):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname="postgres",
            connect_timeout=3,
            autocommit=True,
        )

    def available(self) -> tuple[bool, str]:
        try:
            with self._connect() as connection:
                connection.execute("SELECT 1")
        except Exception as error:
            return False, f"{type(error).__name__}: {error}".strip()
        return True, ""

    def create_database(self, name: str) -> None:
        from psycopg import sql

        with self._connect() as connection:
            connection.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            )

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self._connect() as connection:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))
            )


# A deployment


class Site:
    """One deployment: a database, a VAR_DIR, and the environment it runs with."""

    _counter = itertools.count(1)

    def __init__(
        self, *, root: Path, database_url: str, backend: str, redis_url: str = ""
    ) -> None:
        self.root = root
        self.backend = backend
        self.database_url = database_url
        self.redis_url = redis_url
        self.var_dir = root / "var"
        self.var_dir.mkdir(parents=True, exist_ok=True)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of every process of this site (servers, commands)."""
        env = server_env(
            DJANGO_SETTINGS_MODULE="chatsite.settings.local",
            DATABASE_URL=self.database_url,
            VAR_DIR=str(self.var_dir),
            DEBUG="false",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECRET_KEY="e2e-only-secret-key-not-for-production-0123456789",
            # A test deployment: throttling is tested on its own server.
            CHAT_SEND_RATE="1000/1000",
            CHAT_TYPING_RATE="1000/1000",
            CHAT_CONNECT_RATE="1000/1000",
            CHAT_SYNC_RATE="1000/1000",
        )
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        env.update(extra)
        return env

    def unique(self, prefix: str) -> str:
        """A name no other test of this session uses."""
        return f"{prefix}{next(self._counter)}"

    # Operator commands

    def manage(self, *args: str, timeout: float = 120, **extra_env: str) -> str:
        """Run one operator command; return its output, raise if it failed."""
        running = (args, self._manage_process(args, **extra_env))
        return self._wait_all([running], timeout=timeout)[0][1]

    def _manage_process(
        self, args: Iterable[str], **extra_env: str
    ) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [PYTHON, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env(**extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def prepare(self) -> None:
        """What a deployment runs before its servers start (local settings
        serve static files from the sources: no collectstatic)."""
        self.manage("migrate", "--no-input", "-v", "0", timeout=300)

    def populate(self, communities: Mapping[str, Iterable[str]]) -> None:
        """Create each community and import its residents, with the commands.

        Communities are independent, so their commands run side by side.
        """
        create = [
            self._run_async("createcommunity", slug, "--name", f"Quartier {slug}")
            for slug in communities
        ]
        self._wait_all(create)
        imports = []
        for slug, usernames in communities.items():
            path = self.root / f"residents-{slug}.csv"
            with path.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["username", "email", "display_name", "password"])
                for username in usernames:
                    writer.writerow(
                        [
                            username,
                            f"{username}@example.org",
                            username.title(),
                            PASSWORD,
                        ]
                    )
            imports.append(self._run_async("import_residents", slug, str(path)))
        for args, out in self._wait_all(imports):
            if "rejected 0" not in out:
                raise RuntimeError(f"manage.py {' '.join(args)}: {out}")

    def _run_async(self, *args: str) -> tuple[tuple[str, ...], subprocess.Popen[str]]:
        return args, self._manage_process(args)

    def _wait_all(
        self,
        running: list[tuple[tuple[str, ...], subprocess.Popen[str]]],
        timeout: float = 120,
    ) -> list[tuple[tuple[str, ...], str]]:
        outputs = []
        for args, process in running:
            stdout, stderr = process.communicate(timeout=timeout)
            if process.returncode != 0:
                raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{stderr}")
            outputs.append((args, stdout))
        return outputs

    def suspend(self, slug: str, username: str) -> None:
        """`manage.py suspendresident` in its own process, as an operator would."""
        self.manage("suspendresident", slug, username)

    def reactivate(self, slug: str, username: str) -> None:
        self.manage("suspendresident", slug, username, "--reactivate")

    def server(self, name: str = "daphne", **extra_env: str) -> DaphneServer:
        """A started daphne process of this site."""
        server = DaphneServer(
            env=self.env(**extra_env), log_path=self.root / f"{self.unique(name)}.log"
        )
        server.start()
        return server


class ServerProcess(_ChildProcess):
    """One HTTP server process on a free port (`{port}` in `args`), healthy
    once GET /healthz answers 200. Started again, it keeps its port, so that
    clients reconnect to the same address."""

    # Plain http: a client needs no TLS context (the cluster's proxy has one).
    ssl_context: ssl.SSLContext | None = None

    def __init__(
        self,
        *,
        args: Sequence[str],
        env: dict[str, str],
        log_path: Path,
        cwd: Path = REPO_ROOT,
    ) -> None:
        self.port = free_port()
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.env = env
        self.log_path = log_path
        self.cwd = cwd

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def origin(self) -> str:
        """The Origin a browser on this site sends."""
        return self.base_url

    def start(self, timeout: float = 30.0) -> None:
        process = self._spawn(self.args, cwd=self.cwd, env=self.env)
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(
                    f"{self.args[:4]} did not become healthy:\n{_tail(self.log_path)}"
                )
            time.sleep(0.05)

    def healthy(self) -> bool:
        try:
            with _NO_PROXY.open(f"{self.base_url}/healthz", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def with_own_origin(env: dict[str, str], origin: str) -> dict[str, str]:
    """The server accepts sockets from its own address, as a deployment does
    from SITE_URL: SITE_URL is the server's address unless the test chose one
    (for the links in emails), and then the address joins ALLOWED_ORIGINS."""
    if not env.get("SITE_URL"):
        return {**env, "SITE_URL": origin}
    listed = [entry for entry in env.get("ALLOWED_ORIGINS", "").split(",") if entry]
    return {**env, "ALLOWED_ORIGINS": ",".join([*listed, origin])}


class DaphneServer(ServerProcess):
    """`python -m daphne <application>` (the project's by default)."""

    def __init__(
        self,
        *,
        env: dict[str, str],
        log_path: Path,
        application: str = "chatsite.asgi:application",
        cwd: Path = REPO_ROOT,
    ) -> None:
        super().__init__(
            args=[PYTHON, "-m", "daphne", "-b", HOST, "-p", "{port}", application],
            env=env,
            log_path=log_path,
            cwd=cwd,
        )
        self.env = with_own_origin(self.env, self.origin)

    def ws_url(self, slug: str) -> str:
        return f"ws://{HOST}:{self.port}/ws/communities/{slug}/"
