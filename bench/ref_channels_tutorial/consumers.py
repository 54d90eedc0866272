"""The tutorial's consumer, answering the benchmark's subset of the contract.

The resident is named in the query string (`/ws/chat/?user=<name>`) instead of
a session cookie: the tutorial peer has no accounts.
"""

from __future__ import annotations

import json
from datetime import UTC
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from .models import ChatMessage


class ChatConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        """Join the resident's own group."""
        query = parse_qs(self.scope["query_string"].decode())
        self.user = query.get("user", [""])[0]
        if not self.user:
            await self.close()
            return
        self.group = f"user_{self.user}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        """Leave the group."""
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """Save the message, ack it, then group_send it to each participant."""
        try:
            data = json.loads(text_data or "")
            if data.get("type") != "message.send":
                raise ValueError
            to = sorted(set(data["to"]))
            body, client_id = str(data["body"]), str(data["client_id"])
        except (ValueError, KeyError, TypeError, AttributeError):
            await self.send(
                text_data=json.dumps(
                    {"type": "error", "code": "bad_request", "detail": "bad frame"}
                )
            )
            return
        message = await self.save_message(to, body, client_id)
        await self.send(
            text_data=json.dumps(
                {"type": "message.ack", "client_id": client_id, "message": message}
            )
        )
        event = {"type": "message.new", "message": message, "origin": self.channel_name}
        for name in [self.user, *to]:
            await self.channel_layer.group_send(f"user_{name}", event)

    @database_sync_to_async
    def save_message(self, to: list[str], body: str, client_id: str) -> dict[str, Any]:
        row = ChatMessage.objects.create(
            sender=self.user, recipients=",".join(to), client_id=client_id, body=body
        )
        sent_at = row.sent_at.astimezone(UTC)
        return {
            "id": row.pk,
            "conversation": 0,
            "community": "bench",
            "sender": self.user,
            "participants": sorted({self.user, *to}),
            "body": body,
            "sent_at": sent_at.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{sent_at.microsecond // 1000:03d}Z",
            "client_id": client_id,
        }

    async def message_new(self, event: dict[str, Any]) -> None:
        """Deliver a message to this socket, unless this socket sent it."""
        if event.get("origin") == self.channel_name:
            return
        await self.send(
            text_data=json.dumps({"type": "message.new", "message": event["message"]})
        )
