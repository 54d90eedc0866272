"""RFC 8058 one-click unsubscribe: POST with no cookie, no CSRF, no redirect."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..services.preferences import preferences_unsubscribe
from .tokens import TokenState, unsubscribe_token_read

TEMPLATE = "notifications/unsubscribe.html"


@csrf_exempt  # the signed token is the credential; mail clients send no cookie
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation form (link scanners must not unsubscribe);
    POST turns notification emails off for every community of the resident.
    An expired link changes nothing and points to the app's settings."""
    state, user_id = unsubscribe_token_read(token)
    if state == TokenState.EXPIRED:
        context = {"state": "expired", "app_url": f"{settings.SITE_URL}/"}
        return render(request, TEMPLATE, context, status=410)
    if user_id is None:
        return render(request, TEMPLATE, {"state": "invalid"}, status=400)
    if request.method == "POST":
        preferences_unsubscribe(user_id=user_id)
        return render(request, TEMPLATE, {"state": "done"})
    return render(request, TEMPLATE, {"state": "confirm"})
