"""The cluster: built once for the module, removed at the end whatever
happened, leftovers of a killed run swept first.

Skipped with the reason when the machine cannot build it (not root, no
`ip netns`, no HAProxy...); `.ci/run` sets REQUIRE_SERVICES=1, which turns
that skip into a failure. CLUSTER_LONG=1 (`make cluster-test`) runs the long
version; `make test` runs the short one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import shutil
import time
from collections.abc import Iterator

import pytest

from tests.conftest import require_service
from tests.reliability.pgcluster import cluster_tools_available
from tests.support.servers import redis_available

from . import network
from .cluster import HOSTS, Cluster
from .report import OUTPUT, Results
from .traffic import LONG, SHORT, Crowd, Size, gather_crowd

LONG_RUN = os.environ.get("CLUSTER_LONG") == "1"


def machine_ready() -> tuple[bool, str]:
    checks = [
        network.netns_available,
        lambda: (shutil.which("haproxy") is not None, "haproxy is not installed"),
        lambda: (shutil.which("iptables") is not None, "iptables is not installed"),
        lambda: (
            importlib.util.find_spec("netfilterqueue") is not None,
            "NetfilterQueue is not installed (make cluster-deps)",
        ),
        lambda: (redis_available(), "redis-server is not installed"),
        cluster_tools_available,
        network.subnet_is_free,
    ]
    for check in checks:
        ready, why = check()
        if not ready:
            return False, why
    return True, ""


@pytest.fixture(scope="module")
def size() -> Size:
    return LONG if LONG_RUN else SHORT


@pytest.fixture(scope="module")
def results() -> Results:
    return Results(
        "long" if LONG_RUN else "short",
        {host.name: host.address for host in HOSTS},
    )


@pytest.fixture(scope="module")
def cluster(results: Results) -> Iterator[Cluster]:
    ready, why = machine_ready()
    require_service(ready, f"cluster: {why}")
    with network.exclusive():
        network.sweep()
        built = Cluster()
        try:
            started = time.monotonic()
            built.start()
            results.note("build_seconds", round(time.monotonic() - started, 1))
            yield built
        finally:
            built.destroy(keep_logs=OUTPUT / "cluster-logs")


@pytest.fixture(scope="module")
def crowd(cluster: Cluster, size: Size) -> Crowd:
    assert cluster.entry is not None
    names = [f"g{g}t{t}" for g in range(size.groups) for t in range(size.group_size)]
    offline = [f"off{i}" for i in range(size.offline)]
    hood = cluster.hood(names + offline, "cluster")
    return asyncio.run(gather_crowd(cluster.entry, hood, size))
