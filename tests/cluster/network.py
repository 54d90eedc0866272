"""Hosts on a private network: Linux network namespaces on one bridge.

Every name this module creates starts with `vcl-` (namespaces, the bridge,
the host ends of the veth pairs, temporary folders), so that `sweep()` can
remove what a killed run left behind before a new run starts, and nothing
else. Inside each namespace the host's interface is `eth0`, as on a real
machine. The network is 10.77.0.0/24; the bridge (the root namespace, where
the test and its SMTP sink run) is 10.77.0.1. Traffic stays on this machine:
between namespaces this run made, and from the root namespace to them.

Only one run at a time: `exclusive()` holds a lock file for the run.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PREFIX = "vcl-"
BRIDGE = f"{PREFIX}br0"
SUBNET = ipaddress.ip_network("10.77.0.0/24")
GATEWAY = "10.77.0.1"
LOCK = Path(tempfile.gettempdir()) / f"{PREFIX}cluster.lock"


def run(*args: str, check: bool = True, timeout: float = 30) -> str:
    result = subprocess.run(
        list(args), capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def netns_available() -> tuple[bool, str]:
    """Root, `ip netns`, veth and a bridge: what the cluster needs to exist."""
    if os.geteuid() != 0:
        return False, "the cluster test needs root (network namespaces)"
    if shutil.which("ip") is None:
        return False, "iproute2 (`ip`) is not installed"
    probe = f"{PREFIX}probe"
    try:
        run("ip", "netns", "add", probe)
        run(
            "ip",
            "link",
            "add",
            f"{PREFIX}pb0",
            "type",
            "veth",
            "peer",
            "name",
            f"{PREFIX}pb1",
        )
    except (RuntimeError, OSError) as error:
        return False, f"`ip netns` or veth unavailable: {error}"
    finally:
        run("ip", "link", "del", f"{PREFIX}pb0", check=False)
        run("ip", "netns", "del", probe, check=False)
    return True, ""


@contextlib.contextmanager
def exclusive(timeout: float = 600) -> Iterator[None]:
    """One cluster run at a time on this machine (the names are fixed)."""
    with LOCK.open("w") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another cluster run holds {LOCK}") from None
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sweep() -> None:
    """Remove every `vcl-` namespace (and the processes in it), link and
    temporary folder: what a previous run left if it was killed."""
    for line in run("ip", "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(PREFIX):
            kill_namespace(name)
    for line in run("ip", "-o", "link", "show", check=False).splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name.startswith(PREFIX):
            run("ip", "link", "del", name, check=False)
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def kill_namespace(name: str) -> None:
    """SIGKILL every process in the namespace, then delete it."""
    for pid in run("ip", "netns", "pids", name, check=False).split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)
    run("ip", "netns", "del", name, check=False)


def subnet_is_free() -> tuple[bool, str]:
    """Nothing of the machine's own is routed into our /24."""
    for line in run("ip", "-4", "route", "show").splitlines():
        destination = line.split()[0]
        if destination == "default":
            continue
        with contextlib.suppress(ValueError):
            if ipaddress.ip_network(destination, strict=False).overlaps(SUBNET):
                return False, f"{SUBNET} is already routed here: {line}"
    return True, ""


@dataclass(frozen=True)
class Host:
    """One namespace: `vcl-<name>`, its `eth0` at `address`, and the host
    end of its cable, `vcl-<name>` in the root namespace, on the bridge."""

    name: str
    address: str

    @property
    def namespace(self) -> str:
        return f"{PREFIX}{self.name}"

    @property
    def cable(self) -> str:
        return f"{PREFIX}{self.name}"

    def command(self, *args: str) -> list[str]:
        """`args` run inside this host (`ip netns exec` execs them, so the
        pid of the process started is the program's own)."""
        return ["ip", "netns", "exec", self.namespace, *args]

    def run(self, *args: str, check: bool = True) -> str:
        return run(*self.command(*args), check=check)


def create_bridge() -> None:
    run("ip", "link", "add", BRIDGE, "type", "bridge")
    run("ip", "addr", "add", f"{GATEWAY}/{SUBNET.prefixlen}", "dev", BRIDGE)
    run("ip", "link", "set", BRIDGE, "up")


def create_host(host: Host) -> None:
    run("ip", "netns", "add", host.namespace)
    # The peer is made inside the namespace: the root one has its own eth0.
    run("ip", "link", "add", host.cable, "type", "veth",
        "peer", "name", "eth0", "netns", host.namespace)  # fmt: skip
    run("ip", "link", "set", host.cable, "master", BRIDGE)
    run("ip", "link", "set", host.cable, "up")
    host.run("ip", "addr", "add", f"{host.address}/{SUBNET.prefixlen}", "dev", "eth0")
    host.run("ip", "link", "set", "eth0", "up")
    host.run("ip", "link", "set", "lo", "up")


def cut(host: Host) -> None:
    """Pull the host's cable: its packets go nowhere, no RST, no FIN."""
    run("ip", "link", "set", host.cable, "down")


def mend(host: Host) -> None:
    run("ip", "link", "set", host.cable, "up")


_RTT_PROBE = """
import socket, sys, time
times = []
for _ in range(int(sys.argv[3])):
    started = time.monotonic()
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10):
        times.append((time.monotonic() - started) * 1000)
print(" ".join(f"{t:.1f}" for t in times))
"""


def connect_times(source: Host, address: str, port: int, python: str) -> list[float]:
    """Milliseconds of TCP handshakes from `source` to `address:port`, one
    after the other: one round trip each, so what the network adds."""
    out = source.run(python, "-c", _RTT_PROBE, address, str(port), "20")
    return sorted(float(value) for value in out.split())


# Latency and loss (see netem.py for why not `tc ... netem`)


class Impairment:
    """`delay` ms and `loss` on every packet each of `hosts` sends out of
    eth0 (its egress, as `tc qdisc add dev eth0 root netem` would): between
    two impaired hosts a round trip takes twice the delay."""

    def __init__(
        self,
        hosts: Sequence[Host],
        *,
        delay_ms: float,
        loss: float,
        python: str,
        root: Path,
        cwd: Path,
    ) -> None:
        self.hosts = list(hosts)
        self.delay_ms = delay_ms
        self.loss = loss
        self.python = python
        self.root = root
        self.cwd = cwd
        self.delayers: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for host in self.hosts:
            log = self.root / f"netem-{host.name}.log"
            with log.open("ab") as output:
                process = subprocess.Popen(
                    host.command(
                        self.python,
                        "-m",
                        "tests.cluster.netem",
                        "--delay-ms",
                        str(self.delay_ms),
                    ),
                    cwd=self.cwd,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.delayers.append(process)
            deadline = time.monotonic() + 20
            while "netem ready" not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"netem on {host.name}: {log.read_text()}")
                time.sleep(0.05)
            # Loss first, in the kernel; what survives waits in the queue.
            # --queue-bypass: should the delayer die, packets pass undelayed.
            host.run(*_egress("-A"), "-m", "statistic", "--mode", "random",
                     "--probability", str(self.loss), "-j", "DROP")  # fmt: skip
            host.run(*_egress("-A"), "-j", "NFQUEUE", "--queue-num", "0",
                     "--queue-bypass")  # fmt: skip

    def stop(self) -> None:
        """Rules first, then the delayers, which release what they hold."""
        for host in self.hosts:
            host.run("iptables", "-F", "OUTPUT", check=False)
        for process in self.delayers:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.delayers.clear()


def _egress(action: str) -> tuple[str, ...]:
    return ("iptables", action, "OUTPUT", "-o", "eth0")
