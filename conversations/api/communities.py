"""Communities, their members and conversations, and sending over HTTP."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router
from ninja.responses import Status

from ..errors import BadRequest, NotFound, RateLimited
from ..limits import resident_limits
from ..protocol import parse_send
from ..selectors.access import community_get_for_user
from ..selectors.conversations import (
    community_list_for_user,
    conversation_list_for_user,
    member_list,
)
from ..selectors.messages import messages_before
from ..services.conversations import conversation_update
from ..services.send import SendRequest, message_send
from ..wire.limits import MAX_ID, PAGE_LIMIT
from ..wire.schema import (
    CommunityObject,
    ConversationObject,
    ConversationPatch,
    MemberObject,
    MessageObject,
    SendBody,
)
from .common import ERRORS, body_of, json_object, resident

router = Router(tags=["communities"])


@router.get("/communities/", response=list[CommunityObject])
def communities(request: HttpRequest) -> Any:
    """The resident's communities."""
    return community_list_for_user(user_id=resident(request).pk)


@router.get(
    "/communities/{slug}/members/", response={200: list[MemberObject], **ERRORS}
)
def members(request: HttpRequest, slug: str, q: str = "") -> Any:
    """Active members of a community the resident belongs to."""
    community = community_get_for_user(
        user_id=resident(request).pk, community_slug=slug
    )
    return member_list(community=community, query=q[:150])


@router.get(
    "/communities/{slug}/conversations/",
    response={200: list[ConversationObject], **ERRORS},
)
def conversations(request: HttpRequest, slug: str) -> Any:
    """The resident's conversations in a community, most recent first."""
    community = community_get_for_user(
        user_id=resident(request).pk, community_slug=slug
    )
    return conversation_list_for_user(user_id=resident(request).pk, community=community)


@router.patch(
    "/conversations/{conversation_id}/",
    response={200: ConversationObject, **ERRORS},
    openapi_extra=body_of(ConversationPatch),
)
def conversation_change(request: HttpRequest, conversation_id: int) -> Any:
    """Mute or unmute a conversation (the resident's own setting)."""
    if not 1 <= conversation_id <= MAX_ID:
        raise NotFound()
    return conversation_update(
        user=resident(request),
        conversation_id=conversation_id,
        changes=json_object(request),
    )


@router.get(
    "/conversations/{conversation_id}/messages/",
    response={200: list[MessageObject], **ERRORS},
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
        user_id=resident(request).pk,
        conversation_id=conversation_id,
        before=before,
        limit=min(limit, PAGE_LIMIT),
    )


@router.post(
    "/communities/{slug}/messages/",
    response={200: MessageObject, 201: MessageObject, **ERRORS},
    openapi_extra=body_of(SendBody),
)
def send_message(request: HttpRequest, slug: str) -> Any:
    """Send a message, as `message.send` does on the socket (idempotent)."""
    command = parse_send(json_object(request))
    user = resident(request)
    if not resident_limits.allow("send", user.pk):
        raise RateLimited("Too many messages; slow down.", client_id=command.client_id)
    community = community_get_for_user(user_id=user.pk, community_slug=slug)
    result = message_send(
        SendRequest.of(
            user,
            community,
            client_id=command.client_id,
            body=command.body,
            to=command.to,
            conversation_id=command.conversation,
            attachment_ids=command.attachments,
            separate=command.separate,
        )
    )
    return Status(201 if result.created else 200, result.message)
