"""The cluster run's figures: test-output/cluster.json, written after every
phase (a failed run keeps what it measured), and a short markdown report,
test-output/cluster.md, which scripts/cluster_report.py also puts into
docs/reliability.md ("Cluster")."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = REPO_ROOT / "test-output"
JSON_PATH = OUTPUT / "cluster.json"
MARKDOWN_PATH = OUTPUT / "cluster.md"

PHASES: list[tuple[str, str]] = [
    ("baseline", "No fault"),
    ("link_cut", "app1's cable pulled mid-load, then put back"),
    ("netem", "50 ms delay and 1 % loss on every host's egress"),
    ("proxy_reload", "HAProxy reloaded gracefully mid-load"),
    ("worker_kill", "work1's notify_worker SIGKILLed while emails go out"),
    ("redis_restart", "redis-server SIGKILLed and restarted mid-load"),
    ("redis_outage", "redis-server down for 6 s mid-load"),
]

# Columns of the summary table: (figure, heading).
COLUMNS = [
    ("acked", "acked"),
    ("lost", "lost"),
    ("duplicated_stored", "dup. stored"),
    ("duplicated_live", "dup. live"),
    ("unreached", "unreached"),
    ("caught_up_after_heal_s", "caught up (s)"),
    ("delivery_p99_ms", "delivery p99 (ms)"),
    ("fault_delivery_p99_ms", "p99 during fault (ms)"),
    ("reconnects", "reconnects"),
]


class Results:
    def __init__(self, mode: str, topology: dict[str, str]) -> None:
        self.data: dict[str, Any] = {
            "mode": mode,
            "command": "make cluster-test" if mode == "long" else "make test",
            "started_at": _now(),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "kernel": platform.release(),
            },
            "topology": topology,
            "phases": {},
        }

    def record(self, phase: str, figures: dict[str, Any]) -> None:
        self.data["phases"][phase] = {**figures, "recorded_at": _now()}
        self.write()

    def note(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.write()

    def write(self) -> None:
        OUTPUT.mkdir(parents=True, exist_ok=True)
        JSON_PATH.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        MARKDOWN_PATH.write_text(render(self.data))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value)


def render(data: dict[str, Any]) -> str:
    """The figures as markdown: one summary table, then each phase's own."""
    machine = data["machine"]
    lines = [
        f"Run: `{data['command']}` ({data['mode']} version), {data['started_at']}, "
        f"{machine['cpus']} CPUs, kernel {machine['kernel']}, "
        f"Python {machine['python']}; cluster built in "
        f"{_cell(data.get('build_seconds'))} s.",
        "",
        "| phase | " + " | ".join(h for _, h in COLUMNS) + " |",
        "| --- | " + " | ".join("---" for _ in COLUMNS) + " |",
    ]
    phases = data["phases"]
    for key, title in PHASES:
        if key in phases:
            row = [_cell(phases[key].get(k)) for k, _ in COLUMNS]
            lines.append(f"| {title} | " + " | ".join(row) + " |")
    lines.append("")
    shown = {k for k, _ in COLUMNS} | {"recorded_at"}
    for key, title in PHASES:
        if key not in phases:
            continue
        extra = {k: v for k, v in phases[key].items() if k not in shown}
        details = ", ".join(f"{k} {_cell(v)}" for k, v in sorted(extra.items()))
        lines.append(f"- **{title}**: {details}.")
    return "\n".join(lines) + "\n"
