"""`make bench`: the project against the tutorial peer and the bare relay.

Three sections, measured in the same run: the embedded default (SQLite,
in-memory layer, one daphne), Redis + PostgreSQL with two daphne processes
(own redis-server on a free port, own database on 127.0.0.1:5432; skipped
with a note when either is missing), and production (bench/production.py:
a town of many communities on 2 and 4 daphne processes). Figures go to
bench/results/<timestamp>.json, latest.json and latest.png; a run of some
sections only (`--only`) writes bench/results/<timestamp>-<sections>.json
alone.

    python -m bench.run [--quick] [--only production] [--idle-sockets 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import report
from bench.loadgen import Load
from bench.production import ProductionPlan, production
from bench.profile_summary import summarize
from bench.reconnect import reconnect_catch_up
from bench.residents import close_all, connect_all, idle_sockets
from bench.servers import run_checked, snapshot_sources, source_fingerprint
from bench.systems import (
    RATES,
    System,
    log,
    project_system,
    relay_system,
    server_envs,
    tutorial_system,
)
from tests.support.servers import (
    PYTHON,
    REPO_ROOT,
    PostgresServer,
    RedisServer,
    redis_available,
)

RESULTS = REPO_ROOT / "bench" / "results"
SECTIONS = ("embedded", "redis_postgres", "production")


@dataclass(frozen=True)
class Plan:
    residents: int = 200
    step_seconds: float = 8.0
    start_rate: float = 10.0
    ramp: float = 3.0
    bisect_steps: int = 4
    search_budget: float = 150.0
    fixed: tuple[tuple[int, float], ...] = ((10, 20.0), (50, 20.0))
    idle_sockets: int = 2000
    reconnect_residents: int = 1000
    reconnect_live: int = 1000
    reconnect_missed: int = 1000
    profile: bool = True

    settle_seconds: float = 15.0
    reconnect_with_redis: bool = True

    @classmethod
    def quick(cls) -> Plan:
        """About 3-4 minutes: shorter steps, fewer sockets and residents."""
        return cls(
            residents=100,
            step_seconds=3.0,
            bisect_steps=1,
            search_budget=40.0,
            idle_sockets=300,
            reconnect_residents=200,
            reconnect_live=100,
            reconnect_missed=200,
            profile=False,
            settle_seconds=6.0,
            reconnect_with_redis=False,
        )


def names(start: int, count: int) -> list[str]:
    return [f"b{i:05d}" for i in range(start, start + count)]


async def measure(
    system: System, plan: Plan, workdir: Path, *, idle: bool, reconnect: bool
) -> dict[str, Any]:
    """Search fan-out 1, the fixed fan-out steps, then idle sockets and reconnect.

    A scenario that fails is recorded as an error and the next one runs.
    """
    result: dict[str, Any] = {"processes": len(system.servers)}
    target = system.target()
    try:
        await rate_scenarios(system, plan, workdir, result)
    except Exception as error:
        log(f"{system.name}: rate scenarios failed: {error!r}")
        result["error"] = repr(error)
    if idle:
        try:
            result["idle"] = await idle_sockets(target, names(0, plan.idle_sockets))
            log(f"{system.name}: idle sockets: {result['idle']}")
        except Exception as error:
            log(f"{system.name}: idle scenario failed: {error!r}")
            result["idle_error"] = repr(error)
    if reconnect:
        try:
            result["reconnect"] = await reconnect_catch_up(
                target,
                residents=names(plan.residents, plan.reconnect_residents),
                writers=names(plan.residents + plan.reconnect_residents, 10),
                restart=system.restart,
                live=plan.reconnect_live,
                missed=plan.reconnect_missed,
            )
            log(f"{system.name}: reconnect: {result['reconnect']}")
        except Exception as error:
            log(f"{system.name}: reconnect scenario failed: {error!r}")
            result["reconnect_error"] = repr(error)
    return result


async def rate_scenarios(
    system: System, plan: Plan, workdir: Path, result: dict[str, Any]
) -> None:
    target = system.target()
    stats: Counter[str] = Counter()
    residents = await connect_all(target, names(0, plan.residents), stats=stats)
    result["handshakes"] = dict(stats)
    load = Load(target, residents)
    try:
        result["warm_up_seconds"] = {
            str(f): round(await load.warm_up(f), 2) for f in (1, *dict(plan.fixed))
        }
        result["search"] = await load.search(
            fanout=1,
            seconds=plan.step_seconds,
            settle=plan.settle_seconds,
            # The relay passes every rung below 270/s of the same ladder.
            start_rate=plan.start_rate * (27 if system.name == "relay" else 1),
            ramp=plan.ramp,
            bisect_steps=plan.bisect_steps,
            budget=plan.search_budget,
            log=log,
        )
        log(f"{system.name}: max rate at fan-out 1: {result['search']['max_rate']}/s")
        result["fixed"] = []
        for fanout, rate in plan.fixed:
            step = await load.step(
                rate=rate,
                fanout=fanout,
                seconds=plan.step_seconds,
                settle=plan.settle_seconds,
            )
            log(
                f"{system.name}: fan-out {fanout} @ {rate:.0f}/s: p99 "
                f"{step['latency_ms']['p99']} ms, lost {step['lost_messages']}"
            )
            result["fixed"].append(step)
        if plan.profile and system.kind == "project":
            result["profiles"] = await profile_steps(
                system, load, plan, workdir, result
            )
    finally:
        await close_all(residents)


async def profile_steps(
    system: System, load: Load, plan: Plan, workdir: Path, result: dict[str, Any]
) -> dict[str, str]:
    """py-spy (wall time, all threads) on process 0 under two loads."""
    search_path = os.pathsep.join([str(Path(PYTHON).parent), os.environ["PATH"]])
    py_spy = shutil.which("py-spy", path=search_path)
    if py_spy is None:
        return {"skipped": "py-spy is not installed"}
    saturating = max(20.0, 2 * result["search"]["max_rate"])
    summaries = {}
    for label, fanout, rate in (
        (f"fanout1_at_{saturating:.0f}", 1, saturating),
        ("fanout50_at_20", 50, 20.0),
    ):
        raw = workdir / f"profile-{system.name}-{label}.txt"
        recorder = await asyncio.create_subprocess_exec(
            py_spy, "record", "--idle", "-r", "200", "-f", "raw", "-o", str(raw),
            "-d", str(int(plan.step_seconds)), "-p", str(system.servers[0].pid),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await load.step(rate=rate, fanout=fanout, seconds=plan.step_seconds)
        async with asyncio.timeout(60):
            await recorder.wait()
        if raw.exists():
            title = f"{system.name} ({len(system.servers)} process(es)), {label}"
            summaries[label] = summarize(raw, title=title)
    return summaries


def run_config(
    label: str,
    plan: Plan,
    workdir: Path,
    *,
    project_db: str,
    tutorial_db: str,
    redis_url: str,
    processes: int,
    with_relay: bool,
    idle: bool,
    reconnect: bool,
) -> dict[str, Any]:
    project_env, tutorial_env = server_envs(
        workdir, project_db=project_db, tutorial_db=tutorial_db, redis_url=redis_url
    )
    systems = [
        project_system(project_env, workdir, processes),
        tutorial_system(tutorial_env, workdir, processes),
    ]
    if with_relay:
        systems.append(relay_system(workdir))
    count = max(plan.idle_sockets, plan.residents + plan.reconnect_residents + 10)
    cookie_file = workdir / f"cookies-{label}.json"
    run_checked(
        [PYTHON, "bench/mint_sessions.py", "--count", str(count), "--out", cookie_file],
        env=project_env,
    )
    systems[0].cookies = json.loads(cookie_file.read_text())["residents"]
    results: dict[str, Any] = {}
    for system in systems:
        log(f"{label}: {system.name} on {len(system.servers)} process(es)")
        system.start()
        load_average = os.getloadavg()
        try:
            results[system.name] = asyncio.run(
                measure(
                    system,
                    plan,
                    workdir,
                    idle=idle,
                    reconnect=reconnect and system.kind == "project",
                )
            )
        finally:
            system.stop()
        # Other work on this machine skews every figure: say how busy it was.
        results[system.name]["load_average_before_after"] = [
            round(load_average[0], 2),
            round(os.getloadavg()[0], 2),
        ]
    return results


def redis_postgres(plan: Plan, workdir: Path) -> dict[str, Any]:
    if not redis_available():
        return {"skipped": "redis-server is not installed"}
    postgres = PostgresServer()
    ok, reason = postgres.available()
    if not ok:
        return {"skipped": f"no PostgreSQL at 127.0.0.1:5432 ({reason})"}
    redis = RedisServer(workdir)
    databases = [f"bench_project_{os.getpid()}", f"bench_tutorial_{os.getpid()}"]
    redis.start()
    try:
        for name in databases:
            postgres.create_database(name)
        return run_config(
            "redis_postgres",
            plan,
            workdir,
            project_db=postgres.url(databases[0]),
            tutorial_db=postgres.url(databases[1]),
            redis_url=redis.url,
            processes=2,
            with_relay=False,
            idle=False,
            reconnect=plan.reconnect_with_redis,
        )
    finally:
        for name in databases:
            postgres.drop_database(name)
        redis.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about 3 minutes")
    parser.add_argument("--idle-sockets", type=int, help="default 2000 (quick 300)")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--skip-redis", action="store_true")
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run this section only (repeatable); default: all",
    )
    parser.add_argument(
        "--rev", help="measure this git revision (default: the working tree now)"
    )
    args = parser.parse_args()
    plan = Plan.quick() if args.quick else Plan()
    production_plan = ProductionPlan.quick() if args.quick else ProductionPlan()
    sections = args.only or list(SECTIONS)
    if args.idle_sockets:
        plan = replace(plan, idle_sockets=args.idle_sockets)
    if args.no_profile:
        plan = replace(plan, profile=False)
    started = time.monotonic()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    source = snapshot_sources(workdir / "src", rev=args.rev)
    results: dict[str, Any] = {
        "timestamp": stamp,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "mode": "quick" if args.quick else "full",
        "plan": asdict(plan),
        "sections": sections,
        "server_env": RATES,
        **report.provenance(),
        "code_under_test": {
            "rev": args.rev or "working tree at start",
            "sources_sha256": source_fingerprint(source),
        },
        "configs": {},
    }
    try:
        run_sections(results, sections, plan, production_plan, workdir, args)
    finally:
        results["elapsed_seconds"] = round(time.monotonic() - started, 1)
        name = stamp if args.only is None else f"{stamp}-{'-'.join(sections)}"
        report.write(results, RESULTS, name, latest=args.only is None)
        shutil.rmtree(workdir, ignore_errors=True)
    if "production" in results:
        print(report.production_table(results["production"]), flush=True)
    log(f"done in {results['elapsed_seconds']} s: {RESULTS / name}.json")
    return 0


def run_sections(
    results: dict[str, Any],
    sections: list[str],
    plan: Plan,
    production_plan: ProductionPlan,
    workdir: Path,
    args: argparse.Namespace,
) -> None:
    if "embedded" in sections:
        results["configs"]["embedded"] = run_config(
            "embedded",
            plan,
            workdir,
            project_db=f"sqlite:///{workdir / 'project.sqlite3'}",
            tutorial_db=f"sqlite:///{workdir / 'tutorial.sqlite3'}",
            redis_url="",
            processes=1,
            with_relay=True,
            idle=True,
            reconnect=True,
        )
    if "redis_postgres" in sections:
        if args.skip_redis:
            results["configs"]["redis_postgres"] = {"skipped": "--skip-redis"}
        else:
            results["configs"]["redis_postgres"] = redis_postgres(plan, workdir)
    if "production" in sections:
        if args.skip_redis:
            results["production"] = {"skipped": "--skip-redis"}
        else:
            results["production"] = production(production_plan, workdir / "prod")


if __name__ == "__main__":
    sys.exit(main())
