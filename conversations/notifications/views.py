"""RFC 8058 one-click unsubscribe: POST with no cookie, no CSRF, no redirect."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from ..services.preferences import preferences_unsubscribe
from .tokens import unsubscribe_user_id


@csrf_exempt  # the signed token is the credential; mail clients send no cookie
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a confirmation form (link scanners must not unsubscribe);
    POST turns notification emails off for every community of the resident."""
    user_id = unsubscribe_user_id(token)
    if user_id is None:
        return render(
            request, "notifications/unsubscribe.html", {"state": "invalid"}, status=400
        )
    if request.method == "POST":
        preferences_unsubscribe(user_id=user_id)
        return render(request, "notifications/unsubscribe.html", {"state": "done"})
    return render(request, "notifications/unsubscribe.html", {"state": "confirm"})
