"""The HTTP API (JSON, session auth, CSRF on writes). Thin: one call each.

Request and response bodies are the declarations of `wire.schema`, so the
OpenAPI document at `/api/schema/` and the socket frames share their rules.
"""

from __future__ import annotations

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import SessionAuth

from ..errors import ChatError
from ..wire.asyncapi import asyncapi_document
from . import account, attachments, communities, me

api = NinjaAPI(
    title="Voisins: private messages",
    version="1",
    urls_namespace="api",
    openapi_url="/schema/",
    docs_url=None,
    auth=SessionAuth(csrf=True),
)
api.add_router("/", communities.router)
api.add_router("/", me.router)
api.add_router("/", attachments.router)
api.add_router("/", account.router)
api.add_router("/", "conversations.api.email.router")
api.add_router("/", "conversations.api.search.router")
api.add_router("/", "conversations.api.privacy.router")


def error_response(
    request: HttpRequest, status: int, code: str, detail: str
) -> HttpResponse:
    return api.create_response(request, {"code": code, "detail": detail}, status=status)


@api.exception_handler(ChatError)
def on_chat_error(request: HttpRequest, exc: ChatError) -> HttpResponse:
    return error_response(request, exc.http_status, exc.code, exc.detail)


@api.exception_handler(AuthenticationError)
def on_authentication_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(request, 401, "not_authenticated", "Log in first.")


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {403: "forbidden", 404: "not_found", 405: "method_not_allowed"}.get(
        exc.status_code, "bad_request"
    )
    return error_response(request, exc.status_code, code, str(exc))


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    fields = sorted({".".join(str(p) for p in e.get("loc", ())) for e in exc.errors})
    return error_response(request, 400, "bad_request", "Invalid: " + ", ".join(fields))


@api.exception_handler(DatabaseError)
def on_database_error(request: HttpRequest, exc: DatabaseError) -> HttpResponse:
    return error_response(
        request, 503, "unavailable", "The service is briefly unavailable; retry."
    )


@api.get("/asyncapi.json", auth=None, include_in_schema=False)
def asyncapi(request: HttpRequest) -> HttpResponse:
    """The AsyncAPI 3.0 document of the WebSocket API (docs/asyncapi.json)."""
    return JsonResponse(asyncapi_document(api.version))
