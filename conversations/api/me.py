"""The resident's own settings: blocks, notification preferences, Web Push."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.responses import Status

from ..notifications.push import vapid_keys
from ..services.blocks import block_add, block_remove
from ..services.preferences import (
    preferences_get,
    preferences_update,
    push_subscription_delete,
    push_subscription_save,
)
from ..wire.resident import (
    BlockBody,
    EndpointBody,
    Preferences,
    PreferencesPatch,
    PushSubscriptionBody,
)
from ..wire.validate import validated
from .common import ERRORS, body_of, json_object, resident

router = Router(tags=["me"])


@router.post(
    "/me/blocks/", response={201: None, **ERRORS}, openapi_extra=body_of(BlockBody)
)
def block_create(request: HttpRequest) -> Any:
    """Stop receiving messages from a neighbour: their sends get `blocked`."""
    body = validated(BlockBody, json_object(request))
    block_add(blocker=resident(request), username=body["username"])
    return Status(201, None)


@router.delete(
    "/me/blocks/", response={204: None, **ERRORS}, openapi_extra=body_of(BlockBody)
)
def block_delete(request: HttpRequest) -> Any:
    """Unblock a neighbour (204 also when they were not blocked)."""
    body = validated(BlockBody, json_object(request))
    block_remove(blocker=resident(request), username=body["username"])
    return Status(204, None)


@router.get("/me/preferences/", response={200: Preferences, **ERRORS})
def preferences_read(request: HttpRequest) -> Any:
    """The resident's notification preferences (emails and pushes)."""
    return preferences_get(user=resident(request))


@router.patch(
    "/me/preferences/",
    response={200: Preferences, **ERRORS},
    openapi_extra=body_of(PreferencesPatch),
)
def preferences_change(request: HttpRequest) -> Any:
    """Change some preferences; the others keep their values."""
    return preferences_update(user=resident(request), changes=json_object(request))


@router.get("/push/key/", response={200: dict[str, str], **ERRORS})
def push_key(request: HttpRequest) -> Any:
    """The VAPID application server key (base64url) for pushManager.subscribe."""
    return {"public_key": vapid_keys()[1]}


@router.post(
    "/push/subscriptions/",
    response={201: None, **ERRORS},
    openapi_extra=body_of(PushSubscriptionBody),
)
def push_subscribe(request: HttpRequest) -> Any:
    """Register this browser for Web Push (public https endpoints only)."""
    push_subscription_save(user=resident(request), subscription=json_object(request))
    return Status(201, None)


@router.delete(
    "/push/subscriptions/",
    response={204: None, **ERRORS},
    openapi_extra=body_of(EndpointBody),
)
def push_unsubscribe(request: HttpRequest) -> Any:
    """Forget this browser's subscription (204 also when unknown)."""
    push_subscription_delete(user=resident(request), body=json_object(request))
    return Status(204, None)
