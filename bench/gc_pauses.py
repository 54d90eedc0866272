"""`make bench-gc`: what the server's garbage-collection policy buys.

One daphne process on the embedded default (SQLite, in-memory layer) holds
`--sockets` open sockets of one community; the first 200 of them send to one
neighbour each at `--rate` messages/s for `--seconds`. The run is made once
per `--freeze` value (GC_FREEZE_SECONDS; 0 is CPython's own schedule, see
chatsite/collector.py), in the same run (by default 0, 10, 0, 10: each
policy twice, alternating, so that a change in the machine's load shows),
and reports for each:

- the collector's pauses by generation, read from the process's own
  `voisins_gc_pause_seconds` histogram, while the sockets connected (and
  SETTLE_SECONDS after) and while the load ran (count, total, and how many
  lasted over 50/100/250 ms);
- send-to-delivery latency of the load (p50/p99/max) and anything lost;
- the process's RSS with every socket open, and the CPU it used while they
  stayed idle.

    python -m bench.gc_pauses [--sockets 2000] [--rate 20] [--seconds 90]

Results: bench/results/gc-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.loadgen import Load
from bench.residents import close_all, connect_all
from bench.run import RESULTS, names
from bench.servers import clean_env, cpu_seconds, run_checked, snapshot_sources
from bench.systems import RATES, System, log, project_system
from tests.support.servers import PYTHON, rss_kib

ACTIVE = 200
SETTLE_SECONDS = 15.0
# Pause bounds (seconds) worth naming: a live message waits this long.
SLOW = (0.05, 0.1, 0.25)
_SAMPLE = re.compile(
    r'^voisins_gc_pause_seconds_(bucket|count|sum)\{generation="(\d)"'
    r'(?:,le="([^"]+)")?\} ([0-9.e+]+)$'
)


def pause_counts(port: int) -> dict[str, dict[str, float]]:
    """The process's pause histogram: per generation, count, sum and the
    cumulative count at each bucket bound."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
        text = r.read().decode()
    found: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        kind, generation, bound, value = match.groups()
        key = f"le {bound}" if kind == "bucket" else kind
        found.setdefault(generation, {})[key] = float(value)
    return found


def pause_delta(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Pauses between two readings: count, total ms, and how many were slow."""
    delta: dict[str, dict[str, float]] = {}
    for generation, now in after.items():
        then = before.get(generation, {})
        count = now["count"] - then.get("count", 0.0)
        entry = {
            "count": count,
            "total_ms": round((now["sum"] - then.get("sum", 0.0)) * 1000, 1),
        }
        for bound in SLOW:
            key = f"le {bound}"
            within = now.get(key, 0.0) - then.get(key, 0.0)
            entry[f"over_{int(bound * 1000)}ms"] = count - within
        delta[generation] = entry
    return delta


async def one_policy(
    system: System, *, sockets: int, rate: float, seconds: float
) -> dict[str, Any]:
    target = system.target()
    port, pid = target.ports[0], target.pids[0]
    at_start = pause_counts(port)
    rss_before = rss_kib(pid)
    stats: Counter[str] = Counter()
    residents = await connect_all(target, names(0, sockets), within=600, stats=stats)
    # The objects of sockets that just opened are walked once whatever the
    # policy (by a freeze pass, or by CPython's next full collection): wait
    # past one freeze period so that the load measures the steady state.
    cpu_before = cpu_seconds(pid)
    await asyncio.sleep(SETTLE_SECONDS)
    idle_cpu = cpu_seconds(pid) - cpu_before
    connected = pause_counts(port)
    rss = rss_kib(pid)
    active = {name: residents[name] for name in names(0, ACTIVE) if name in residents}
    load = Load(target, active)
    await load.warm_up(1)
    before = pause_counts(port)
    step = await load.step(rate=rate, fanout=1, seconds=seconds, abort_after=30.0)
    after = pause_counts(port)
    await close_all(residents)
    return {
        "sockets_open": len(residents),
        "handshakes": dict(stats),
        "rss_before_kib": rss_before,
        "rss_kib": rss,
        "kib_per_socket": round((rss - rss_before) / max(1, len(residents)), 1),
        # What the open sockets cost with no traffic (daphne's own timers,
        # heartbeats, the revocation poll, the freezer's passes).
        "idle_cpu_percent": round(100 * idle_cpu / SETTLE_SECONDS, 1),
        "pauses_while_connecting_and_settling": pause_delta(at_start, connected),
        "pauses_under_load": pause_delta(before, after),
        "load": {
            key: step.get(key)
            for key in (
                "offered_rate",
                "sent",
                "acked",
                "lost_messages",
                "errors",
                "latency_ms",
                "ack_ms",
                "passed",
            )
        },
        "still_missing_after_settle": step.get("still_missing_after_settle"),
    }


def run(
    sockets: int, rate: float, seconds: float, freezes: list[int]
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-gc-") as tmp:
        workdir = Path(tmp)
        sources = snapshot_sources(workdir / "src")
        base = {
            "VAR_DIR": str(workdir),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECRET_KEY": "bench-only-secret-key-0123456789-not-for-production",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "chatsite.settings.local",
            **RATES,
        }
        for index, freeze in enumerate(freezes):
            # A database of its own for each run: the load's client ids
            # repeat from run to run, and a repeated one is answered as a
            # resend (acked, not delivered again).
            database = f"sqlite:///{workdir / f'gc-{index}.sqlite3'}"
            env = clean_env(
                **base, DATABASE_URL=database, GC_FREEZE_SECONDS=str(freeze)
            )
            system = project_system(env, workdir, 1)
            cookie_file = workdir / f"cookies-{index}.json"
            mint = ["bench/mint_sessions.py", "--count", str(sockets)]
            run_checked([PYTHON, *mint, "--out", str(cookie_file)], env=env)
            system.cookies = json.loads(cookie_file.read_text())["residents"]
            log(f"GC_FREEZE_SECONDS={freeze}: {sockets} sockets, {rate} msg/s")
            system.start()
            try:
                measured = asyncio.run(
                    one_policy(system, sockets=sockets, rate=rate, seconds=seconds)
                )
            finally:
                system.stop()
            results.append({"gc_freeze_seconds": freeze, **measured})
            log(json.dumps(measured["pauses_under_load"]))
        del sources
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument(
        "--freeze",
        default="0,10,0,10",
        help="GC_FREEZE_SECONDS of each run, in order (default: each policy twice)",
    )
    args = parser.parse_args()
    freezes = [int(value) for value in args.freeze.split(",")]
    started = time.monotonic()
    results = run(args.sockets, args.rate, args.seconds, freezes)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {
        "timestamp": stamp,
        "command": " ".join(["python -m bench.gc_pauses", *sys.argv[1:]]),
        "sockets": args.sockets,
        "active_residents": ACTIVE,
        "settle_seconds": SETTLE_SECONDS,
        "rate": args.rate,
        "seconds": args.seconds,
        "runs": results,
        "elapsed_seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"gc-{stamp}.json"
    out.write_text(json.dumps(document, indent=1) + "\n")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
