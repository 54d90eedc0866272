"""The production shape under faults: clients over wss:// through HAProxy to
two daphne hosts, PostgreSQL and Redis on their own host, two notification
workers, an SMTP sink (tests/cluster/cluster.py draws it).

The tests run in this order on one cluster, each a phase of load with one
fault; each records its figures (test-output/cluster.json and cluster.md).
Whatever the fault: no acked message is lost or stored twice, none reaches a
socket twice, every recipient gets every message (live, or by `sync`). How
long clients took to catch up without a sync of their own is a figure, not
a pass mark: the contract makes live delivery a hint, and a message whose
fan-out was lost reaches a tab that does not reconnect only with the next
message of that conversation (the gap fill) or its next sync.
"""

from __future__ import annotations

from typing import Any

import pytest

from .cluster import Cluster
from .faults import (
    latency_and_loss,
    link_cut,
    proxy_reload,
    redis_restart,
    worker_killed,
)
from .report import Results
from .traffic import Crowd, FaultAction, Size, run_phase

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


def record(
    results: Results, cluster: Cluster, phase: str, figures: dict[str, object]
) -> None:
    results.record(phase, {**figures, **cluster.server_figures()})


async def counted_phase(
    cluster: Cluster,
    crowd: Crowd,
    name: str,
    size: Size,
    fault: FaultAction | None = None,
) -> dict[str, Any]:
    """run_phase, with what the servers' own metrics counted: the messages
    stored during the phase by the daphnes' counters must be the messages
    the database holds from it (no daphne restarts within a phase)."""
    before = cluster.messages_counted()
    figures = await run_phase(crowd, name, size, fault)
    figures["stored_by_metrics"] = cluster.messages_counted() - before
    return figures


def assert_nothing_lost(figures: dict[str, object]) -> None:
    assert figures["acked"], figures
    assert figures["lost"] == 0, figures
    assert figures["duplicated_stored"] == 0, figures
    assert figures["duplicated_live"] == 0, figures
    assert figures["unreached"] == 0, figures
    assert figures["stored"] == figures["acked"], figures
    assert figures["stored_by_metrics"] == figures["stored"] + figures.get(
        "burst_messages", 0
    ), figures


async def test_load_through_the_proxy_loses_nothing(
    cluster: Cluster, crowd: Crowd, size: Size, results: Results
) -> None:
    """With no fault, every message goes client -> proxy -> daphne ->
    PostgreSQL and Redis -> the other daphne -> proxy -> every recipient."""
    figures = await counted_phase(cluster, crowd, "baseline", size)
    record(results, cluster, "baseline", figures)
    assert_nothing_lost(figures)
    assert figures["reconnects"] == 0, figures


async def test_a_server_host_cut_off_mid_load_loses_nothing(
    cluster: Cluster, crowd: Crowd, size: Size, results: Results
) -> None:
    """app1's cable is pulled (no FIN, no RST): the proxy marks it down,
    closes its sockets, clients reconnect to app2, resend and sync; once the
    cable is back the proxy uses app1 again and every client is caught up."""
    figures = await counted_phase(
        cluster, crowd, "link_cut", size, link_cut(cluster, size)
    )
    record(results, cluster, "link_cut", figures)
    assert_nothing_lost(figures)
    assert figures["proxy_marked_app1_down_after_s"] is not None, figures


async def test_latency_and_loss_between_hosts_lose_nothing(
    cluster: Cluster, crowd: Crowd, size: Size, results: Results
) -> None:
    """50 ms delay and 1 % loss on every host's egress slow delivery down
    (the figure: p99 while it lasts) but lose and double nothing."""
    figures = await counted_phase(
        cluster, crowd, "netem", size, latency_and_loss(cluster, size)
    )
    record(results, cluster, "netem", figures)
    assert_nothing_lost(figures)
    assert figures["fault_delivery_p99_ms"] is not None, figures


async def test_a_graceful_proxy_reload_drops_no_socket(
    cluster: Cluster, crowd: Crowd, size: Size, results: Results
) -> None:
    """HAProxy reloaded mid-load: the old worker keeps the open WebSockets,
    the new one takes new connections; no client even reconnects."""
    figures = await counted_phase(
        cluster, crowd, "proxy_reload", size, proxy_reload(cluster)
    )
    record(results, cluster, "proxy_reload", figures)
    assert_nothing_lost(figures)
    assert figures["reconnects"] == 0, figures


async def test_a_worker_host_killed_sends_each_email_once(
    cluster: Cluster, crowd: Crowd, size: Size, results: Results
) -> None:
    """work1's notify_worker is SIGKILLed while offline residents' emails go
    out: work2 takes its jobs over and each offline resident gets exactly
    one email; no Message-ID reaches the SMTP sink twice in the whole run."""
    fault = worker_killed(cluster, crowd, size, "worker_kill")
    figures = await counted_phase(cluster, crowd, "worker_kill", size, fault)
    record(results, cluster, "worker_kill", figures)
    assert_nothing_lost(figures)
    assert figures["jobs_requeued_from_dead_worker"] >= 1, figures
    assert figures["offline_residents_without_exactly_one_email"] == 0, figures
    assert figures["duplicate_message_ids_all_run"] == 0, figures


async def test_a_redis_restart_loses_nothing(
    cluster: Cluster, crowd: Crowd, size: Size, results: Results
) -> None:
    """Redis (the channel layer) is killed and started again mid-load: live
    delivery resumes and every client catches up on what it missed."""
    figures = await counted_phase(
        cluster, crowd, "redis_restart", size, redis_restart(cluster)
    )
    record(results, cluster, "redis_restart", figures)
    assert_nothing_lost(figures)


async def test_a_redis_outage_keeps_the_site_in_the_proxy(
    cluster: Cluster, crowd: Crowd, size: Size, results: Results
) -> None:
    """Redis down for 6 s loses nothing, and the proxy keeps sending clients
    to daphne meanwhile: daphne works without Redis (messages are committed,
    and caught up by `sync`), and /healthz says "degraded" with a 200, so
    the proxy's checks keep every daphne in rotation and no socket is
    closed for it."""
    fault = redis_restart(cluster, down_for=6)
    figures = await counted_phase(cluster, crowd, "redis_outage", size, fault)
    record(results, cluster, "redis_outage", figures)
    assert_nothing_lost(figures)
    assert not figures["proxy_marked_down"], figures
