"""The figures a reliability run records, for docs/reliability.md.

Each scenario writes one entry (its name, what it measured, when) into
test-output/reliability.json; `make reliability` turns that file into the
figures section of the document (scripts/reliability_report.py).
"""

from __future__ import annotations

import json
import math
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path(
    os.environ.get("RELIABILITY_OUTPUT", REPO_ROOT / "test-output" / "reliability.json")
)


def record(scenario: str, **values: Any) -> None:
    """Store (or replace) the figures of one scenario."""
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(OUTPUT.read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault("scenarios", {})
    data["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "system": platform.system(),
    }
    data["scenarios"][scenario] = {
        **values,
        "recorded_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    temporary = OUTPUT.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    temporary.replace(OUTPUT)


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
