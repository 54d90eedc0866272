"""A socket's live events, handed over by this process's router
(router.py): in order, once, with gaps filled from the database; one method
per event type. Mixed into CommunityConsumer (consumers.py), which owns the
socket's state and its one way out, `send_frame`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from django.db import DatabaseError

from . import metrics
from .delivery import Carried, Deliver, DeliveryTracker, Fill, Skip
from .models import Community, User
from .selectors.messages import messages_in_conversation_after
from .wire import frames
from .wire.schema import MessageObject

logger = logging.getLogger(__name__)


class LiveEvents:
    """Live delivery of one socket (set up by the consumer's `connect`)."""

    user: User
    community: Community
    channel_name: str
    tracker: DeliveryTracker
    carried: Carried
    # Held while the socket is busy with what it knows (an ack filling a
    # gap, a sync); live events wait in the backlog meanwhile.
    ordered: asyncio.Lock
    # Events waiting while an earlier one fetches a gap from the database:
    # a socket's events are handled one after the other, in order.
    backlog: deque[dict[str, Any]] | None = None

    if TYPE_CHECKING:

        async def dispatch(self, message: dict[str, Any]) -> None: ...
        async def send_frame(self, text: str) -> None: ...
        async def send_json(self, content: Any) -> None: ...

    async def fill_gap(self, conversation: int, fill: Fill) -> None:
        missing = await database_sync_to_async(messages_in_conversation_after)(
            conversation_id=conversation,
            community_slug=self.community.slug,
            after=fill.after,
            up_to=fill.up_to,
        )
        for message in missing:
            await self.deliver(message)

    # Layer events, handed over by this process's router: one method per
    # event type.

    async def routed(self, event: dict[str, Any]) -> None:
        """An event for this socket, in order. Handled at once, unless the
        socket is busy with what it knows (an ack filling a gap, a sync:
        `ordered` is held) or the event itself needs the database (a gap to
        fill): then it queues, and later events behind it, for `_drain`."""
        if self.backlog is not None:
            self.backlog.append(event)
            return
        if self.ordered.locked() or (
            event.get("type") == "message.new" and self._needs_fill(event)
        ):
            self.backlog = deque([event])
            asyncio.get_running_loop().create_task(self._drain())
            return
        await self.dispatch(event)

    def _needs_fill(self, event: dict[str, Any]) -> bool:
        return isinstance(
            self.tracker.on_event(
                event["conversation"], event["id"], event["previous_id"]
            ),
            Fill,
        )

    async def _drain(self) -> None:
        """Handle the queued events one by one, then go back to inline."""
        async with self.ordered:
            try:
                while self.backlog:
                    await self.dispatch(self.backlog.popleft())
            except Exception:
                logger.exception("socket event failed")
            finally:
                self.backlog = None

    async def message_new(self, event: dict[str, Any]) -> None:
        """Deliver a committed message, in conversation order, once."""
        if event.get("origin") == self.channel_name:
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
                if "at" in event:
                    metrics.SEND_TO_DELIVERY.observe(time.time() - event["at"])
            case Fill():
                try:
                    await self.fill_gap(conversation, decision)
                except DatabaseError:
                    # Deliver what we have; the client's next sync fills the gap.
                    await self.deliver_frame(
                        event["frame"], conversation, event["id"], event["sender"]
                    )

    async def message_updated(self, event: dict[str, Any]) -> None:
        """A message was edited or deleted: its new state, to every tab."""
        await self.send_frame(event["frame"])

    async def receipt(self, event: dict[str, Any]) -> None:
        """Someone read a conversation this resident takes part in."""
        await self.send_json(
            frames.receipt_frame(event["conversation"], event["user"], event["up_to"])
        )

    async def typing(self, event: dict[str, Any]) -> None:
        """Another participant is typing."""
        await self.send_json(frames.typing_frame(event["conversation"], event["user"]))

    async def deliver(self, message: MessageObject) -> None:
        await self.deliver_frame(
            frames.message_new_frame(message),
            message["conversation"],
            message["id"],
            message["sender"],
        )

    async def deliver_frame(
        self, frame: str, conversation: int, message_id: int, sender: str
    ) -> None:
        """Send a serialized message.new and remember what this socket holds."""
        await self.send_frame(frame)
        self.tracker.delivered(conversation, message_id)
        if sender != self.user.username:
            self.carried.add(time.monotonic(), message_id)
