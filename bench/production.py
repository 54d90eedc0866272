"""The production section of `make bench`: PostgreSQL + Redis, the project on
2 and on 4 daphne processes against the tutorial peer on 2.

Two scenarios, for each system in turn:

- town: `communities` communities of `residents_per_community` online
  residents (sockets spread round-robin over the processes); each send goes
  from a resident to 1, 3 or 10 members of their own community (a search per
  fan-out); one community carries `hot_share` of all sends, the others share
  the rest evenly.
- one_community: 200 residents of one community, fan-out 1 (the shape of
  the redis_postgres section).

The tutorial peer has no communities: it gets the same usernames and the
same conversations, picked in the same order (same seed), so its traffic is
the project's. Each search is the open-loop ramp and bisection of
`Load.search` (pass: p99 <= 100 ms, nothing lost, every send acked, no error
frame); a probe step at the highest passing rate then measures the cost per
message (bench/meters.py).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench.loadgen import Load
from bench.meters import STATS_DELAY, Meters, per_message
from bench.residents import Target, close_all, connect_all
from bench.servers import run_checked
from bench.systems import (
    System,
    log,
    project_system,
    server_envs,
    tutorial_system,
)
from bench.town import TownLoad
from tests.support.servers import PYTHON, PostgresServer, RedisServer, redis_available


@dataclass(frozen=True)
class ProductionPlan:
    communities: int = 100
    residents_per_community: int = 50
    # Residents of each community who start conversations (each one its own
    # set of recipients): enough variety, and a warm-up that stays short.
    senders_per_community: int = 10
    hot_share: float = 0.2
    town_fanouts: tuple[int, ...] = (1, 3, 10)
    one_community_residents: int = 200
    project_processes: tuple[int, ...] = (2, 4)
    tutorial_processes: int = 2
    step_seconds: float = 8.0
    probe_seconds: float = 8.0
    start_rate: float = 10.0
    ramp: float = 2.0
    bisect_steps: int = 8
    resolution: float = 0.1  # bisect until the failing rate is within 10%
    search_budget: float = 240.0
    settle_seconds: float = 10.0
    connect_concurrency: int = 50
    connect_within: float = 900.0

    @classmethod
    def quick(cls) -> ProductionPlan:
        """About 10 minutes: a smaller town (20 x 50), fan-out 1 and 10,
        shorter steps, two bisections."""
        return cls(
            communities=20,
            town_fanouts=(1, 10),
            # 5 s steps: at 10-20 msg/s a 3 s step's p99 is its single worst
            # delivery.
            step_seconds=5.0,
            probe_seconds=5.0,
            bisect_steps=2,
            resolution=0.0,
            search_budget=80.0,
            settle_seconds=5.0,
        )


async def measured_step(
    load: Load, meters: Meters, *, rate: float, fanout: int, plan: ProductionPlan
) -> dict[str, Any]:
    """One step at `rate` with the cost per acked message."""
    before = meters.read()
    step = await load.step(
        rate=rate, fanout=fanout, seconds=plan.probe_seconds, settle=0.0
    )
    await asyncio.sleep(STATS_DELAY)
    step["per_message"] = per_message(before, meters.read(), messages=step["acked"])
    return step


async def search_fanout(
    load: Load, meters: Meters, fanout: int, plan: ProductionPlan, label: str
) -> dict[str, Any]:
    """Warm up, search the highest passing rate, probe the cost there."""
    warm_up = await load.warm_up(fanout)
    search = await load.search(
        fanout=fanout,
        seconds=plan.step_seconds,
        settle=plan.settle_seconds,
        start_rate=plan.start_rate,
        ramp=plan.ramp,
        bisect_steps=plan.bisect_steps,
        resolution=plan.resolution,
        budget=plan.search_budget,
        log=log,
    )
    best = search["max_rate"]
    at_best = [s for s in search["steps"] if s["passed"] and s["offered_rate"] == best]
    probe = await measured_step(
        load, meters, rate=best or plan.start_rate, fanout=fanout, plan=plan
    )
    figures = probe["per_message"]
    log(
        f"{label} fan-out {fanout}: max {best}/s; probe p99 "
        f"{probe['latency_ms']['p99']} ms, cpu/msg {figures['cpu_ms_per_message']}"
    )
    return {
        "max_rate": best,
        "first_failing_rate": search["first_failing_rate"],
        "p99_ms_at_max": at_best[-1]["latency_ms"]["p99"] if at_best else None,
        "lost_at_max": at_best[-1]["lost_messages"] if at_best else None,
        "errors_at_max": at_best[-1]["errors"] if at_best else None,
        "sent_at_max": at_best[-1]["sent"] if at_best else None,
        "acked_at_max": at_best[-1]["acked"] if at_best else None,
        "lost_for_good_all_steps": sum(
            s.get("still_missing_after_settle", 0) for s in search["steps"]
        ),
        "errors_all_steps": dict(
            sum((Counter(s["errors"]) for s in search["steps"]), Counter())
        ),
        "cpu_ms_per_message": figures["cpu_ms_per_message"],
        "queries_per_message": figures["pg_transactions_per_message"],
        "redis_commands_per_message": figures["redis_commands_per_message"],
        "warm_up_seconds": round(warm_up, 2),
        "probe": probe,
        "steps": search["steps"],
    }


async def quiet(target: Target, *, within: float = 90.0) -> float:
    """Wait until the servers are nearly idle; seconds waited.

    Closing the previous scenario's sockets leaves each process work per
    socket (presence, and a database hop to owe notifications for what it
    delivered lately) on the thread handshakes need too: handshakes opened
    meanwhile outlive daphne's 5 s handshake timeout and fail."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while loop.time() - started < within:
        before = target.cpu()
        await asyncio.sleep(0.5)
        if target.cpu() - before < 0.05 * len(target.pids):
            break
    return round(loop.time() - started, 1)


async def run_scenario(
    target: Target,
    meters: Meters,
    plan: ProductionPlan,
    *,
    label: str,
    town: dict[str, list[str]],
    fanouts: Sequence[int],
) -> dict[str, Any]:
    """Open every resident's socket, then search each fan-out."""
    names = [name for members in town.values() for name in members]
    waited = await quiet(target)
    stats: Counter[str] = Counter()
    started = asyncio.get_running_loop().time()
    residents = await connect_all(
        target,
        names,
        concurrency=plan.connect_concurrency,
        within=plan.connect_within,
        stats=stats,
    )
    result: dict[str, Any] = {
        "sockets": len(names),
        "quiet_wait_seconds": waited,
        "connected": len(residents),
        "connect_seconds": round(asyncio.get_running_loop().time() - started, 1),
        "handshakes": dict(stats),
        "fanouts": {},
    }
    log(f"{label}: {len(residents)}/{len(names)} sockets open, {dict(stats)}")
    load = (
        TownLoad(
            target,
            residents,
            town=town,
            senders=plan.senders_per_community,
            share=plan.hot_share,
        )
        if len(town) > 1
        else Load(target, residents)
    )
    try:
        for fanout in fanouts:
            try:
                result["fanouts"][str(fanout)] = await search_fanout(
                    load, meters, fanout, plan, label
                )
            except Exception as error:
                log(f"{label} fan-out {fanout} failed: {error!r}")
                result["fanouts"][str(fanout)] = {"error": repr(error)}
    finally:
        await close_all(residents)
    return result


async def measure_system(
    system: System,
    meters: Meters,
    plan: ProductionPlan,
    towns: dict[str, dict[str, list[str]]],
    label: str,
) -> dict[str, Any]:
    result: dict[str, Any] = {"processes": len(system.servers)}
    for scenario, town in towns.items():
        target = system.target()
        if system.kind == "project":
            paths = {
                name: f"/ws/communities/{slug}/"
                for slug, members in town.items()
                for name in members
            }
            target = replace(target, paths=paths)
        fanouts = plan.town_fanouts if scenario == "town" else (1,)
        try:
            result[scenario] = await run_scenario(
                target,
                meters,
                plan,
                label=f"{label} {scenario}",
                town=town,
                fanouts=fanouts,
            )
        except Exception as error:
            log(f"{label} {scenario} failed: {error!r}")
            result[scenario] = {"error": repr(error)}
    return result


def mint(env: dict[str, str], workdir: Path, plan: ProductionPlan) -> dict[str, Any]:
    """The town's and the single community's residents, with sessions."""
    towns, cookies = {}, {}
    for scenario, slug, prefix, count, communities in (
        ("town", "town", "t", plan.residents_per_community, plan.communities),
        ("one_community", "one", "o", plan.one_community_residents, 1),
    ):
        out = workdir / f"cookies-production-{scenario}.json"
        run_checked(
            [PYTHON, "bench/mint_sessions.py", "--community", slug, "--prefix",
             prefix, "--count", str(count), "--communities", str(communities),
             "--out", out],
            env=env,
        )  # fmt: skip
        minted = json.loads(out.read_text())
        towns[scenario] = minted["communities"]
        cookies.update(minted["residents"])
    return {"towns": towns, "cookies": cookies}


def production(plan: ProductionPlan, workdir: Path) -> dict[str, Any]:
    """The section's figures; skipped with a note without Redis or PostgreSQL."""
    if not redis_available():
        return {"skipped": "redis-server is not installed"}
    postgres = PostgresServer()
    ok, reason = postgres.available()
    if not ok:
        return {"skipped": f"no PostgreSQL at 127.0.0.1:5432 ({reason})"}
    workdir.mkdir(parents=True, exist_ok=True)
    redis = RedisServer(workdir)
    databases = {
        "project": f"bench_prod_project_{os.getpid()}",
        "tutorial": f"bench_prod_tutorial_{os.getpid()}",
    }
    redis.start()
    section: dict[str, Any] = {"plan": asdict(plan), "systems": {}}
    try:
        for name in databases.values():
            postgres.create_database(name)
        project_env, tutorial_env = server_envs(
            workdir,
            project_db=postgres.url(databases["project"]),
            tutorial_db=postgres.url(databases["tutorial"]),
            redis_url=redis.url,
        )
        run_checked(
            [PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env=project_env
        )
        minted = mint(project_env, workdir, plan)
        builds = [
            (f"project_x{n}", "project", project_system, project_env, n)
            for n in plan.project_processes
        ]
        builds.append(
            (f"tutorial_x{plan.tutorial_processes}", "tutorial", tutorial_system,
             tutorial_env, plan.tutorial_processes)
        )  # fmt: skip
        for label, kind, build, env, processes in builds:
            system = build(env, workdir, processes, label=label)
            if kind == "project":
                system.cookies = minted["cookies"]
            log(f"production: {label}")
            system.start()
            load_average = os.getloadavg()[0]
            meters = Meters(
                daphne_pids=[s.pid for s in system.servers],
                redis_pid=redis.pid,
                redis_url=redis.url,
                postgres_dsn=f"host={postgres.host} port={postgres.port} "
                f"user={postgres.user} dbname=postgres",
                database=databases[kind],
            )
            try:
                section["systems"][label] = asyncio.run(
                    measure_system(system, meters, plan, minted["towns"], label)
                )
            finally:
                system.stop()
            section["systems"][label]["load_average_before_after"] = [
                round(load_average, 2),
                round(os.getloadavg()[0], 2),
            ]
    finally:
        for name in databases.values():
            postgres.drop_database(name)
        redis.stop()
    return section
