"""The systems under test: the project, the tutorial peer and the bare relay,
as server processes with their environment (shared by bench/run.py and
bench/production.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from bench.residents import Target
from bench.servers import clean_env, daphne, relay, run_checked
from tests.support.servers import PYTHON, ServerProcess

# Generous limits for the servers under test: the benchmark measures capacity,
# not the abuse limits (tested on their own elsewhere).
RATES = {
    "CHAT_SEND_RATE": "100000/100000",
    "CHAT_TYPING_RATE": "100000/100000",
    "CHAT_CONNECT_RATE": "100000/100000",
    "CHAT_SYNC_RATE": "100000/100000",
}


def log(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", flush=True)


class System:
    """One system under test: its server processes and how to reach them."""

    def __init__(
        self, name: str, kind: str, servers: Sequence[ServerProcess], path: str
    ) -> None:
        self.name, self.kind, self.servers, self.path = name, kind, servers, path
        self.cookies: dict[str, str] = {}

    def start(self) -> None:
        for server in self.servers:
            server.start(timeout=60)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def restart(self) -> float:
        """Stop every process, start them again; seconds until all are healthy."""
        self.stop()
        started = time.monotonic()
        self.start()
        return time.monotonic() - started

    def target(self) -> Target:
        return Target(
            name=self.name,
            kind=self.kind,
            ports=tuple(s.port for s in self.servers),
            pids=tuple(s.pid for s in self.servers),
            path=self.path,
            cookies=self.cookies,
        )


def server_envs(
    workdir: Path, *, project_db: str, tutorial_db: str, redis_url: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The environments of the project's and the tutorial peer's servers."""
    base = {
        "VAR_DIR": str(workdir),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECRET_KEY": "bench-only-secret-key-0123456789-not-for-production",
        "LOG_LEVEL": "WARNING",
        "CHANNEL_LAYER_PREFIX": f"bench{os.getpid()}",
        **RATES,
    }
    if redis_url:
        base["REDIS_URL"] = redis_url
    project_env = clean_env(
        **base,
        DJANGO_SETTINGS_MODULE="chatsite.settings.local",
        DATABASE_URL=project_db,
    )
    tutorial_env = clean_env(
        **base,
        DJANGO_SETTINGS_MODULE="bench.ref_channels_tutorial.settings",
        DATABASE_URL=tutorial_db,
    )
    return project_env, tutorial_env


def project_system(
    env: dict[str, str], workdir: Path, processes: int, *, label: str = "project"
) -> System:
    run_checked([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env=env)
    servers = [
        daphne(
            "chatsite.asgi:application", env=env, log_path=workdir / f"{label}-{i}.log"
        )
        for i in range(processes)
    ]
    return System("project", "project", servers, "/ws/communities/bench/")


def tutorial_system(
    env: dict[str, str], workdir: Path, processes: int, *, label: str = "tutorial"
) -> System:
    run_checked(
        [PYTHON, "-m", "django", "migrate", "--run-syncdb", "--no-input", "-v", "0"],
        env=env,
    )
    servers = [
        daphne(
            "bench.ref_channels_tutorial.asgi:application",
            env=env,
            log_path=workdir / f"{label}-{i}.log",
        )
        for i in range(processes)
    ]
    return System("tutorial", "query", servers, "/ws/chat/")


def relay_system(workdir: Path) -> System:
    return System("relay", "query", [relay(workdir / "relay.log")], "/")
