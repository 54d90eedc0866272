"""Account email jobs, run by `notify_worker` with the notification retries."""

from __future__ import annotations

import logging

from django_tasks import task

from ..notifications.tasks import QUEUE, settle
from .mail import email_change_notice_send

logger = logging.getLogger(__name__)


@task(queue_name=QUEUE)
def send_email_change_notice(event_id: int, old_address: str, attempts: int = 0) -> str:
    """The notice to the address an account had before a change."""
    return settle(
        email_change_notice_send(
            event_id=event_id, old_address=old_address, attempts=attempts + 1
        ),
        again=lambda retry, run_after: send_email_change_notice.using(
            run_after=run_after
        ).enqueue(event_id, old_address, retry.attempts),
        give_up=lambda: logger.error("email change notice %s abandoned", event_id),
    )
