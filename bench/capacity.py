"""The capacity model of docs/capacity.md, from two measured runs.

    python -m bench.capacity bench/results/<run>.json bench/results/gc-<run>.json

The first file is a `make bench` run with its production section (PostgreSQL
+ Redis, the town of communities, the project on 2 daphne processes); the
second a `make bench-gc` run (memory and idle CPU per open socket). Rewrites
the measured and sizing tables of docs/capacity.md and draws
docs/capacity.png. Every assumption
is a constant below, named and explained: change one, run it again.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.servers import REPO_ROOT

SCALES = (10_000, 100_000, 1_000_000)
# Share of a community's residents with the app open at the evening peak.
ONLINE_SHARE = 0.3
# Open sockets per online resident (a phone and a computer, a second tab).
SOCKETS_PER_ONLINE_RESIDENT = 1.3
# Messages a resident sends on an average day (lending, asking, organising:
# a few, not a chat app's hundreds).
MESSAGES_PER_RESIDENT_PER_DAY = 3.0
# Share of a day's messages sent in its busiest hour, and how much busier
# than that hour's average its busiest minute is.
PEAK_HOUR_SHARE = 0.15
PEAK_MINUTE_FACTOR = 3.0
# Run every component at most at this share of what was measured.
HEADROOM = 0.5
# Sockets one daphne process is given at most: the benchmark measured 5,000
# on one process; past a few thousand a process's collector pauses and its
# single event loop are what a resident feels first.
SOCKETS_PER_PROCESS = 5_000
# PostgreSQL connections each daphne process holds: one per send lane
# (CHAT_SEND_LANES, 4) and the one of the thread every other database call
# runs on (Channels' and Django's thread-sensitive sync_to_async).
CONNECTIONS_PER_PROCESS = 5
# A PostgreSQL server is comfortable with a few hundred connections; past
# that, a pooler (PgBouncer, transaction mode) in front.
DIRECT_CONNECTIONS_LIMIT = 300


@dataclass(frozen=True)
class Measured:
    daphne_cpu_ms: float
    postgres_cpu_ms: float
    redis_cpu_ms: float
    transactions_per_message: float
    redis_commands_per_message: float
    rate_per_two_processes: float
    kib_per_socket: float
    idle_cpu_percent_per_1000_sockets: float
    source: str


def measured(bench: dict[str, Any], gc: dict[str, Any], source: str) -> Measured:
    town = bench["production"]["systems"]["project_x2"]["town"]["fanouts"]["1"]
    cpu = town["cpu_ms_per_message"]
    policy = [run for run in gc["runs"] if run["gc_freeze_seconds"] > 0]
    sockets = gc["sockets"]
    return Measured(
        daphne_cpu_ms=cpu["daphne"],
        postgres_cpu_ms=cpu["postgres_all_processes"],
        redis_cpu_ms=cpu["redis"],
        transactions_per_message=town["queries_per_message"],
        redis_commands_per_message=town["redis_commands_per_message"],
        rate_per_two_processes=town["max_rate"],
        kib_per_socket=max(run["kib_per_socket"] for run in policy),
        idle_cpu_percent_per_1000_sockets=max(run["idle_cpu_percent"] for run in policy)
        * 1000
        / sockets,
        source=source,
    )


def size(residents: int, m: Measured) -> dict[str, Any]:
    sockets = residents * ONLINE_SHARE * SOCKETS_PER_ONLINE_RESIDENT
    peak_rate = (
        residents
        * MESSAGES_PER_RESIDENT_PER_DAY
        * PEAK_HOUR_SHARE
        / 3600
        * PEAK_MINUTE_FACTOR
    )
    idle_cores = sockets / 1000 * m.idle_cpu_percent_per_1000_sockets / 100
    daphne_cores = (peak_rate * m.daphne_cpu_ms / 1000 + idle_cores) / HEADROOM
    processes = max(
        2, math.ceil(sockets / SOCKETS_PER_PROCESS), math.ceil(daphne_cores)
    )
    connections = processes * CONNECTIONS_PER_PROCESS
    return {
        "residents": residents,
        "sockets": round(sockets),
        "peak_messages_per_second": round(peak_rate, 1),
        "daphne_processes": processes,
        "daphne_cores": round(daphne_cores, 2),
        "socket_memory_gib": round(sockets * m.kib_per_socket / 2**20, 2),
        "postgres_cores": round(peak_rate * m.postgres_cpu_ms / 1000 / HEADROOM, 2),
        "postgres_transactions_per_second": round(
            peak_rate * m.transactions_per_message
        ),
        "postgres_connections": connections,
        "pooler": connections > DIRECT_CONNECTIONS_LIMIT,
        "redis_cores": round(peak_rate * m.redis_cpu_ms / 1000 / HEADROOM, 3),
        "redis_commands_per_second": round(peak_rate * m.redis_commands_per_message),
    }


def table(rows: list[dict[str, Any]]) -> str:
    header = [
        ("residents", "residents"),
        ("sockets at peak", "sockets"),
        ("peak msg/s", "peak_messages_per_second"),
        ("daphne processes", "daphne_processes"),
        ("daphne cores", "daphne_cores"),
        ("socket memory (GiB)", "socket_memory_gib"),
        ("PostgreSQL cores", "postgres_cores"),
        ("PostgreSQL tx/s", "postgres_transactions_per_second"),
        ("PostgreSQL connections", "postgres_connections"),
        ("Redis cores", "redis_cores"),
        ("Redis commands/s", "redis_commands_per_second"),
    ]
    lines = [
        "| " + " | ".join(name for name, _ in header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    for row in rows:
        cells = [f"{row[key]:,}" for _, key in header]
        if row["pooler"]:
            cells[8] += " (pooler)"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def chart(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    residents = [row["residents"] for row in rows]
    figure, axis = plt.subplots(figsize=(7, 4))
    for key, label in (
        ("daphne_cores", "daphne cores"),
        ("postgres_cores", "PostgreSQL cores"),
        ("redis_cores", "Redis cores"),
        ("socket_memory_gib", "socket memory (GiB)"),
    ):
        axis.plot(residents, [row[key] for row in rows], marker="o", label=label)
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("residents")
    axis.set_title("Evening peak, half the measured capacity used")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


def measured_table(m: Measured) -> str:
    rows = [
        ("daphne CPU per message (ms, both processes)", m.daphne_cpu_ms),
        ("PostgreSQL CPU per message (ms)", m.postgres_cpu_ms),
        ("Redis CPU per message (ms)", m.redis_cpu_ms),
        ("PostgreSQL transactions per message", m.transactions_per_message),
        ("Redis commands per message", m.redis_commands_per_message),
        (
            "msg/s held by 2 daphne processes (town, fan-out 1)",
            m.rate_per_two_processes,
        ),
        ("RSS per open socket (KiB)", m.kib_per_socket),
        (
            "idle CPU per 1,000 open sockets (% of a core)",
            m.idle_cpu_percent_per_1000_sockets,
        ),
    ]
    lines = [
        f"From `{m.source.split(', ')[0]}` (production section, project on 2",
        "daphne processes, the town, fan-out 1) and",
        f"`{m.source.split(', ')[1]}` (frozen collector runs); generated by",
        "`bench/capacity.py`.",
        "",
        "| figure | measured |",
        "| --- | --- |",
    ]
    lines += [f"| {name} | {round(value, 2):,} |" for name, value in rows]
    return "\n".join(lines)


def replace_section(text: str, name: str, body: str) -> str:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n\n{body}\n\n{end}{tail}"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    bench_path, gc_path = map(Path, sys.argv[1:])
    m = measured(
        json.loads(bench_path.read_text()),
        json.loads(gc_path.read_text()),
        f"{bench_path.name}, {gc_path.name}",
    )
    rows = [size(residents, m) for residents in SCALES]
    doc = REPO_ROOT / "docs" / "capacity.md"
    text = replace_section(doc.read_text(), "measured", measured_table(m))
    doc.write_text(replace_section(text, "sizing", table(rows)))
    chart(rows, REPO_ROOT / "docs" / "capacity.png")
    print(f"wrote {doc} and docs/capacity.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
