"""The WebSocket endpoint: thin. Parse a frame, call one service, reply."""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import deque
from typing import Any

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from . import events, protocol
from .delivery import Deliver, DeliveryTracker, Fill, Skip
from .errors import BadRequest, ChatError, RateLimited
from .limits import resident_limits
from .models import Community, User
from .notifications.schedule import notifications_schedule_missed
from .presence import ACTIVE, Presence, PresenceUnavailable, get_presence
from .ratelimit import TokenBucket
from .selectors.access import membership_get_active
from .selectors.conversations import conversation_participant_ids
from .selectors.messages import messages_after, messages_in_conversation_after
from .send_queue import send_queue
from .services.access import session_hash
from .services.messages import message_mark_read
from .services.sending import SendRequest
from .sockets import local_sockets, now_timestamp, revocation_covers

logger = logging.getLogger(__name__)

CLOSE_REVOKED = 4403
CLOSE_ABUSE = 4429


class CommunityConsumer(AsyncWebsocketConsumer):
    """One resident's socket in one community (one browser tab)."""

    user: User
    community: Community

    # Private API, pinned by tests/unit/test_library_internals.py.
    async def dispatch(self, message: dict[str, Any]) -> None:
        """Call the handler for a message type, without Channels' extra hop.

        Channels runs close_old_connections in the database thread before
        every event; here each database call already goes through
        database_sync_to_async, which does it, and most events (message.new
        to N sockets) touch no database at all.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        """Accept only an active member, on a session, from an allowed Origin."""
        self.connected_at = now_timestamp()
        self.revoked = False
        self.registered = False
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        if not resident_limits.allow("connect", user.pk):
            await self.close()
            return
        slug = self.scope["url_route"]["kwargs"]["slug"]
        membership = await database_sync_to_async(membership_get_active)(
            user_id=user.pk, community_slug=slug
        )
        if membership is None:
            await self.close()
            return
        self.user = user
        self.user_id = user.pk
        self.community = membership.community
        self.community_id = membership.community_id
        session_key = self.scope["session"].session_key or ""
        self.session_hash = session_hash(session_key)
        self.tracker = DeliveryTracker()
        self.participants_cache: dict[int, list[int]] = {}
        error_rate, error_burst = settings.CHAT_ERROR_RATE
        self.error_bucket = TokenBucket(error_rate, error_burst)
        self.my_groups = [
            events.user_group(self.user_id),
            events.user_community_group(self.user_id, self.community_id),
        ]
        for group in self.my_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        local_sockets.add(self)
        self.registered = True
        # (delivered at, message id): what this socket carried lately, in case
        # it turns out to have been dead already (see disconnect).
        self.recent: deque[tuple[float, int]] = deque(maxlen=500)
        await get_presence().opened(self.channel_name, self.user_id, self.community_id)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        """Leave the groups and the local registry."""
        if not getattr(self, "registered", False):
            return
        local_sockets.remove(self)
        for group in self.my_groups:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as error:
                logger.warning("group_discard failed: %r", error)
        presence = get_presence()
        await presence.closed(self.channel_name, self.user_id, self.community_id)
        await self.notify_if_missed(presence)

    async def notify_if_missed(self, presence: Presence) -> None:
        """The hard-disconnect race: a socket that died silently was still
        counted online when recent messages were committed. If the resident
        has no active socket left, those still unread are notified now."""
        horizon = time.monotonic() - settings.NOTIFY_DISCONNECT_GRACE_SECONDS
        message_ids = [mid for at, mid in self.recent if at >= horizon]
        if not message_ids or self.revoked:
            return
        try:
            states = await database_sync_to_async(presence.states)(
                [self.user_id], self.community_id
            )
        except PresenceUnavailable:
            states = {}
        if states.get(self.user_id) == ACTIVE:
            return
        try:
            await database_sync_to_async(notifications_schedule_missed)(
                user_id=self.user_id,
                community_id=self.community_id,
                message_ids=message_ids,
            )
        except Exception as error:
            logger.warning("could not schedule missed notifications: %r", error)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Handle one client frame; a mistake gets an error frame, not a close."""
        if self.revoked:
            return
        try:
            if text_data is None:
                raise BadRequest("Binary frames are not accepted; send JSON text.")
            command = protocol.parse_frame(
                text_data, max_bytes=settings.CHAT_MAX_FRAME_BYTES
            )
            await self.handle(command)
        except ChatError as error:
            await self.send_error(error.code, error.detail, error.client_id)
            if not self.error_bucket.allow(time.monotonic()):
                await self.close(code=CLOSE_ABUSE)
        except DatabaseError as error:
            logger.warning("database error on socket frame: %r", error)
            await self.send_error(
                "unavailable", "The service is briefly unavailable; retry.", None
            )
        except Exception:
            logger.exception("unexpected error on socket frame")
            await self.send_error("internal", "Something went wrong; retry.", None)

    async def handle(self, command: protocol.Command) -> None:
        match command:
            case protocol.SendMessage():
                await self.handle_send(command)
            case protocol.MarkRead():
                await database_sync_to_async(message_mark_read)(
                    user=self.user,
                    community=self.community,
                    conversation_id=command.conversation,
                    up_to=command.up_to,
                )
            case protocol.Typing():
                await self.handle_typing(command)
            case protocol.Sync():
                await self.handle_sync(command)
            case protocol.Presence():
                await get_presence().changed(
                    self.channel_name, self.user_id, self.community_id, command.state
                )
            case protocol.Ping():
                await self.send_json({"type": "pong"})

    async def handle_send(self, command: protocol.SendMessage) -> None:
        if not resident_limits.allow("send", self.user_id):
            raise RateLimited(
                "Too many messages; slow down.", client_id=command.client_id
            )
        try:
            result = await send_queue.submit(
                SendRequest(self.user, self.community, command, self.channel_name)
            )
        except ChatError as error:
            # Every error that answers a send names it, whichever check raised
            # it (the access check's NotFound knows nothing of client ids).
            if error.client_id is None:
                error.client_id = command.client_id
            raise
        except DatabaseError:
            logger.warning("message not stored: database unavailable")
            await self.send_error(
                "unavailable",
                "The message was not stored; retry with the same client_id.",
                command.client_id,
            )
            return
        message = result.message
        if result.created:
            fill = self.tracker.on_own_ack(
                message["conversation"], message["id"], result.previous_id
            )
            if fill is not None:
                await self.fill_gap(message["conversation"], fill)
            self.tracker.delivered(message["conversation"], message["id"])
        await self.send_json(
            {"type": "message.ack", "client_id": command.client_id, "message": message}
        )

    async def handle_typing(self, command: protocol.Typing) -> None:
        if not resident_limits.allow("typing", self.user_id):
            raise RateLimited("Too many typing frames.")
        participant_ids = self.participants_cache.get(command.conversation)
        if participant_ids is None:
            participant_ids = await database_sync_to_async(
                conversation_participant_ids
            )(
                user_id=self.user_id,
                conversation_id=command.conversation,
                community_id=self.community_id,
            )
            self.participants_cache[command.conversation] = participant_ids
        others = [uid for uid in participant_ids if uid != self.user_id]
        groups = [events.user_community_group(uid, self.community_id) for uid in others]
        try:
            await events.group_send_many(
                groups,
                {
                    "type": "typing",
                    "conversation": command.conversation,
                    "user": self.user.username,
                },
            )
        except Exception as error:
            logger.warning("typing fan-out failed: %r", error)

    async def handle_sync(self, command: protocol.Sync) -> None:
        messages, more = await database_sync_to_async(messages_after)(
            user_id=self.user_id,
            community_id=self.community_id,
            community_slug=self.community.slug,
            after=command.after,
        )
        await self.send_json({"type": "sync.batch", "messages": messages, "more": more})
        if not more:
            self.tracker.synced(messages[-1]["id"] if messages else command.after)

    async def fill_gap(self, conversation: int, fill: Fill) -> None:
        missing = await database_sync_to_async(messages_in_conversation_after)(
            conversation_id=conversation,
            community_slug=self.community.slug,
            after=fill.after,
            up_to=fill.up_to,
        )
        for message in missing:
            await self.deliver(message)

    # Channel layer events: one method per event type.

    async def message_new(self, event: dict[str, Any]) -> None:
        """Deliver a committed message, in conversation order, once."""
        if self.revoked or event.get("origin") == self.channel_name:
            return
        conversation = event["conversation"]
        decision = self.tracker.on_event(
            conversation, event["id"], event.get("previous_id", 0)
        )
        match decision:
            case Skip():
                return
            case Deliver():
                await self.deliver_frame(
                    event["frame"], conversation, event["id"], event["sender"]
                )
            case Fill():
                try:
                    await self.fill_gap(conversation, decision)
                except DatabaseError:
                    # Deliver what we have; the client's next sync fills the gap.
                    await self.deliver_frame(
                        event["frame"], conversation, event["id"], event["sender"]
                    )

    async def deliver(self, message: events.MessageObject) -> None:
        frame = json.dumps(
            {"type": "message.new", "message": message}, ensure_ascii=False
        )
        await self.deliver_frame(
            frame, message["conversation"], message["id"], message["sender"]
        )

    async def deliver_frame(
        self, frame: str, conversation: int, message_id: int, sender: str
    ) -> None:
        """Send a serialized message.new and remember what this socket holds."""
        await self.send(text_data=frame)
        self.tracker.delivered(conversation, message_id)
        if sender != self.user.username:
            self.recent.append((time.monotonic(), message_id))

    async def receipt(self, event: dict[str, Any]) -> None:
        """Someone read a conversation this resident takes part in."""
        if self.revoked:
            return
        await self.send_json(
            {
                "type": "receipt",
                "conversation": event["conversation"],
                "user": event["user"],
                "up_to": event["up_to"],
            }
        )

    async def typing(self, event: dict[str, Any]) -> None:
        """Another participant is typing."""
        if self.revoked:
            return
        await self.send_json(
            {
                "type": "typing",
                "conversation": event["conversation"],
                "user": event["user"],
            }
        )

    async def access_revoked(self, event: dict[str, Any]) -> None:
        """A logout or suspension: close if it covers this socket."""
        if revocation_covers(
            self,
            community_id=event.get("community_id"),
            session=event.get("session", ""),
            at=event["at"],
        ):
            await self.revoke()

    async def revoke(self) -> None:
        """Close with 4403 and send nothing more."""
        if self.revoked:
            return
        self.revoked = True
        await self.close(code=CLOSE_REVOKED)

    async def send_json(self, content: dict[str, Any]) -> None:
        # The client may have left while we answered (daphne raises
        # Disconnected, the ASGI spec an OSError). Escaping, that would kill
        # the consumer before disconnect() ran: the socket would stay in the
        # registry and count as present, silencing the resident's notifications.
        # Private API, pinned by tests/unit/test_library_internals.py.
        with contextlib.suppress(Disconnected, OSError):
            await self.send(text_data=json.dumps(content, ensure_ascii=False))

    async def send_error(self, code: str, detail: str, client_id: str | None) -> None:
        frame: dict[str, Any] = {"type": "error", "code": code, "detail": detail}
        if client_id is not None:
            frame["client_id"] = client_id
        await self.send_json(frame)


class RefusingConsumer(AsyncWebsocketConsumer):
    """Refuses every handshake: for paths that are not an endpoint."""

    async def connect(self) -> None:
        await self.close()
