"""The resident's email address: confirm it after delivery failures."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from ..mail.status import email_status_confirm
from ..wire.resident import EmailStatusObject
from .common import ERRORS, resident

router = Router(tags=["me"])


@router.post("/me/email/confirm/", response={200: EmailStatusObject, **ERRORS})
def email_confirm(request: HttpRequest) -> Any:
    """The address is right: notification emails go to it again (the status
    was `bouncing` after a permanent delivery failure). No body."""
    return {"email_status": email_status_confirm(user=resident(request))}
