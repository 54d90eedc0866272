"""What only the benchmark needs around its server processes: a snapshot of
the code under test that the servers run from, the reference peers' processes
and CPU readings. Processes, ports, waits, Redis and PostgreSQL are the test
harness's (tests/support/servers.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from tests.support.servers import (
    PYTHON,
    REPO_ROOT,
    DaphneServer,
    ServerProcess,
    server_env,
)

# Where the servers' code runs from: a snapshot taken at the start of a run
# (see `snapshot_sources`), so that edits to the tree during a run do not
# change the code under test halfway through.
SOURCE_DIRS = ("chatsite", "conversations", "frontend", "bench")
_source_root = REPO_ROOT


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


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a server under test, running the snapshot."""
    return server_env(pythonpath=_source_root, **extra)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


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


def daphne(application: str, *, env: dict[str, str], log_path: Path) -> DaphneServer:
    """The project or the tutorial peer, run from the snapshot."""
    return DaphneServer(
        application=application, env=env, log_path=log_path, cwd=_source_root
    )


def relay(log_path: Path) -> ServerProcess:
    """The bare `websockets` relay (bench/ref_relay.py), run from the snapshot."""
    return ServerProcess(
        args=[PYTHON, "bench/ref_relay.py", "--port", "{port}"],
        env=clean_env(),
        log_path=log_path,
        cwd=_source_root,
    )
