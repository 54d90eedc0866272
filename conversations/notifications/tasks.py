"""Job definitions (django-tasks, run by `manage.py notify_worker`), and the
one place that retries: a sender answers Done, Retry or Defer; this layer
enqueues the next attempt with backoff or gives up after NOTIFY_MAX_ATTEMPTS,
and runs a deferred job again at its time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from ..metrics import NOTIFICATIONS
from .decision import retry_delay
from .email import email_batch_abandon, email_batch_send
from .outcomes import Defer, Outcome, Retry
from .push import push_abandon, push_deliver

QUEUE = "notifications"  # emails
PUSH_QUEUE = "push"  # served by threads of its own (worker.py)


def _counted(kind: str, outcome: str) -> str:
    NOTIFICATIONS.labels(kind, outcome).inc()
    return outcome


@task(queue_name=QUEUE)
def send_email_batch(batch_id: int) -> str:
    def later(run_after: datetime) -> object:
        # A batch keeps its attempts in its row: a retry and a deferral are
        # the same job again.
        return send_email_batch.using(run_after=run_after).enqueue(batch_id)

    return _counted(
        "email",
        settle(
            email_batch_send(batch_id=batch_id),
            again=lambda _retry, run_after: later(run_after),
            repeat=later,
            give_up=lambda: email_batch_abandon(batch_id=batch_id),
        ),
    )


@task(queue_name=PUSH_QUEUE, priority=10)
def send_push(
    recipient_id: int,
    message_id: int,
    attempt: int = 0,
    endpoints: list[str] | None = None,
) -> str:
    return _counted(
        "push",
        settle(
            push_deliver(
                recipient_id=recipient_id,
                message_id=message_id,
                attempt=attempt,
                endpoints=endpoints,
            ),
            again=lambda retry, run_after: send_push.using(run_after=run_after).enqueue(
                recipient_id, message_id, retry.attempts, list(retry.remaining)
            ),
            repeat=lambda run_after: send_push.using(run_after=run_after).enqueue(
                recipient_id, message_id, attempt, endpoints
            ),
            give_up=lambda: push_abandon(
                recipient_id=recipient_id, message_id=message_id
            ),
        ),
    )


def settle(
    outcome: Outcome,
    *,
    again: Callable[[Retry, datetime], object],
    give_up: Callable[[], None],
    repeat: Callable[[datetime], object] | None = None,
) -> str:
    """Store a Done; enqueue a Retry with backoff, or give up past the limit;
    enqueue the same job again for a Defer. Account emails (accounts/tasks.py)
    retry through here too."""
    if isinstance(outcome, Defer):
        if repeat is None:
            raise ValueError("this job cannot be deferred")
        with transaction.atomic():
            repeat(outcome.until)
        return outcome.outcome
    if not isinstance(outcome, Retry):
        return outcome.outcome
    if outcome.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        give_up()
        return "abandoned"
    delay = retry_delay(attempts=outcome.attempts, hint=outcome.hint)
    with transaction.atomic():
        again(outcome, timezone.now() + timedelta(seconds=delay))
    return outcome.outcome
