"""Pages and the health check."""

from __future__ import annotations

from typing import cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .models import User
from .selectors.conversations import community_list_for_user


@login_required
def index(request: HttpRequest) -> HttpResponse:
    """The residents' app."""
    communities = community_list_for_user(user_id=cast(User, request.user).pk)
    return render(request, "conversations/index.html", {"communities": communities})


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Whether the database and Redis answer: 200 when both do, else 503."""
    status = {"database": _check_database(), "redis": _check_redis()}
    healthy = all(value in ("ok", "not configured") for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as error:
        return f"error: {type(error).__name__}"


def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    import redis

    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        client.ping()
        client.close()
        return "ok"
    except Exception as error:
        return f"error: {type(error).__name__}"
