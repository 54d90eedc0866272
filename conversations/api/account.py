"""The resident's account: what staff, an operator or they changed."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router

from ..selectors.accounts import account_events_for_user
from ..wire.resident import AccountEventObject
from .common import ERRORS, resident

router = Router(tags=["me"])


@router.get("/me/account-events/", response={200: list[AccountEventObject], **ERRORS})
def account_events(request: HttpRequest) -> Any:
    """Changes to your email, password and memberships, newest first (200 at
    most), with who made them."""
    return account_events_for_user(user_id=resident(request).pk)
