"""Pages and the health check."""

from __future__ import annotations

import hmac
import ipaddress
from typing import cast

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.templatetags.static import static
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .models import User
from .selectors.conversations import community_list_for_user
from .selectors.retention import community_retention_for_user

SERVICE_WORKER = "app/sw.js"
THEME_COLOUR = "#1d5fae"
MANIFEST_ICONS = [
    ("icon-192", "192x192"),
    ("icon-512", "512x512"),
    ("maskable-512", "512x512"),
]
MANIFEST_DESCRIPTION = {
    "fr": "Messages privés entre voisins",
    "en": "Private messages between neighbours",
}


@login_required
@never_cache
def index(request: HttpRequest) -> HttpResponse:
    """The residents' app; the conversation in the URL is opened by the script."""
    user = cast(User, request.user)
    communities = community_list_for_user(user_id=user.pk)
    app_config = {
        "me": user.username,
        "meName": user.shown_name,
        "email": user.email,
        "communities": communities,
        "language": get_language() or settings.LANGUAGE_CODE,
        "csrf": get_token(request),
        "editWindowSeconds": settings.MESSAGE_EDIT_WINDOW_SECONDS,
        "attachmentMaxBytes": settings.ATTACHMENT_MAX_BYTES,
    }
    return render(
        request,
        "conversations/index.html",
        {"communities": communities, "app_config": app_config},
    )


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker, from the site root so that its scope covers `/`."""
    path = finders.find(SERVICE_WORKER)
    if not isinstance(path, str):
        raise Http404
    with open(path, "rb") as source:
        body = source.read()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: the app installs on a phone's home screen.

    Served from the site root (not /static/) so that its scope and start URL
    can be `/`; icons go through `static` for their hashed production names.
    """
    icons = [
        {"src": static(f"app/icons/{name}.png"), "sizes": size, "type": "image/png"}
        | ({"purpose": "maskable"} if name.startswith("maskable") else {})
        for name, size in MANIFEST_ICONS
    ]
    language = get_language() or settings.LANGUAGE_CODE
    body = {
        "name": "Voisins",
        "short_name": "Voisins",
        "description": MANIFEST_DESCRIPTION.get(language, MANIFEST_DESCRIPTION["fr"]),
        "lang": language,
        "start_url": "/",
        "scope": "/",
        "id": "/",
        "display": "standalone",
        "theme_color": THEME_COLOUR,
        "background_color": "#f3f5f8",
        "icons": icons,
    }
    response = JsonResponse(body, content_type="application/manifest+json")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Whether this process can serve: 200 when the database answers, else 503.

    Redis is reported but does not decide: without it a process still
    commits every message and answers `sync`, only live delivery and the
    shared rate limits pause. A proxy that dropped every process when Redis
    was down (as one checking Redis too did in the cluster test) would close
    every socket and refuse every send for the outage instead.
    """
    status = {"database": _check_database(), "redis": _check_redis()}
    serving = status["database"] == "ok"
    live = status["redis"] in ("ok", "not configured")
    status["status"] = "ok" if serving and live else "degraded" if serving else "down"
    return JsonResponse(status, status=200 if serving else 503)


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


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """This process's Prometheus metrics (conversations/metrics.py): with
    METRICS_TOKEN set, to its bearer; otherwise to loopback and private
    addresses only (a proxy must not route /metrics from outside)."""
    if not metrics_allowed(request):
        raise Http404
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return address.is_loopback or address.is_private


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    """What the service keeps and why, for residents (docs/privacy.md is the
    operators' version): French, or English when the resident chose it.
    Open to anyone, signed in or not; a resident also sees how long each of
    their communities keeps messages."""
    user = request.user
    retention = (
        community_retention_for_user(user_id=user.pk) if user.is_authenticated else []
    )
    language = "en" if get_language() == "en" else "fr"
    return render(
        request,
        f"conversations/privacy_{language}.html",
        {"retention": retention, "signed_in": user.is_authenticated},
    )
