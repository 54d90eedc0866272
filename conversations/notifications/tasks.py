"""Job definitions (django-tasks, run by `manage.py notify_worker`).

Workers are just another interface to the same services: each task calls one
function and returns a short outcome string stored with the task result.
"""

from __future__ import annotations

from django_tasks import task

QUEUE = "notifications"


@task(queue_name=QUEUE)
def send_email_batch(batch_id: int) -> str:
    from .email import email_batch_send

    return email_batch_send(batch_id=batch_id)


@task(queue_name=QUEUE, priority=10)
def send_push(
    recipient_id: int,
    message_id: int,
    attempt: int = 0,
    endpoints: list[str] | None = None,
) -> str:
    from .push import push_deliver

    return push_deliver(
        recipient_id=recipient_id,
        message_id=message_id,
        attempt=attempt,
        endpoints=endpoints,
    )
