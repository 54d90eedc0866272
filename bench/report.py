"""Provenance, ratios, the issue's targets and the chart of one benchmark run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.support.servers import REPO_ROOT

PACKAGES = (
    "Django",
    "channels",
    "daphne",
    "channels-redis",
    "redis",
    "Twisted",
    "websockets",
    "psycopg",
    "matplotlib",
)


def _command(args: list[str]) -> str:
    try:
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip()


def provenance() -> dict[str, Any]:
    """Git commit, machine and versions: what the figures were measured on."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    git = ["git", "-C", str(REPO_ROOT)]
    return {
        "git": {
            "commit": _command([*git, "rev-parse", "HEAD"]),
            "dirty": bool(_command([*git, "status", "--porcelain"])),
        },
        "machine": {
            "nproc": os.cpu_count(),
            "cpu_model": cpu,
            "memory_mib": int(memory) // 1024,
            "kernel": platform.release(),
            "python": platform.python_version(),
            "packages": versions,
            "redis_server": _command(["redis-server", "--version"]),
            "postgres": _command(["psql", "--version"]),
        },
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    if not a or not b:
        return None
    return round(a / b, 4)


def _fixed(system: dict[str, Any], fanout: int) -> dict[str, Any] | None:
    for step in system.get("fixed", []):
        if step["fanout"] == fanout:
            return dict(step)
    return None


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """Ratios between the systems and the issue's targets, measured or not."""
    configs = results["configs"]
    embedded = configs.get("embedded", {})
    relay_rate = embedded.get("relay", {}).get("search", {}).get("max_rate")
    rates: dict[str, dict[str, float | None]] = {}
    ratios: dict[str, Any] = {}
    for label, config in configs.items():
        if "skipped" in config:
            continue
        rates[label] = {
            name: system.get("search", {}).get("max_rate")
            for name, system in config.items()
        }
        project = rates[label].get("project")
        ratios[label] = {
            "project_vs_tutorial": _ratio(project, rates[label].get("tutorial")),
            "project_vs_relay": _ratio(project, relay_rate),
        }
    targets = []

    def target(name: str, measured: Any, met: bool | None) -> None:
        targets.append({"target": name, "measured": measured, "met": met})

    for label in ratios:
        vs_tutorial = ratios[label]["project_vs_tutorial"]
        vs_relay = ratios[label]["project_vs_relay"]
        target(
            f"{label}: sustained rate >= 4x the tutorial peer",
            vs_tutorial,
            None if vs_tutorial is None else vs_tutorial >= 4,
        )
        target(
            f"{label}: sustained rate >= 0.5x the bare relay",
            vs_relay,
            None if vs_relay is None else vs_relay >= 0.5,
        )
        step = _fixed(configs[label].get("project", {}), 50)
        if step is not None:
            p99 = step["latency_ms"]["p99"]
            target(
                f"{label}: fan-out 50 at {step['offered_rate']:.0f} msg/s, "
                "p99 < 200 ms, nothing lost",
                {"p99_ms": p99, "lost": step["lost_messages"]},
                p99 is not None and p99 < 200 and step["lost_messages"] == 0,
            )
        reconnect = configs[label].get("project", {}).get("reconnect")
        if reconnect:
            target(
                f"{label}: {reconnect['residents']} residents reconnect and catch "
                "up after a restart in < 10 s",
                {"seconds": reconnect["catch_up_seconds"], "lost": reconnect["lost"]},
                reconnect["passed"] if reconnect["residents"] >= 1000 else None,
            )
    idle = embedded.get("project", {}).get("idle")
    if idle:
        target(
            "5,000 idle sockets on one process under 40 KiB each",
            {"sockets": idle["sockets"], "kib_per_socket": idle["kib_per_socket"]},
            (idle["kib_per_socket"] < 40 and idle["still_open"] == idle["sockets"])
            if idle["sockets"] >= 5000
            else None,
        )
    production = results.get("production", {})
    if "systems" in production:
        ratios["production"], more = production_summary(production, relay_rate)
        targets.extend(more)
    return {"max_rate_fanout1": rates, "ratios": ratios, "targets": targets}


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = {k: v for k, v in results["configs"].items() if "skipped" not in v}
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    curve, bars, fanout, memory = axes.flat
    for label, config in configs.items():
        for name, system in config.items():
            steps = sorted(
                system.get("search", {}).get("steps", []),
                key=lambda s: s["offered_rate"],
            )
            points = [
                (s["offered_rate"], s["latency_ms"]["p99"])
                for s in steps
                if s["latency_ms"]["p99"] is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                curve.plot(xs, ys, marker="o", label=f"{name} ({label})")
    curve.axhline(100, color="grey", linestyle="--", linewidth=1)
    curve.set(
        xscale="log",
        yscale="log",
        xlabel="offered msg/s (fan-out 1)",
        ylabel="p99 send-to-delivery (ms)",
        title="Latency against offered rate",
    )
    curve.legend(fontsize=7)
    labels, values = [], []
    for label, config in configs.items():
        for name, system in config.items():
            labels.append(f"{name}\n{label}")
            values.append(system.get("search", {}).get("max_rate") or 0)
    bars.bar(labels, values, color="tab:blue")
    bars.set(
        yscale="log",
        ylabel="msg/s",
        title="Highest rate with p99 <= 100 ms, nothing lost (fan-out 1)",
    )
    bars.tick_params(axis="x", labelsize=7)
    labels, p99s = [], []
    for label, config in configs.items():
        for name, system in config.items():
            for step in system.get("fixed", []):
                where = "emb" if label == "embedded" else "r+pg"
                labels.append(f"{name[:4]} {where}\nfo{step['fanout']}")
                p99s.append(step["latency_ms"]["p99"] or 0)
    fanout.bar(labels, p99s, color="tab:orange")
    fanout.axhline(200, color="grey", linestyle="--", linewidth=1)
    fanout.set(yscale="log", ylabel="p99 ms", title="Fixed steps at 20 msg/s")
    fanout.tick_params(axis="x", labelsize=7, labelrotation=45)
    embedded = configs.get("embedded", {})
    names = [n for n in embedded if "idle" in embedded[n]]
    memory.bar(
        names, [embedded[n]["idle"]["kib_per_socket"] for n in names], color="tab:green"
    )
    memory.axhline(40, color="grey", linestyle="--", linewidth=1)
    count = embedded[names[0]]["idle"]["sockets"] if names else 0
    memory.set(ylabel="KiB", title=f"RSS per idle socket ({count} sockets, embedded)")
    fig.suptitle(
        f"make bench {results['mode']} {results['timestamp']} "
        f"({results['machine']['nproc']} cores, {results['git']['commit'][:10]})"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write(
    results: dict[str, Any], directory: Path, stamp: str, *, latest: bool = True
) -> None:
    """<stamp>.json and the profile summaries; latest.json and latest.png
    too unless `latest` is false (a run of some sections only)."""
    directory.mkdir(parents=True, exist_ok=True)
    profiles = []
    for config in results["configs"].values():
        for system in config.values() if isinstance(config, dict) else ():
            if isinstance(system, dict) and "profiles" in system:
                profiles.extend(system.pop("profiles").values())
    if profiles:
        profile_path = directory / f"profile-{stamp}.txt"
        profile_path.write_text("\n".join(profiles))
        results["profile_summary"] = profile_path.name
    results["summary"] = summary(results)
    text = json.dumps(results, indent=1)
    (directory / f"{stamp}.json").write_text(text)
    if not latest:
        return
    (directory / "latest.json").write_text(text)
    try:
        chart(results, directory / "latest.png")
    except Exception as error:  # a chart must not lose the figures
        print(f"chart not drawn: {error!r}")


if __name__ == "__main__":
    # Draw the chart again from recorded figures: python -m bench.report FILE.json
    import sys

    source = Path(sys.argv[1])
    chart(json.loads(source.read_text()), source.with_suffix(".png"))


def _production_rate(
    systems: dict[str, Any], label: str, scenario: str, fanout: int
) -> float | None:
    figures = systems.get(label, {}).get(scenario, {}).get("fanouts", {})
    rate: float | None = figures.get(str(fanout), {}).get("max_rate")
    return rate


def production_summary(
    section: dict[str, Any], relay_rate: float | None
) -> tuple[dict[str, dict[str, float | None]], list[dict[str, Any]]]:
    """The production section's ratios to the tutorial peer (and the relay of
    the embedded section, when it ran) and its targets."""
    systems = section.get("systems", {})
    tutorial = next((label for label in systems if label.startswith("tutorial")), "")
    projects = [label for label in systems if label.startswith("project")]
    ratios: dict[str, dict[str, float | None]] = {}
    for key, scenario, fanout in (
        ("town_fanout1", "town", 1),
        ("one_community", "one_community", 1),
        ("town_fanout10", "town", 10),
    ):
        peer = _production_rate(systems, tutorial, scenario, fanout)
        ratios[key] = {}
        for label in projects:
            rate = _production_rate(systems, label, scenario, fanout)
            ratios[key][f"{label}_vs_tutorial"] = _ratio(rate, peer)
            if fanout == 1:
                ratios[key][f"{label}_vs_relay"] = _ratio(rate, relay_rate)
    targets: list[dict[str, Any]] = []
    for key in ("town_fanout1", "one_community"):
        measured = ratios[key].get("project_x2_vs_tutorial")
        targets.append(
            {
                "target": f"production (2 processes), {key}: >= 4x the tutorial design",
                "measured": measured,
                "met": None if measured is None else measured >= 4,
            }
        )
    fanout10 = {
        label: _production_rate(systems, label, "town", 10) for label in projects
    }
    x2 = fanout10.get("project_x2")
    targets.append(
        {
            "target": "production: town fan-out 10 at 100 msg/s with p99 < 100 ms "
            "(2 processes)",
            "measured": {"max_rate_fanout10": fanout10},
            "met": None if x2 is None else x2 >= 100,
        }
    )
    return ratios, targets


def production_table(section: dict[str, Any]) -> str:
    """Markdown: one row per system, scenario and fan-out."""
    lines = [
        "| system | scenario | fan-out | max msg/s | p99 ms at max | lost for good "
        "| errors | handshake errors | CPU ms/msg daphne | postgres (all) | redis "
        "| loadgen | PG xact/msg | Redis cmds/msg |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: "
        "| ---: | ---: | ---: | ---: |",
    ]
    for label, system in section.get("systems", {}).items():
        for scenario in ("town", "one_community"):
            figures = system.get(scenario, {})
            handshakes = {
                k: v for k, v in figures.get("handshakes", {}).items() if v
            } or "-"
            for fanout, row in figures.get("fanouts", {}).items():
                if "error" in row:
                    lines.append(
                        f"| {label} | {scenario} | {fanout} | {row['error']} |"
                    )
                    continue
                cpu = row["cpu_ms_per_message"]
                lines.append(
                    f"| {label} | {scenario} | {fanout} | {row['max_rate']:g} "
                    f"| {row['p99_ms_at_max']} | {row['lost_for_good_all_steps']} "
                    f"| {row['errors_all_steps'] or '-'} | {handshakes} "
                    f"| {cpu['daphne']} | {cpu['postgres_all_processes']} "
                    f"| {cpu['redis']} | {cpu['loadgen']} "
                    f"| {row['queries_per_message']} "
                    f"| {row['redis_commands_per_message']} |"
                )
    return "\n".join(lines)
