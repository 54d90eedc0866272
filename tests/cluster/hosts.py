"""The processes of the cluster, each started inside its host's namespace:
daphne, the notification worker and HAProxy. PostgreSQL and Redis reuse the
test suite's own (tests/reliability/pgcluster.py, tests/support/servers.py)
with a command prefix that enters the database host.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.servers import PYTHON, REPO_ROOT, wait_until

from .network import Host

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
DAPHNE_PORT = 8000
# As the README's "Running several processes": the proxy's headers are
# trusted, and no access log (paths can carry tokens).
DAPHNE_OPTIONS = ("--proxy-headers", "--verbosity", "0", "chatsite.asgi:application")


class HostProcess:
    """One program on a host, in its own session, output to a log file."""

    def __init__(
        self, host: Host, args: list[str], *, env: dict[str, str], log_path: Path
    ) -> None:
        self.host = host
        self.args = args
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.host.command(*self.args),
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: a crash, nothing cleaned up."""
        if self.alive:
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, grace: float = 10) -> None:
        """SIGTERM, then SIGKILL if it is still there after `grace` seconds."""
        if not self.alive:
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.kill()

    def fail(self, what: str) -> RuntimeError:
        tail = "\n".join(self.log().splitlines()[-40:])
        return RuntimeError(f"{what} on {self.host.name}:\n{tail}")


class Daphne(HostProcess):
    """The project's ASGI application behind the proxy (--proxy-headers)."""

    def __init__(self, host: Host, *, env: dict[str, str], root: Path) -> None:
        super().__init__(
            host,
            [
                PYTHON,
                "-m",
                "daphne",
                "-b",
                host.address,
                "-p",
                str(DAPHNE_PORT),
                *DAPHNE_OPTIONS,
            ],
            env=env,
            log_path=root / f"daphne-{host.name}.log",
        )
        self.site_host = env["ALLOWED_HOSTS"].split(",")[0]

    @property
    def address(self) -> str:
        return f"{self.host.address}:{DAPHNE_PORT}"

    def start(self, timeout: float = 60) -> None:
        self.spawn()
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if not self.alive or time.monotonic() > deadline:
                self.kill()
                raise self.fail("daphne did not become healthy")
            time.sleep(0.1)

    def metrics(self, names: tuple[str, ...], timeout: float = 5) -> dict[str, float]:
        """The process's own Prometheus counters and gauges among `names`
        (GET /metrics: the test runs on the hosts' private network, which the
        endpoint serves without a token), each summed over its labels."""
        from prometheus_client.parser import text_string_to_metric_families

        request = urllib.request.Request(
            f"http://{self.address}/metrics",
            headers={"Host": self.site_host, "X-Forwarded-Proto": "https"},
        )
        with _NO_PROXY.open(request, timeout=timeout) as response:
            text = response.read().decode()
        totals = dict.fromkeys(names, 0.0)
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name in totals:
                    totals[sample.name] += sample.value
        return totals

    def healthy(self, timeout: float = 2) -> bool:
        """/healthz as the proxy's check asks it (allowed Host, https)."""
        request = urllib.request.Request(
            f"http://{self.address}/healthz",
            headers={"Host": self.site_host, "X-Forwarded-Proto": "https"},
        )
        try:
            with _NO_PROXY.open(request, timeout=timeout) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False


class Worker(HostProcess):
    """`manage.py notify_worker`."""

    def __init__(self, host: Host, *, env: dict[str, str], root: Path) -> None:
        super().__init__(
            host,
            [PYTHON, "manage.py", "notify_worker", "--interval", "0.2"],
            env=env,
            log_path=root / f"worker-{host.name}.log",
        )

    def start(self) -> None:
        starts = self.log().count(" started: ")
        self.spawn()
        wait_until(
            lambda: self.log().count(" started: ") > starts or not self.alive,
            timeout=60,
            what=f"the notification worker on {self.host.name}",
        )
        if not self.alive:
            raise self.fail("notify_worker exited")


class HAProxy(HostProcess):
    """deploy/haproxy.cfg.example in master-worker mode, in the foreground."""

    CONFIG = REPO_ROOT / "deploy" / "haproxy.cfg.example"

    def __init__(self, host: Host, *, env: dict[str, str], root: Path) -> None:
        super().__init__(
            host,
            ["haproxy", "-W", "-db", "-f", str(self.CONFIG)],
            env=env,
            log_path=root / "haproxy.log",
        )
        self.admin_socket = Path(env["VOISINS_RUN_DIR"]) / "admin.sock"

    def check_config(self) -> None:
        result = subprocess.run(
            self.host.command("haproxy", "-c", "-f", str(self.CONFIG)),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"haproxy -c: {result.stdout}{result.stderr}")

    def loads(self) -> int:
        """How many times the master has loaded the configuration."""
        return self.log().count("Loading success")

    def start(self) -> None:
        self.spawn()
        wait_until(
            lambda: self.loads() > 0 or not self.alive,
            timeout=30,
            what="haproxy to load its configuration",
        )
        if not self.alive:
            raise self.fail("haproxy exited")

    def reload(self) -> float:
        """A graceful reload (SIGUSR2 to the master); seconds it took."""
        before = self.loads()
        started = time.monotonic()
        os.kill(self.pid, signal.SIGUSR2)
        wait_until(
            lambda: self.loads() > before or not self.alive,
            timeout=30,
            what="haproxy to reload",
            interval=0.02,
        )
        if not self.alive:
            raise self.fail("haproxy died on reload")
        return time.monotonic() - started

    def server_states(self) -> dict[str, str]:
        """Backend server -> UP, DOWN... from the admin socket (`show stat`)."""
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            sock.connect(str(self.admin_socket))
            sock.sendall(b"show stat\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        lines = b"".join(chunks).decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        states = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "daphne" and row.get("svname") not in (
                "FRONTEND",
                "BACKEND",
            ):
                states[row["svname"]] = row["status"].split()[0]
        return states
