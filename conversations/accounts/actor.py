"""Who is changing an account: the resident, a staff member, or an operator.

A password or email change can come from many places (Django's password
views, the admin, `manage.py changepassword`, the operator commands, an
invitation). The model-level receivers in `signals.py` see them all but not
the request; this middleware lends them the request for its duration.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse

OPERATOR = "operator"
SELF = "self"

_request: ContextVar[HttpRequest | None] = ContextVar("account_request", default=None)


@dataclass(frozen=True, slots=True)
class Acting:
    """The actor's name for AccountEvent, and the session to keep open."""

    actor: str
    keep_session_key: str | None


def acting_on(user_id: int) -> Acting:
    """Who changes the account `user_id` now.

    No request: a management command or a job, the operator. An anonymous
    request: the holder of a link sent to the resident (password reset,
    invitation). The resident themself: their session stays open. Anyone
    else signed in: only staff reach another resident's account (the admin).
    """
    request = _request.get()
    if request is None:
        return Acting(OPERATOR, None)
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return Acting(SELF, None)
    if user.pk == user_id:
        return Acting(SELF, request.session.session_key)
    return Acting(f"staff:{user.get_username()}", None)


class ActorMiddleware:
    """Make the current request known to `acting_on` (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)


def staff_actor(request: HttpRequest) -> str:
    """The actor name of the staff member behind an admin request."""
    return f"staff:{request.user.get_username()}"
