"""The worker's periodic jobs: each runs once per period, failures included."""

from __future__ import annotations

import sys
import types

import pytest

from conversations.maintenance import JOBS, Job, Schedule


@pytest.fixture
def counter_module() -> types.ModuleType:
    module = types.ModuleType("maintenance_probe")
    module.calls = []  # type: ignore[attr-defined]

    def tick() -> None:
        module.calls.append("tick")  # type: ignore[attr-defined]

    def boom() -> None:
        module.calls.append("boom")  # type: ignore[attr-defined]
        raise RuntimeError("job failed")

    module.tick = tick  # type: ignore[attr-defined]
    module.boom = boom  # type: ignore[attr-defined]
    sys.modules["maintenance_probe"] = module
    yield module
    del sys.modules["maintenance_probe"]


def test_each_job_runs_at_once_then_once_per_period(
    counter_module: types.ModuleType,
) -> None:
    schedule = Schedule((Job("tick", 10, "maintenance_probe:tick"),))
    assert schedule.run_due(now=0) == ["tick"]
    assert schedule.run_due(now=9.9) == []
    assert schedule.run_due(now=10) == ["tick"]
    assert counter_module.calls == ["tick", "tick"]  # type: ignore[attr-defined]


def test_a_failing_job_waits_its_period_and_spares_the_others(
    counter_module: types.ModuleType,
) -> None:
    schedule = Schedule(
        (
            Job("boom", 10, "maintenance_probe:boom"),
            Job("tick", 10, "maintenance_probe:tick"),
        )
    )
    schedule.run_due(now=0)
    schedule.run_due(now=5)
    assert counter_module.calls == ["boom", "tick"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("job", JOBS, ids=lambda job: job.name)
def test_every_registered_job_names_a_function(job: Job) -> None:
    import importlib

    module, _, function = job.target.partition(":")
    assert callable(getattr(importlib.import_module(module), function))
