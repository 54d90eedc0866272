"""What one message costs each component: CPU of the daphne processes, of
PostgreSQL, of redis-server and of the load generator, PostgreSQL
transactions and rows, Redis commands.

`Meters.read()` takes a snapshot of cumulative counters; `per_message` turns
two snapshots and a message count into figures per message.

PostgreSQL is the machine's shared server (a system service on
127.0.0.1:5432), so its CPU is the sum over *every* postgres process of the
machine, other sessions' work included: user + system time of each process
plus the time of its exited children (`cutime`, `cstime`), so that a backend
that lives for one connection (the tutorial peer does not keep connections)
is counted once the postmaster has reaped it. Transactions and rows come
from `pg_stat_database` for the bench database alone (backends publish them
at most once a second: wait `STATS_DELAY` before reading).
pg_stat_statements would give queries instead of transactions, but it needs
`shared_preload_libraries`, which the shared server does not set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.servers import cpu_seconds

# PostgreSQL backends send their statistics at most once a second.
STATS_DELAY = 1.2

_PG_COUNTERS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_fetched")


def postgres_cpu_seconds() -> float:
    """CPU time of every postgres process, and of its reaped children."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process exited meanwhile
            continue
        total += sum(int(f) for f in fields[11:15])
    return total / ticks


@dataclass
class Meters:
    """Where the counters of one system under test are read."""

    daphne_pids: Sequence[int]
    redis_pid: int
    redis_url: str
    postgres_dsn: str  # a maintenance database, not the bench one
    database: str

    def read(self) -> dict[str, float]:
        """A snapshot of cumulative counters."""
        snapshot = {
            "daphne_cpu_s": sum(cpu_seconds(pid) for pid in self.daphne_pids),
            "postgres_cpu_s": postgres_cpu_seconds(),
            "redis_cpu_s": cpu_seconds(self.redis_pid),
            "loadgen_cpu_s": time.process_time(),
            "time_s": time.monotonic(),
        }
        snapshot.update(self._postgres_counters())
        snapshot["redis_commands"] = self._redis_commands()
        return snapshot

    def _postgres_counters(self) -> dict[str, float]:
        import psycopg

        columns = ", ".join(_PG_COUNTERS)
        with psycopg.connect(self.postgres_dsn, autocommit=True) as connection:
            row = connection.execute(
                f"SELECT {columns} FROM pg_stat_database WHERE datname = %s",  # noqa: S608
                [self.database],
            ).fetchone()
        assert row is not None, self.database
        return {
            f"pg_{name}": float(value)
            for name, value in zip(_PG_COUNTERS, row, strict=True)
        }

    def _redis_commands(self) -> float:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            stats: Any = client.info("stats")
        finally:
            client.close()
        # Minus the INFO command of this reading itself.
        return float(stats["total_commands_processed"]) - 1


def per_message(
    before: dict[str, float], after: dict[str, float], *, messages: int
) -> dict[str, Any]:
    """Figures per message between two snapshots (None with no message)."""

    def each(key: str, scale: float = 1.0) -> float | None:
        if messages <= 0:
            return None
        return round(scale * (after[key] - before[key]) / messages, 3)

    return {
        "messages": messages,
        "seconds": round(after["time_s"] - before["time_s"], 2),
        "cpu_ms_per_message": {
            "daphne": each("daphne_cpu_s", 1000),
            "postgres_all_processes": each("postgres_cpu_s", 1000),
            "redis": each("redis_cpu_s", 1000),
            "loadgen": each("loadgen_cpu_s", 1000),
        },
        "pg_transactions_per_message": each("pg_xact_commit"),
        "pg_rollbacks_per_message": each("pg_xact_rollback"),
        "pg_rows_inserted_per_message": each("pg_tup_inserted"),
        "pg_rows_fetched_per_message": each("pg_tup_fetched"),
        "redis_commands_per_message": each("redis_commands"),
    }
