"""Summarize a py-spy raw profile (`py-spy record -f raw --idle`) as text.

Each line of the raw format is `frame;frame;...;leaf count`. With `--idle`
the samples are wall time, so a thread waiting shows where it waits.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

# Frames worth naming in the send path (inclusive time).
INTERESTING = (
    "conversations/",
    "channels/",
    "channels_redis/",
    "asgiref/",
    "daphne/",
    "django/db/",
    "bench/ref_channels_tutorial/",
)


def _frame_name(frame: str) -> str:
    return frame.rsplit(":", 1)[0] + ")" if "(" in frame else frame


def summarize(raw: Path, *, title: str, top: int = 25) -> str:
    threads: Counter[str] = Counter()
    busy: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        thread = "event loop" if "runpy" in frames[0] else "worker thread"
        threads[thread] += count
        leaf = frames[-1]
        idle = any(
            marker in leaf
            for marker in ("EpollSelector.select", "_worker (concurrent", "wait (")
        )
        if not idle:
            busy[thread] += count
        leaves[f"[{thread}] {_frame_name(leaf)}"] += count
        seen: set[str] = set()
        for frame in frames:
            name = _frame_name(frame)
            if name in seen or not any(key in frame for key in INTERESTING):
                continue
            seen.add(name)
            inclusive[f"[{thread}] {name}"] += count
    lines = [f"# {title}", f"samples (wall time, all threads): {total}", ""]
    for thread, count in threads.most_common():
        lines.append(
            f"{thread}: {count} samples, busy {100 * busy[thread] / max(1, count):.0f}%"
        )
    lines += ["", f"## Inclusive wall time, top {top} frames (share of thread)"]
    for name, count in inclusive.most_common(top):
        thread = "event loop" if name.startswith("[event loop]") else "worker thread"
        share = 100 * count / max(1, threads[thread])
        lines.append(f"{share:5.1f}%  {name}")
    lines += ["", f"## Leaf frames, top {top} (where each thread is, incl. waiting)"]
    for name, count in leaves.most_common(top):
        lines.append(f"{100 * count / max(1, total):5.1f}%  {name}")
    return "\n".join(lines) + "\n"
