"""Periodic upkeep, run by every notification worker (see worker.py).

Each job is idempotent and works in small batches, so two workers running
the same job at once, or a job cut short, do no harm. A job is named by its
dotted path here (imported when first due, so no module imports another
just to register), with its period in seconds.
"""

from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every_seconds: float
    target: str  # "package.module:function"


JOBS: tuple[Job, ...] = (
    Job(
        "revocations and heartbeats",
        60,
        "conversations.notifications.worker:forget_old_records",
    ),
    Job(
        "unused attachment uploads",
        3600,
        "conversations.services.attachments:attachments_sweep",
    ),
    Job("throttle rows", 600, "conversations.services.throttle:throttles_forget_old"),
    # Privacy (docs/privacy.md): retention, erasure leftovers, expired records.
    Job(
        "expired messages",
        3600,
        "conversations.services.retention:messages_purge_expired_step",
    ),
    Job(
        "leftover file deletions",
        600,
        "conversations.services.attachments:stored_files_retry",
    ),
    Job(
        "erased accounts' leftovers",
        3600,
        "conversations.services.erasure:erased_leftovers_erase",
    ),
    Job(
        "expired sessions",
        86400,
        "conversations.services.retention:sessions_clear_expired",
    ),
    Job(
        "finished job rows",
        86400,
        "conversations.services.retention:finished_jobs_forget",
    ),
    Job(
        "finished notification records",
        86400,
        "conversations.services.retention:notification_records_forget",
    ),
)


class Schedule:
    """When each job last ran in this worker."""

    def __init__(self, jobs: tuple[Job, ...] = JOBS) -> None:
        self.jobs = jobs
        self.last_run: dict[str, float] = {}

    def run_due(self, now: float | None = None) -> list[str]:
        """Run the jobs whose period has passed; a failing job waits its
        period like any other. Returns the names of the jobs run."""
        moment = time.monotonic() if now is None else now
        ran = []
        for job in self.jobs:
            last = self.last_run.get(job.name)
            if last is not None and moment - last < job.every_seconds:
                continue
            self.last_run[job.name] = moment
            ran.append(job.name)
            try:
                module, _, function = job.target.partition(":")
                getattr(importlib.import_module(module), function)()
            except Exception:
                logger.exception("maintenance job %s failed", job.name)
        return ran
