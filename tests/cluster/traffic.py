"""Load through the proxy, one phase at a time, and what it measured.

Residents are tabs of tests/reliability/load.py (`Tab`): each speaks the
contract as the frontend does (sync on open, send with a client_id until
acked, reconnect and resend after a lost socket). Tabs talk in groups, one
group conversation each; every tab sends to its group, one message every
`interval` seconds, for `duration` seconds (bounded in count too). A fault
runs beside the load; afterwards each group is checked against the database
with load.py's `verify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.figures import ms, percentile
from tests.reliability.load import Outcome, SocketLost, Tab, verify
from tests.support.protocol import send_frame

from .cluster import ClusterHood, Entry


@dataclass(frozen=True)
class Size:
    """How much load a run makes (CLUSTER_LONG=1 picks the long one)."""

    groups: int
    group_size: int
    duration: float  # seconds of sending per phase
    interval: float  # seconds between two sends of one tab
    max_sends: int  # per tab and phase, whatever the duration
    link_outage: float  # seconds the cable of a server host stays out
    offline: int  # residents who never connect (the email scenario)
    burst: int  # messages each offline resident gets


SHORT = Size(2, 3, 12, 0.2, 100, 8, 4, 2)
LONG = Size(4, 5, 40, 0.1, 600, 15, 12, 3)


@dataclass
class Group:
    conversation: int
    names: list[str]


@dataclass
class Crowd:
    """The residents of the run: groups of tabs and offline residents."""

    hood: ClusterHood
    entry: Entry
    groups: list[Group]
    offline: list[str]
    last_seen: dict[str, int] = field(default_factory=dict)

    def tabs(self) -> list[list[Tab]]:
        """Fresh tabs for a phase (bookkeeping per phase), each resuming
        from the last id its resident saw, as a reopened browser tab would."""
        result = []
        for group in self.groups:
            tabs = [Tab(name, self.hood, lambda: [self.entry]) for name in group.names]
            for tab in tabs:
                tab.last_seen = self.last_seen.get(tab.name, 0)
            result.append(tabs)
        return result


async def gather_crowd(entry: Entry, hood: ClusterHood, size: Size) -> Crowd:
    """Each group's first tab opens its conversation (`to` the others)."""
    groups = []
    for g in range(size.groups):
        names = [f"g{g}t{t}" for t in range(size.group_size)]
        opener = Tab(names[0], hood, lambda: [entry])
        await opener.open()
        ack = await opener.request(
            send_frame(f"setup-{g}", "bonjour", to=[hood.user(n) for n in names[1:]]),
            f"setup-{g}",
        )
        assert ack["type"] == "message.ack", ack
        groups.append(Group(ack["message"]["conversation"], names))
        await opener.close()
    offline = [f"off{i}" for i in range(size.offline)]
    return Crowd(hood, entry, groups, offline)


async def send_to(tab: Tab, client_id: str, body: str, to: list[str]) -> Any:
    """A message to residents by name (a new conversation or theirs),
    resent with the same client_id until acked."""
    while True:
        try:
            frame = await tab.request(send_frame(client_id, body, to=to), client_id)
        except SocketLost:
            await tab.reconnect()
            continue
        if frame["type"] == "message.ack":
            return frame["message"]
        assert frame["code"] == "unavailable", frame
        await asyncio.sleep(0.2)


async def send_for(tabs: list[Tab], conversation: int, tag: str, size: Size) -> None:
    """Every tab sends to the group until the duration (or count) is spent."""
    deadline = time.monotonic() + size.duration

    async def sender(tab: Tab) -> None:
        for i in range(size.max_sends):
            if time.monotonic() > deadline:
                return
            await tab.send(
                f"{tag}-{tab.name}-{i}", f"{tag} {tab.name} {i}", conversation
            )
            await asyncio.sleep(size.interval)

    await asyncio.gather(*(sender(tab) for tab in tabs))


def caught_up(groups: list[list[Tab]], before: float) -> bool:
    """Every message first sent before `before` is acked and has reached
    every other tab of its group, live or by sync."""
    for tabs in groups:
        received = {tab.name: set(tab.live) | set(tab.synced) for tab in tabs}
        for sender in tabs:
            for client_id, sent_at in list(sender.sent_at.items()):
                if sent_at >= before:
                    continue
                mid = sender.acked.get(client_id)
                if mid is None:
                    return False
                if any(
                    mid not in received[tab.name] for tab in tabs if tab is not sender
                ):
                    return False
    return True


def missing(groups: list[list[Tab]], before: float) -> list[dict[str, Any]]:
    """What `caught_up` still waits for: each (recipient, message) pair,
    with whether the message's id is below the last id the recipient had
    seen (a sync from there cannot bring it)."""
    found = []
    for tabs in groups:
        for sender in tabs:
            for client_id, sent_at in sender.sent_at.items():
                mid = sender.acked.get(client_id)
                if sent_at >= before or mid is None:
                    continue
                for tab in tabs:
                    if tab is sender or mid in tab.live or mid in tab.synced:
                        continue
                    found.append(
                        {
                            "recipient": tab.name,
                            "message": mid,
                            "client_id": client_id,
                            "recipient_last_seen": tab.last_seen,
                            "recipient_reconnects": tab.reconnects,
                        }
                    )
    return found[:10]


async def wait_caught_up(
    groups: list[list[Tab]], healed: float, timeout: float = 90
) -> float | None:
    """Seconds from `healed` until every client had everything sent before
    it (None: not within `timeout`, the final sync then decides)."""
    deadline = healed + timeout
    while time.monotonic() < deadline:
        if caught_up(groups, healed):
            return time.monotonic() - healed
        await asyncio.sleep(0.05)
    return None


def delivery_latencies(
    groups: list[list[Tab]], tag: str, window: tuple[float, float] | None = None
) -> list[float]:
    """Send (first attempt) to live arrival, per recipient tab; only for
    messages first sent within `window` when given."""
    start, end = window or (0.0, float("inf"))
    latencies = []
    for tabs in groups:
        first_sent = {
            mid: sender.sent_at[cid]
            for sender in tabs
            for cid, mid in sender.acked.items()
            if cid.startswith(f"{tag}-") and start <= sender.sent_at[cid] <= end
        }
        for tab in tabs:
            for mid, arrived in tab.live_at.items():
                if mid in first_sent:
                    latencies.append(arrived - first_sent[mid])
    return latencies


@dataclass
class Fault:
    """What a fault did and when: `heal()` says it is over (the cable back,
    the reload done, the process restarted), which starts the catch-up
    clock while the fault may still be tidying up."""

    injected: float = 0.0
    healed: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)
    over: asyncio.Event = field(default_factory=asyncio.Event)

    def heal(self) -> None:
        self.healed = time.monotonic()
        self.over.set()

    async def caught_up_after(self, groups: list[list[Tab]]) -> float | None:
        await self.over.wait()
        caught = await wait_caught_up(groups, self.healed)
        if caught is None:
            self.figures["not_caught_up"] = missing(groups, self.healed)
        return caught


FaultAction = Callable[[list[list[Tab]], Fault], Awaitable[None]]


async def run_phase(
    crowd: Crowd, tag: str, size: Size, fault: FaultAction | None = None
) -> dict[str, Any]:
    """Open the tabs, send for the phase's duration with the fault
    injected a third of the way in, wait for every client to catch up, then
    check each group against the database."""
    groups = crowd.tabs()
    for tabs in groups:
        await asyncio.gather(*(tab.open() for tab in tabs))
    started = time.monotonic()
    senders = [
        asyncio.create_task(send_for(tabs, group.conversation, tag, size))
        for tabs, group in zip(groups, crowd.groups, strict=True)
    ]
    record = Fault()
    caught: float | None = None
    try:
        if fault is not None:
            await asyncio.sleep(size.duration / 3)
            record.injected = time.monotonic()
            catching_up = asyncio.create_task(record.caught_up_after(groups))
            try:
                await fault(groups, record)
            finally:
                record.over.set()  # a failed fault: no one waits forever
            caught = await catching_up
        await asyncio.gather(*senders)
    finally:
        for task in senders:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*senders, return_exceptions=True)
    sent_seconds = time.monotonic() - started
    outcomes = [await verify(tabs, tag) for tabs in groups]
    for tabs in groups:
        for tab in tabs:
            crowd.last_seen[tab.name] = tab.last_seen
            await tab.close()
    figures = phase_figures(groups, tag, outcomes, round(sent_seconds, 1))
    if fault is not None:
        figures.update(fault_figures(groups, tag, record, caught))
    return figures


def phase_figures(
    groups: list[list[Tab]], tag: str, outcomes: list[Outcome], sent_seconds: float
) -> dict[str, Any]:
    tabs = [tab for group in groups for tab in group]
    latencies = delivery_latencies(groups, tag)
    closes = Counter(code for tab in tabs for code in tab.closes)
    return {
        **_sum(outcomes).figures(),
        "tabs": len(tabs),
        "sending_seconds": sent_seconds,
        "delivery_p50_ms": ms(percentile(latencies, 0.5)),
        "delivery_p99_ms": ms(percentile(latencies, 0.99)),
        "delivery_max_ms": ms(max(latencies, default=0)),
        "reconnects": sum(tab.reconnects for tab in tabs),
        "close_codes": {str(code): n for code, n in sorted(closes.items())},
        "errors": dict(sum((tab.errors for tab in tabs), Counter())),
    }


def fault_figures(
    groups: list[list[Tab]], tag: str, record: Fault, caught: float | None
) -> dict[str, Any]:
    """Delivery while the fault lasted, the catch-up after, the fault's own."""
    during = delivery_latencies(groups, tag, (record.injected, record.healed))
    figures: dict[str, Any] = {
        f"fault_delivery_{name}_ms": ms(percentile(during, fraction))
        if during
        else None
        for name, fraction in (("p50", 0.5), ("p99", 0.99))
    }
    figures["caught_up_after_heal_s"] = None if caught is None else round(caught, 2)
    figures["fault_lasted_s"] = round(record.healed - record.injected, 2)
    return {**figures, **record.figures}


def _sum(outcomes: list[Outcome]) -> Outcome:
    """One outcome for all groups (latency figures: the worst group's)."""
    counts = {
        name: sum(getattr(o, name) for o in outcomes)
        for name in [
            "acked",
            "stored",
            "lost",
            "unreached",
            "duplicated_stored",
            "duplicated_live",
            "expected_deliveries",
            "live_deliveries",
            "recovered_by_sync",
        ]
    }
    return Outcome(
        **counts,
        ack_p50_ms=max(o.ack_p50_ms for o in outcomes),
        ack_p99_ms=max(o.ack_p99_ms for o in outcomes),
        ack_max_ms=max(o.ack_max_ms for o in outcomes),
    )
