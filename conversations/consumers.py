"""The WebSocket endpoint: thin. Parse a frame, call one service, reply.

Hooks (`connect`, `receive`, `disconnect`) and one method per client
command (`on_<command>`); the methods of the layer events (`message_new`,
`receipt`, ...) are in consumer_events.py. Every frame to the client goes
through `send_frame`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from typing import Any

from autobahn.exception import Disconnected
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from . import events, metrics, protocol
from .backpressure import OutboundBudget, release_freed_memory
from .consumer_events import LiveEvents
from .delivery import Carried, DeliveryTracker
from .errors import BadRequest, ChatError, RateLimited
from .limits import resident_limits
from .models import Community, User
from .notifications.outbox import outbox_add_missed
from .presence import get_presence, read_snapshot_async
from .ratelimit import TokenBucket
from .router import Routed
from .selectors.access import membership_get_active
from .selectors.messages import sync_page
from .send_queue import send_queue
from .services.access import session_hash
from .services.editing import message_delete, message_edit
from .services.messages import message_mark_read
from .services.send import SendRequest
from .services.typing import typing_recipients
from .sockets import local_sockets, now_timestamp, revocation_covers, router
from .wire import frames

logger = logging.getLogger(__name__)

CLOSE_REVOKED = 4403
CLOSE_ABUSE = 4429
CLOSE_SLOW_READER = 4408


class CommunityConsumer(LiveEvents, AsyncWebsocketConsumer):
    """One resident's socket in one community (one browser tab)."""

    # No layer channel of its own: this process's router (router.py)
    # receives every event once and calls `routed` on the sockets it is for.
    channel_layer_alias = "none"

    user: User
    community: Community
    revoked = False
    registered = False
    budget: OutboundBudget | None = None
    overflowed = False

    # Private API, pinned by tests/integration/test_library_internals.py.
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

    # Hooks

    async def connect(self) -> None:
        """Accept only an active member, on a session, from an allowed Origin."""
        self.connected_at = now_timestamp()
        self.channel_name = f"socket.{uuid.uuid4().hex}"
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        if not await resident_limits.allow_async("connect", user.pk) or (
            len(local_sockets.of_user(user.pk))
            >= settings.CHAT_MAX_SOCKETS_PER_RESIDENT
        ):
            await self.close()
            return
        membership = await database_sync_to_async(membership_get_active)(
            user_id=user.pk, community_slug=self.scope["url_route"]["kwargs"]["slug"]
        )
        if membership is None:
            await self.close()
            return
        self.user, self.user_id = user, user.pk
        self.community, self.community_id = (
            membership.community,
            membership.community_id,
        )
        self.session_hash = session_hash(self.scope["session"].session_key or "")
        self.tracker = DeliveryTracker()
        # Held while the socket acts on what it knows it delivered (an ack
        # filling a gap, a sync); live events wait in the backlog meanwhile.
        self.ordered = asyncio.Lock()
        self.carried = Carried()
        self.error_bucket = TokenBucket(*settings.CHAT_ERROR_RATE)
        await router.start()
        local_sockets.add(self)
        self.registered = True
        metrics.SOCKETS_OPEN.inc()
        await get_presence().opened(self.channel_name, self.user_id, self.community_id)
        await self.accept()
        self.budget = OutboundBudget.attach(
            self.base_send, settings.CHAT_OUTBOUND_BUDGET_BYTES
        )
        self._expire_with_session()

    def _expire_with_session(self) -> None:
        """Close with 4403 when the session behind this socket expires."""
        expiry = self.scope["session"].get_expiry_date()
        delay = (expiry - timezone.now()).total_seconds()
        self.expiry = asyncio.get_running_loop().call_later(
            max(delay, 0), lambda: asyncio.ensure_future(self.revoke())
        )

    async def disconnect(self, code: int) -> None:
        """Leave the groups and the registry; owe what a dead socket carried."""
        if self.overflowed:
            release_freed_memory()
        if not self.registered:
            return
        self.expiry.cancel()
        metrics.SOCKETS_OPEN.dec()
        local_sockets.remove(self)
        await get_presence().closed(self.channel_name, self.user_id, self.community_id)
        horizon = time.monotonic() - settings.NOTIFY_DISCONNECT_GRACE_SECONDS
        carried = self.carried.since(horizon)
        if carried and not self.revoked:
            try:
                snapshot = await read_snapshot_async([self.community_id])
                await database_sync_to_async(outbox_add_missed)(
                    user_id=self.user_id,
                    community_id=self.community_id,
                    message_ids=carried,
                    presence=snapshot.get(self.community_id, {}).get(self.user_id),
                )
            except Exception as error:
                logger.warning("could not schedule missed notifications: %r", error)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Handle one client frame; a mistake gets an error frame, not a close."""
        if self.revoked or self.overflowed:
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
                metrics.SOCKETS_CLOSED.labels(str(CLOSE_ABUSE)).inc()
                await self.close(code=CLOSE_ABUSE)
        except DatabaseError as error:
            logger.warning("database error on socket frame: %r", error)
            await self.send_error(
                "unavailable", "The service is briefly unavailable; retry.", None
            )
        except Exception:
            logger.exception("unexpected error on socket frame")
            await self.send_error("internal", "Something went wrong; retry.", None)

    # Client commands: one method each.

    async def handle(self, command: protocol.Command) -> None:
        match command:
            case protocol.SendMessage():
                await self.on_send(command)
            case protocol.EditMessage():
                await self.on_edit(command)
            case protocol.DeleteMessage():
                await self.on_delete(command)
            case protocol.MarkRead():
                await database_sync_to_async(message_mark_read)(
                    user=self.user,
                    community=self.community,
                    conversation_id=command.conversation,
                    up_to=command.up_to,
                )
            case protocol.Typing():
                await self.on_typing(command)
            case protocol.Sync():
                await self.on_sync(command)
            case protocol.Presence():
                await get_presence().changed(
                    self.channel_name, self.user_id, self.community_id, command.state
                )
            case protocol.Ping():
                await self.send_frame(frames.PONG)

    async def on_send(self, command: protocol.SendMessage) -> None:
        """Store the message (group commit), then ack this socket."""
        started = time.monotonic()
        if not await resident_limits.allow_async("send", self.user_id):
            metrics.SENDS.labels("refused").inc()
            raise RateLimited(
                "Too many messages; slow down.", client_id=command.client_id
            )
        request = SendRequest.of(
            self.user,
            self.community,
            client_id=command.client_id,
            body=command.body,
            to=command.to,
            conversation_id=command.conversation,
            attachment_ids=command.attachments,
            separate=command.separate,
        )
        try:
            result = await send_queue.submit(request, origin=self.channel_name)
        except ChatError as error:
            metrics.SENDS.labels("refused").inc()
            # Every error that answers a send names it.
            error.client_id = error.client_id or command.client_id
            raise
        except DatabaseError:
            metrics.SENDS.labels("unavailable").inc()
            logger.warning("message not stored: database unavailable")
            await self.send_error(
                "unavailable",
                "The message was not stored; retry with the same client_id.",
                command.client_id,
            )
            return
        async with self.ordered:
            if result.created:
                for message, previous_id in zip(
                    result.messages, result.previous_ids, strict=True
                ):
                    conversation = message["conversation"]
                    fill = self.tracker.on_own_ack(
                        conversation, message["id"], previous_id
                    )
                    if fill is not None:
                        await self.fill_gap(conversation, fill)
                    self.tracker.delivered(conversation, message["id"])
            await self.send_json(frames.ack_frame(command.client_id, result.messages))
        metrics.SENDS.labels("stored" if result.created else "resend").inc()
        metrics.ACKS.inc()
        metrics.SEND_TO_ACK.observe(time.monotonic() - started)

    async def on_typing(self, command: protocol.Typing) -> None:
        """Tell the other participants who may hear of it."""
        if not await resident_limits.allow_async("typing", self.user_id):
            raise RateLimited("Too many typing frames.")
        recipients = await database_sync_to_async(typing_recipients)(
            user_id=self.user_id,
            community_id=self.community_id,
            conversation_id=command.conversation,
        )
        typing = {
            "type": "typing",
            "conversation": command.conversation,
            "user": self.user.username,
        }
        await events.fan_out([Routed(tuple(recipients), self.community_id, typing)])

    async def on_sync(self, command: protocol.Sync) -> None:
        """Replay what was missed after `after` (and `since_rev`), one batch."""
        if not await resident_limits.allow_async("sync", self.user_id):
            raise RateLimited("Too many sync requests; slow down.")
        async with self.ordered:
            page = await database_sync_to_async(sync_page)(
                user_id=self.user_id,
                community_id=self.community_id,
                community_slug=self.community.slug,
                after=command.after,
                since_rev=command.since_rev,
            )
            await self.send_json(
                frames.sync_batch_frame(page.messages, page.more, page.changed)
            )
            if not page.more:
                self.tracker.synced(
                    page.messages[-1]["id"] if page.messages else command.after
                )

    async def on_edit(self, command: protocol.EditMessage) -> None:
        """Change one's message; every tab learns it through message.updated."""
        await database_sync_to_async(message_edit)(
            user=self.user,
            community=self.community,
            message_id=command.id,
            body=command.body,
        )

    async def on_delete(self, command: protocol.DeleteMessage) -> None:
        """Delete one's message for everyone (message.updated to every tab)."""
        await database_sync_to_async(message_delete)(
            user=self.user, community=self.community, message_id=command.id
        )

    async def access_revoked(self, event: dict[str, Any]) -> None:
        """A logout or suspension: close if it covers this socket."""
        if revocation_covers(
            self,
            community_id=event.get("community_id"),
            session=event.get("session", ""),
            keep=event.get("keep", ""),
            at=event["at"],
        ):
            await self.revoke()

    async def revoke(self) -> None:
        """Close with 4403 and send nothing more."""
        if self.revoked:
            return
        self.revoked = True
        metrics.SOCKETS_CLOSED.labels(str(CLOSE_REVOKED)).inc()
        await self.close(code=CLOSE_REVOKED)

    # Output: every frame goes through send_frame.

    async def send_json(self, content: Any) -> None:
        await self.send_frame(frames.dumps(content))

    async def send_error(self, code: str, detail: str, client_id: str | None) -> None:
        await self.send_json(frames.error_frame(code, detail, client_id))

    async def send_frame(self, text: str) -> None:
        """The one way out: nothing after a revocation, and no crash when the
        client already left (daphne raises Disconnected, the ASGI spec an
        OSError). Escaping, that would kill the consumer before disconnect()
        ran: the socket would stay registered and count as present,
        silencing the resident's notifications."""
        if self.revoked or self.overflowed:
            return
        if self.budget is not None and self.budget.spend(text):
            await self.overflow()
            return
        # Private API (autobahn's Disconnected), pinned by
        # tests/integration/test_library_internals.py.
        with contextlib.suppress(Disconnected, OSError):
            await self.send(text_data=text)

    async def overflow(self) -> None:
        """The client stopped reading: send nothing more, close with 4408,
        and give it time to read what waits before the connection drops."""
        self.overflowed = True
        logger.warning("socket of user %s closed: client not reading", self.user_id)
        metrics.SOCKETS_CLOSED.labels(str(CLOSE_SLOW_READER)).inc()
        if self.budget is not None:
            self.budget.give_close_time(settings.CHAT_SLOW_CLOSE_SECONDS)
        await self.close(code=CLOSE_SLOW_READER)


class RefusingConsumer(AsyncWebsocketConsumer):
    """Refuses every handshake: for paths that are not an endpoint."""

    async def connect(self) -> None:
        await self.close()
