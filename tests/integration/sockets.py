"""Browser tabs in process: the real ASGI application through Channels'
communicator (origin check, session auth, routing)."""

from __future__ import annotations

import json
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from chatsite.asgi import application
from conversations.models import User

ORIGIN = "http://127.0.0.1:8000"  # the test settings' SITE_URL


@database_sync_to_async
def session_of(user: User) -> str:
    """Log in as Django's login would and return the session cookie."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


class Socket:
    """One browser tab: a communicator with JSON helpers."""

    def __init__(self, communicator: WebsocketCommunicator) -> None:
        self.communicator = communicator

    async def send(self, frame: dict[str, Any]) -> None:
        await self.communicator.send_to(text_data=json.dumps(frame))

    async def receive(self, timeout: float = 2.0) -> dict[str, Any]:
        output = await self.communicator.receive_output(timeout)
        assert output["type"] == "websocket.send", output
        return json.loads(output["text"])

    async def nothing(self, timeout: float = 0.3) -> bool:
        return await self.communicator.receive_nothing(timeout)

    async def closed_with(self, timeout: float) -> tuple[int, list[dict[str, Any]]]:
        """Wait for the server to close; return the code and frames before it."""
        frames: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"not closed within {timeout} s; got {frames}"
            try:
                output = await self.communicator.receive_output(remaining)
            except TimeoutError:
                continue
            if output["type"] == "websocket.close":
                return output.get("code", 1000), frames
            frames.append(json.loads(output["text"]))

    async def ping(self) -> None:
        await self.send({"type": "ping"})
        assert await self.receive() == {"type": "pong"}


def communicator(
    *, cookie: str | None, slug: str = "bourg-centre", origin: str | None = ORIGIN
) -> WebsocketCommunicator:
    headers: list[tuple[bytes, bytes]] = []
    if cookie is not None:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, f"/ws/communities/{slug}/", headers)


async def refused(comm: WebsocketCommunicator) -> bool:
    try:
        connected, _ = await comm.connect(timeout=3)
    finally:
        await comm.disconnect()
    return not connected
