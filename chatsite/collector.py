"""How a server process's garbage collector runs.

CPython's full collection walks every container object the process holds,
and stops the process while it does. A daphne process holding a few
thousand open sockets holds a few hundred thousand such objects (about 160
per socket, most of them daphne's, Twisted's and autobahn's, plus about
120,000 from start-up: modules, classes, functions), so a full collection
stopped it for 300 to 500 ms in the benchmark, at least once a minute while
residents connected, and every live message in flight waited that long.

Nearly all of those objects live as long as their socket or the process.
`gc.freeze()` moves every object the collector tracks into a permanent
generation that no collection walks. So:

- at start-up, after a collection, everything is frozen;
- every `GC_FREEZE_SECONDS` a collection (which now walks only what came
  since the last freeze) runs and the survivors are frozen too;
- every `GC_FULL_SECONDS` everything is thawed and collected once, so that
  cycles among frozen objects that later became garbage (a closed socket's
  leftovers: about ten objects each, measured) are not kept for long. That
  one is the full pause, on a schedule instead of on the allocator's.

Every collection's pause is counted by generation (`pauses`), which
conversations/metrics.py serves as `voisins_gc_pause_seconds`, so an
operator sees what this buys. The counting is plain arithmetic: a collector
callback must take no lock (the collection may have started while this
thread held it), so Prometheus's own histograms are not used here.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_started = False

# Upper bounds (seconds) of the pause histogram's buckets.
PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class PauseCounts:
    """Collections of one generation: how many ended within each bucket's
    bound (cumulative, as Prometheus wants), and their total seconds."""

    def __init__(self) -> None:
        self.buckets = [0] * (len(PAUSE_BUCKETS) + 1)  # the last is +Inf
        self.total_seconds = 0.0

    def add(self, seconds: float) -> None:
        for index, bound in enumerate(PAUSE_BUCKETS):
            if seconds <= bound:
                self.buckets[index] += 1
        self.buckets[-1] += 1
        self.total_seconds += seconds


pauses = [PauseCounts() for _ in range(3)]


def freeze() -> None:
    """Collect, then exempt every surviving object from later collections."""
    gc.collect()
    gc.freeze()


def full_collection() -> None:
    """Thaw everything, collect everything, freeze the survivors."""
    gc.unfreeze()
    freeze()


def start(*, freeze_seconds: float, full_seconds: float) -> bool:
    """Apply the policy to this process, once (later calls do nothing), and
    count pauses from now on. `freeze_seconds` 0 leaves CPython's collector
    as it is. Returns whether the policy was started by this call.
    """
    global _started
    with _lock:
        if _started:
            return False
        _started = True
    gc.callbacks.append(_watch_pauses())
    if freeze_seconds <= 0:
        return True
    freeze()
    thread = threading.Thread(
        target=_run,
        args=(freeze_seconds, full_seconds),
        name="gc-freezer",
        daemon=True,
    )
    thread.start()
    return True


def _run(freeze_seconds: float, full_seconds: float) -> None:
    last_full = time.monotonic()
    while True:
        time.sleep(freeze_seconds)
        try:
            if full_seconds > 0 and time.monotonic() - last_full >= full_seconds:
                full_collection()
                last_full = time.monotonic()
            else:
                freeze()
        except Exception:  # a failed pass must not end the policy
            logger.exception("garbage collection pass failed")


def _watch_pauses() -> Callable[[str, dict[str, int]], None]:
    started = [0.0]

    def watch(phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            started[0] = now
        else:
            pauses[info["generation"]].add(now - started[0])

    return watch
