"""The server processes' garbage-collection policy (chatsite/collector.py).

`start` changes the collector of the whole process, so each case runs in a
fresh interpreter; the test process keeps CPython's own schedule.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.support.servers import REPO_ROOT


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_start_freezes_the_process_once_and_counts_every_pause() -> None:
    out = run_python(
        """
        import gc
        from chatsite import collector
        assert gc.get_freeze_count() == 0
        assert collector.start(freeze_seconds=3600, full_seconds=0)
        assert gc.get_freeze_count() > 1000, gc.get_freeze_count()
        assert not collector.start(freeze_seconds=3600, full_seconds=0)
        full = collector.pauses[2].buckets[-1]
        gc.collect()
        gc.collect(0)
        print(collector.pauses[2].buckets[-1] - full, collector.pauses[0].buckets[-1])
        """
    )
    full_collections, young = map(int, out.split())
    assert full_collections == 1
    assert young >= 1


def test_zero_keeps_cpythons_schedule_but_still_counts() -> None:
    out = run_python(
        """
        import gc
        from chatsite import collector
        assert collector.start(freeze_seconds=0, full_seconds=3600)
        gc.collect()
        print(gc.get_freeze_count(), collector.pauses[2].buckets[-1])
        """
    )
    assert out == "0 1"


def test_the_freezer_thread_freezes_what_came_since() -> None:
    out = run_python(
        """
        import gc, time
        from chatsite import collector
        collector.start(freeze_seconds=0.05, full_seconds=0)
        frozen = gc.get_freeze_count()
        kept = [[index] for index in range(10_000)]
        deadline = time.monotonic() + 30
        while gc.get_freeze_count() < frozen + 10_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        print(gc.get_freeze_count() - frozen >= 10_000)
        """
    )
    assert out == "True"


def test_a_full_collection_frees_cycles_that_died_while_frozen() -> None:
    """What the hourly full collection is for: a closed socket's leftover
    cycle, frozen while it was alive, is never freed by a freeze pass."""
    out = run_python(
        """
        import gc, weakref
        from chatsite import collector

        class Node:
            pass

        node = Node()
        node.me = node
        alive = weakref.ref(node)
        collector.freeze()
        del node
        collector.freeze()
        after_freeze = alive() is not None
        collector.full_collection()
        print(after_freeze, alive() is None, gc.get_freeze_count() > 0)
        """
    )
    assert out == "True True True"
