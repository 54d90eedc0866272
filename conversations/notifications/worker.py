"""The notification worker: threads of django-tasks-db's worker loop, plus
liveness.

One process runs NOTIFY_EMAIL_THREADS loops on the email queue and
NOTIFY_PUSH_THREADS on the push queue, each thread with its own database
connection (Django's are per thread). So a push endpoint that answers as
slowly as it can (up to PUSH_TIMEOUT_SECONDS, safe_http) holds one push
thread: emails never wait for pushes, and other pushes take the other
threads. Each claim is a locked row (SKIP LOCKED on PostgreSQL, an exclusive
transaction on SQLite), so threads and processes never run a task twice.

A worker killed with SIGKILL in the middle of a task leaves its row RUNNING
forever: nothing in django-tasks-db ever runs it again. Each process writes a
heartbeat every few seconds; any worker queues again the RUNNING tasks whose
process stopped beating.

SIGTERM (or SIGINT) lets every thread finish its current task, then the
process exits; a second one exits at once (the running tasks are then
queued again by the heartbeat rule, as after a SIGKILL).
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import threading
from datetime import timedelta
from types import FrameType

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from ..maintenance import Schedule
from ..models import Revocation, WorkerHeartbeat
from .tasks import PUSH_QUEUE, QUEUE
from .worker_metrics import serve as serve_metrics

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
RESTART_SECONDS = 2.0  # pause before a failed job loop starts again


def new_worker_id() -> str:
    return f"{socket.gethostname()[:32]}-{os.getpid()}-{secrets.token_hex(4)}"


def heartbeat_interval() -> float:
    """Beat well within NOTIFY_WORKER_STALE_SECONDS: a live worker whose last
    beat looks stale would have its running task taken over and sent twice."""
    return min(HEARTBEAT_SECONDS, settings.NOTIFY_WORKER_STALE_SECONDS / 3)


def heartbeat(worker_id: str) -> None:
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id, defaults={"seen_at": timezone.now()}
    )


def requeue_orphaned_tasks() -> int:
    """Queue again the running tasks of workers that stopped beating."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.NOTIFY_WORKER_STALE_SECONDS)
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=stale).values_list(
            "worker_id", flat=True
        )
    )
    requeued = 0
    # Private API, pinned by tests/integration/test_library_internals.py.
    for task in DBTaskResult.objects.filter(status="RUNNING", started_at__lt=stale):
        owner = task.worker_ids[-1] if task.worker_ids else None
        if owner in alive:
            continue
        # Conditional on the row being unchanged, so two reapers cannot both
        # act and a task that just finished is left alone.
        requeued += DBTaskResult.objects.filter(
            pk=task.pk, status="RUNNING", started_at=task.started_at
        ).update(status="READY", started_at=None)
        logger.warning("requeued task %s of dead worker %s", task.pk, owner)
    return requeued


def forget_old_records() -> None:
    """Drop heartbeats of long-gone workers and revocations nobody reads any
    more (server processes read those of the last seconds only)."""
    horizon = timezone.now() - timedelta(days=1)
    WorkerHeartbeat.objects.filter(seen_at__lt=horizon).delete()
    Revocation.objects.filter(created_at__lt=horizon).delete()


class _Liveness(threading.Thread):
    def __init__(self, worker_id: str) -> None:
        super().__init__(name="notify-heartbeat", daemon=True)
        self.worker_id = worker_id
        self.stopping = threading.Event()
        self.schedule = Schedule()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                close_old_connections()
                heartbeat(self.worker_id)
                requeue_orphaned_tasks()
                self.schedule.run_due()
            except Exception as error:
                logger.warning("worker heartbeat failed: %r", error)
            self.stopping.wait(heartbeat_interval())
        connection.close()


class _Threads:
    """The job loops of one process, and how they stop."""

    def __init__(self, worker_id: str, interval: float, counts: dict[str, int]):
        self.stopping = threading.Event()
        # Private API, pinned by tests/integration/test_library_internals.py.
        self.loops = [
            (
                f"notify-{queue}-{number}",
                Worker(
                    queue_names=[queue],
                    interval=interval,
                    batch=False,
                    backend_name="default",
                    startup_delay=False,
                    max_tasks=None,
                    worker_id=worker_id,
                    excluded_queue_names=[],
                ),
            )
            for queue, count in counts.items()
            for number in range(1, count + 1)
        ]

    def stop(self, signum: int, frame: FrameType | None) -> None:
        name = signal.strsignal(signum)
        if self.stopping.is_set():
            logger.warning("%s again: exiting without finishing the jobs", name)
            raise SystemExit(1)
        logger.warning("%s: finishing the current jobs, then exiting", name)
        self.stopping.set()
        for _, loop in self.loops:
            loop.running = False  # read by Worker.run between tasks

    def run(self) -> None:
        """Run every loop in its thread until all have stopped."""
        threads = [
            # Daemon: a second signal ends the process without waiting.
            threading.Thread(target=self._serve, args=(loop,), name=name, daemon=True)
            for name, loop in self.loops
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)  # short waits: signal handlers run meanwhile

    def _serve(self, loop: Worker) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    loop.run()
                except Exception:
                    # Claiming failed (the database away, say): the process
                    # keeps its capacity by starting the loop again.
                    logger.exception("notification job loop failed; restarting")
                    self.stopping.wait(RESTART_SECONDS)
        finally:
            connection.close()


def run_worker(
    *,
    interval: float = 0.5,
    email_threads: int | None = None,
    push_threads: int | None = None,
) -> None:
    """Run until SIGTERM: the current tasks finish, then the worker exits."""
    counts = {
        QUEUE: email_threads or settings.NOTIFY_EMAIL_THREADS,
        PUSH_QUEUE: push_threads or settings.NOTIFY_PUSH_THREADS,
    }
    worker_id = new_worker_id()
    heartbeat(worker_id)
    liveness = _Liveness(worker_id)
    liveness.start()
    threads = _Threads(worker_id, interval, counts)
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(number, threads.stop)
    logger.info(
        "notification worker %s started: %d email and %d push threads",
        worker_id,
        counts[QUEUE],
        counts[PUSH_QUEUE],
    )
    serve_metrics(settings.NOTIFY_METRICS_PORT)
    connection.close()  # the main thread only waits from here on
    try:
        threads.run()
    finally:
        liveness.stopping.set()
        WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
