"""The HTTP API (JSON, session auth, CSRF on writes). Thin: one call each."""

from __future__ import annotations

import json
from typing import Any, cast

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.responses import Status
from ninja.security import SessionAuth

from .errors import BadRequest, ChatError, NotFound, RateLimited
from .limits import resident_limits
from .models import User
from .notifications.push import vapid_keys
from .protocol import MAX_ID, parse_send
from .selectors.access import community_get_for_user
from .selectors.conversations import (
    community_list_for_user,
    conversation_list_for_user,
    member_list,
)
from .selectors.messages import PAGE_LIMIT, messages_before
from .services.blocks import block_add, block_remove
from .services.messages import message_send
from .services.preferences import (
    preferences_get,
    preferences_update,
    push_subscription_delete,
    push_subscription_save,
)

api = NinjaAPI(
    title="Voisins: private messages",
    version="1",
    urls_namespace="api",
    openapi_url="/schema/",
    docs_url=None,
    auth=SessionAuth(csrf=True),
)


class ErrorOut(Schema):
    code: str
    detail: str


class CommunityOut(Schema):
    slug: str
    name: str


class MemberOut(Schema):
    username: str
    display_name: str


class MessageOut(Schema):
    id: int
    conversation: int
    community: str
    sender: str
    participants: list[str]
    body: str
    sent_at: str
    client_id: str


class ConversationOut(Schema):
    id: int
    participants: list[str]
    last_message: MessageOut | None
    unread: int


ERRORS: dict[int, type[Schema]] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    429: ErrorOut,
}

SEND_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["client_id", "body"],
    "properties": {
        "client_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "body": {"type": "string", "minLength": 1, "maxLength": 5000},
        "to": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 50,
        },
        "conversation": {"type": "integer", "minimum": 1},
    },
    "description": "Exactly one of `to` or `conversation`.",
}


def error_response(
    request: HttpRequest, status: int, code: str, detail: str
) -> HttpResponse:
    return api.create_response(request, {"code": code, "detail": detail}, status=status)


def _resident(request: HttpRequest) -> User:
    """The authenticated resident (SessionAuth has already refused anyone else)."""
    return cast(User, request.user)


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


@api.get("/communities/", response=list[CommunityOut])
def communities(request: HttpRequest) -> Any:
    """The resident's communities."""
    return community_list_for_user(user_id=_resident(request).pk)


@api.get("/communities/{slug}/members/", response={200: list[MemberOut], **ERRORS})
def members(request: HttpRequest, slug: str, q: str = "") -> Any:
    """Active members of a community the resident belongs to."""
    community = community_get_for_user(
        user_id=_resident(request).pk, community_slug=slug
    )
    return member_list(community=community, query=q[:150])


@api.get(
    "/communities/{slug}/conversations/",
    response={200: list[ConversationOut], **ERRORS},
)
def conversations(request: HttpRequest, slug: str) -> Any:
    """The resident's conversations in a community, most recent first."""
    community = community_get_for_user(
        user_id=_resident(request).pk, community_slug=slug
    )
    return conversation_list_for_user(
        user_id=_resident(request).pk, community=community
    )


@api.get(
    "/conversations/{conversation_id}/messages/",
    response={200: list[MessageOut], **ERRORS},
)
def conversation_messages(
    request: HttpRequest,
    conversation_id: int,
    before: int | None = None,
    limit: int = 50,
) -> Any:
    """A page of a conversation's messages, newest first (`limit` at most 200)."""
    if not 1 <= conversation_id <= MAX_ID:
        raise NotFound()
    if before is not None and not 1 <= before <= MAX_ID:
        raise BadRequest("'before' must be a message id.")
    if limit < 1:
        raise BadRequest("'limit' must be at least 1.")
    return messages_before(
        user_id=_resident(request).pk,
        conversation_id=conversation_id,
        before=before,
        limit=min(limit, PAGE_LIMIT),
    )


@api.post(
    "/communities/{slug}/messages/",
    response={200: MessageOut, 201: MessageOut, **ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": SEND_BODY_SCHEMA}},
        }
    },
)
def send_message(request: HttpRequest, slug: str) -> Any:
    """Send a message, as `message.send` does on the socket (idempotent)."""
    command = parse_send(_json_object(request))
    if not resident_limits.allow("send", _resident(request).pk):
        raise RateLimited("Too many messages; slow down.", client_id=command.client_id)
    community = community_get_for_user(
        user_id=_resident(request).pk, community_slug=slug
    )
    result = message_send(
        sender=_resident(request), community=community, command=command
    )
    return Status(201 if result.created else 200, result.message)


class BlockIn(Schema):
    username: str


@api.post("/me/blocks/", response={201: None, **ERRORS})
def block_create(request: HttpRequest, payload: BlockIn) -> Any:
    """Stop receiving messages from a neighbour: their sends get `blocked`."""
    block_add(blocker=_resident(request), username=payload.username)
    return Status(201, None)


@api.delete("/me/blocks/", response={204: None, **ERRORS})
def block_delete(request: HttpRequest, payload: BlockIn) -> Any:
    """Unblock a neighbour (204 also when they were not blocked)."""
    block_remove(blocker=_resident(request), username=payload.username)
    return Status(204, None)


class PreferencesOut(Schema):
    email: bool
    email_include_text: bool
    language: str


PREFERENCES_PATCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "email": {"type": "boolean"},
        "email_include_text": {"type": "boolean"},
        "language": {"type": "string", "enum": ["fr", "en"]},
    },
    "additionalProperties": False,
}

PUSH_SUBSCRIPTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["endpoint", "keys"],
    "properties": {
        "endpoint": {"type": "string", "format": "uri"},
        "keys": {
            "type": "object",
            "required": ["p256dh", "auth"],
            "properties": {"p256dh": {"type": "string"}, "auth": {"type": "string"}},
        },
    },
}


def _json_object(request: HttpRequest) -> dict[str, Any]:
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("Body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object.")
    return data


@api.get("/me/preferences/", response={200: PreferencesOut, **ERRORS})
def preferences_read(request: HttpRequest) -> Any:
    """The resident's notification preferences (emails and pushes)."""
    return preferences_get(user=_resident(request))


@api.patch(
    "/me/preferences/",
    response={200: PreferencesOut, **ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PREFERENCES_PATCH_SCHEMA}},
        }
    },
)
def preferences_change(request: HttpRequest) -> Any:
    """Change some preferences; the others keep their values."""
    return preferences_update(user=_resident(request), changes=_json_object(request))


class PushKeyOut(Schema):
    public_key: str


@api.get("/push/key/", response={200: PushKeyOut, **ERRORS})
def push_key(request: HttpRequest) -> Any:
    """The VAPID application server key (base64url) for pushManager.subscribe."""
    return {"public_key": vapid_keys()[1]}


@api.post(
    "/push/subscriptions/",
    response={201: None, **ERRORS},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PUSH_SUBSCRIPTION_SCHEMA}},
        }
    },
)
def push_subscribe(request: HttpRequest) -> Any:
    """Register this browser for Web Push (public https endpoints only)."""
    data = _json_object(request)
    push_subscription_save(
        user=_resident(request), endpoint=data.get("endpoint"), keys=data.get("keys")
    )
    return Status(201, None)


@api.delete("/push/subscriptions/", response={204: None, **ERRORS})
def push_unsubscribe(request: HttpRequest) -> Any:
    """Forget this browser's subscription (204 also when unknown)."""
    data = _json_object(request)
    push_subscription_delete(user=_resident(request), endpoint=data.get("endpoint"))
    return Status(204, None)
