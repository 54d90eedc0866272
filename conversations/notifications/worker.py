"""The notification worker: django-tasks-db's worker plus liveness.

A django-tasks-db worker killed with SIGKILL in the middle of a task leaves
its row RUNNING forever: nothing in django-tasks-db ever runs it again. Each
worker here writes a heartbeat every few seconds; any worker queues again the
RUNNING tasks whose worker stopped beating.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from ..maintenance import Schedule
from ..models import Revocation, WorkerHeartbeat
from .tasks import QUEUE

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


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


def run_worker(*, interval: float = 0.5) -> None:
    """Run until SIGTERM: the current task finishes, then the worker exits."""
    worker_id = new_worker_id()
    heartbeat(worker_id)
    liveness = _Liveness(worker_id)
    liveness.start()
    # Private API, pinned by tests/integration/test_library_internals.py.
    worker = Worker(
        queue_names=[QUEUE],
        interval=interval,
        batch=False,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
    )
    worker.configure_signals()
    logger.info("notification worker %s started", worker_id)
    try:
        worker.run()
    finally:
        liveness.stopping.set()
        WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()
