"""The faults injected beside the load (traffic.run_phase calls them a third
of the way into a phase). Blocking steps run in a thread so that the tabs
keep talking meanwhile. Each fault fills `record`: when it was over
(`healed`) and what it measured."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tests.notifications.doubles import SmtpServer
from tests.reliability.figures import ms, percentile
from tests.reliability.load import Tab
from tests.support.servers import PYTHON, wait_until

from . import network
from .cluster import APPS, DB, Cluster
from .traffic import Crowd, Fault, FaultAction, Size, send_to


@dataclass
class ProxyWatch:
    """HAProxy's view of the daphne hosts, read every 0.1 s from its admin
    socket: when each one went DOWN and came back UP."""

    cluster: Cluster
    changes: list[tuple[float, str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ProxyWatch:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        assert self.cluster.proxy is not None
        last: dict[str, str] = {}
        while not self._stop.is_set():
            try:
                states = self.cluster.proxy.server_states()
            except OSError:
                states = {}  # between two workers during a reload
            for server, state in states.items():
                if last.get(server) != state:
                    self.changes.append((time.monotonic(), server, state))
                    last[server] = state
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def first(self, server: str, state: str, after: float) -> float | None:
        for at, name, seen in self.changes:
            if name == server and seen == state and at >= after:
                return at
        return None

    def went_down(self, after: float) -> list[str]:
        return sorted(
            {name for at, name, s in self.changes if s == "DOWN" and at >= after}
        )


def seconds(later: float | None, earlier: float) -> float | None:
    return None if later is None else round(later - earlier, 2)


def link_cut(cluster: Cluster, size: Size) -> FaultAction:
    """app1's cable pulled for `size.link_outage` seconds, then put back."""

    async def fault(groups: list[list[Tab]], record: Fault) -> None:
        watch = ProxyWatch(cluster).start()
        try:
            await asyncio.to_thread(network.cut, APPS[0])
            record.injected = time.monotonic()
            await asyncio.sleep(size.link_outage / 2)
            # A send cut off mid-transaction keeps its community's lock.
            locks = await asyncio.to_thread(cluster.send_locks, APPS[0].address)
            await asyncio.sleep(record.injected + size.link_outage - time.monotonic())
            await asyncio.to_thread(network.mend, APPS[0])
            record.heal()
            await asyncio.to_thread(
                wait_until,
                lambda: watch.first("web1", "UP", record.healed) is not None,
                timeout=60,
                what="the proxy to see app1 again",
            )
        finally:
            watch.stop()
        record.figures.update(
            outage_s=size.link_outage,
            send_locks_mid_outage=locks,
            proxy_marked_app1_down_after_s=seconds(
                watch.first("web1", "DOWN", record.injected), record.injected
            ),
            proxy_marked_app1_up_after_mend_s=seconds(
                watch.first("web1", "UP", record.healed), record.healed
            ),
        )

    return fault


def timed_check(cluster: Cluster) -> float:
    """Milliseconds app1 takes to answer /healthz (-1: it did not, 200)."""
    started = time.monotonic()
    healthy = cluster.daphnes[0].healthy(timeout=10)
    return ms(time.monotonic() - started) if healthy else -1.0


def latency_and_loss(cluster: Cluster, size: Size) -> FaultAction:
    """50 ms more on every packet a host sends and 1 % of them lost, on
    every host, until the sending ends."""

    async def fault(groups: list[list[Tab]], record: Fault) -> None:
        impairment = await asyncio.to_thread(cluster.impair, delay_ms=50, loss=0.01)
        record.injected = time.monotonic()
        try:
            # The round trip the delay makes (100 ms between two hosts, plus
            # what the busy machine adds), and what the proxy's health
            # check then waits for.
            handshakes = await asyncio.to_thread(
                network.connect_times, APPS[0], DB.address, 5432, PYTHON
            )
            checks = [await asyncio.to_thread(timed_check, cluster) for _ in range(5)]
            await asyncio.sleep(
                record.injected + size.duration * 2 / 3 - time.monotonic()
            )
        finally:
            await asyncio.to_thread(impairment.stop)
        record.heal()
        record.figures.update(
            delay_ms_per_host_egress=50,
            loss_per_host_egress=0.01,
            healthz_ms=sorted(checks),
            app1_to_db_handshake_ms={
                "p50": percentile(handshakes, 0.5),
                "max": max(handshakes),
            },
        )

    return fault


def proxy_reload(cluster: Cluster) -> FaultAction:
    """A graceful reload of HAProxy (SIGUSR2 to its master)."""

    async def fault(groups: list[list[Tab]], record: Fault) -> None:
        assert cluster.proxy is not None
        took = await asyncio.to_thread(cluster.proxy.reload)
        record.heal()
        record.figures["reload_s"] = round(took, 3)

    return fault


def redis_restart(cluster: Cluster, down_for: float = 0) -> FaultAction:
    """redis-server SIGKILLed and started again (it keeps nothing) after
    `down_for` seconds."""

    async def fault(groups: list[list[Tab]], record: Fault) -> None:
        assert cluster.redis is not None
        watch = ProxyWatch(cluster).start()
        try:
            await asyncio.to_thread(cluster.redis.kill)
            await asyncio.sleep(down_for)
            await asyncio.to_thread(cluster.redis.start)
            record.heal()
            # Every daphne host healthy again (the proxy's checks too).
            await asyncio.to_thread(
                wait_until,
                lambda: all(daphne.healthy() for daphne in cluster.daphnes),
                timeout=60,
                what="every daphne to see Redis again",
            )
            all_healthy = time.monotonic()
        finally:
            watch.stop()
        record.figures.update(
            redis_down_s=round(record.healed - record.injected, 3),
            daphnes_healthy_after_s=round(all_healthy - record.healed, 2),
            proxy_marked_down=watch.went_down(record.injected),
        )

    return fault


class Inboxes:
    """The offline residents' mail at the SMTP sink, from a starting point."""

    def __init__(self, smtp: SmtpServer, crowd: Crowd) -> None:
        self.smtp = smtp
        self.addresses = [f"{crowd.hood.user(n)}@example.org" for n in crowd.offline]
        self.before = {a: len(smtp.mails(a)) for a in self.addresses}

    def new(self, address: str) -> int:
        return len(self.smtp.mails(address)) - self.before[address]

    def all_got_one(self) -> bool:
        return all(self.new(a) > 0 for a in self.addresses)

    def figures(self, killed_at: float) -> dict[str, Any]:
        counts = [self.new(a) for a in self.addresses]
        last = max(m.received_at for a in self.addresses for m in self.smtp.mails(a))
        ids = Counter(str(m.message["Message-ID"]) for m in self.smtp.mails())
        return {
            "offline_residents": len(self.addresses),
            "emails_per_offline_resident": sorted(Counter(counts).items()),
            "offline_residents_without_exactly_one_email": sum(
                1 for n in counts if n != 1
            ),
            "last_email_after_kill_s": round(last - killed_at, 2),
            "duplicate_message_ids_all_run": sum(n - 1 for n in ids.values() if n > 1),
        }


async def burst(crowd: Crowd, groups: list[list[Tab]], size: Size, tag: str) -> None:
    """`size.burst` messages to each offline resident, all at once, from
    the tabs in turn: within one batching window, so one email each."""
    senders = [tab for tabs in groups for tab in tabs]
    await asyncio.gather(
        *(
            send_to(
                senders[j % len(senders)],
                f"mail{tag}-{name}-{k}",
                f"pour {name} {k}",
                [crowd.hood.user(name)],
            )
            for j, name in enumerate(crowd.offline)
            for k in range(size.burst)
        )
    )


def worker_killed(cluster: Cluster, crowd: Crowd, size: Size, tag: str) -> FaultAction:
    """Offline residents get a burst of messages; while work1 is sending one
    of their emails (the SMTP sink holds each DATA for 2 s, as a slow relay
    would), its notify_worker is SIGKILLed. work2 must requeue and send what
    work1 had, once; work1 is started again at the end, as a supervisor
    would. The fault is over for `healed` once every email is out."""

    async def fault(groups: list[list[Tab]], record: Fault) -> None:
        smtp, killed = cluster.smtp, cluster.workers[0]
        assert smtp is not None
        inboxes = Inboxes(smtp, crowd)
        sending = smtp.data_from(killed.host.address)
        smtp.delay_data(2.0)
        try:
            await burst(crowd, groups, size, tag)
            # Two email threads per worker and at least four emails due at
            # once: work2 cannot take them all, work1 gets some.
            await asyncio.to_thread(
                wait_until,
                lambda: smtp.data_from(killed.host.address) > sending,
                timeout=60,
                what="work1 to be sending an email",
                interval=0.02,
            )
            await asyncio.to_thread(killed.kill)
            record.injected = time.monotonic()
            await asyncio.to_thread(
                wait_until,
                lambda: (
                    inboxes.all_got_one()
                    and cluster.unfinished_jobs("send_email_batch") == 0
                ),
                timeout=120,
                what="every offline resident's email",
                interval=0.2,
            )
        finally:
            smtp.delay_data(0)
        record.heal()
        await asyncio.to_thread(killed.start)
        record.figures.update(
            inboxes.figures(record.injected),
            jobs_requeued_from_dead_worker=sum(
                w.log().count("requeued task") for w in cluster.workers
            ),
            # Stored besides the phase's own conversations.
            burst_messages=len(crowd.offline) * size.burst,
        )

    return fault
