"""The wire contract from a client's side, for every client the repository runs:
the end-to-end tests (through `client.ChatSocket`), the reliability load
(tests/reliability/load.py) and the benchmark's load generator (bench/).

This module says how the contract is spoken: the handshake, the frames a client
sends, one reader per socket that hands each frame to its owner, and `sync`
paging. What a client does with the frames (a test's queue, a tab's accounting,
the benchmark's latencies) stays with that client.

The benchmark pushes thousands of frames a second through here: the reader
does one `json.loads` and one call per frame, and nothing is queued or spawned
per frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl as ssl_module
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Frame = dict[str, Any]

# Bodies go out as UTF-8, as a browser's JSON.stringify sends them. One encoder
# for the process: json.dumps with options would build a new one per frame.
_encode = json.JSONEncoder(ensure_ascii=False).encode


# The handshake


def tab_headers(
    cookies: Mapping[str, str] | None, origin: str | None
) -> dict[str, str]:
    """What a browser tab's handshake carries: its session cookie and Origin."""
    headers: dict[str, str] = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    if origin is not None:
        headers["Origin"] = origin
    return headers


def as_user(url: str, username: str) -> str:
    """The benchmark's reference peers have no sessions: the resident is named
    in the query string instead."""
    return f"{url}?{urlencode({'user': username})}"


async def connect_socket(
    url: str,
    headers: Mapping[str, str] | None = None,
    *,
    open_timeout: float = 10.0,
    ping_interval: float | None = 20.0,
    max_size: int = 4 * 2**20,
    max_queue: int | None = 16,
    ssl: ssl_module.SSLContext | None = None,
) -> ClientConnection:
    """Open a socket; `InvalidStatus` when the server refuses the handshake.

    No proxy: every server is on loopback or on the cluster test's own
    network. No compression: daphne does not negotiate it, and the reference
    peers are measured without it too. `ssl`: the context that trusts a
    `wss://` server's test certificate authority.
    """
    tls = {} if ssl is None else {"ssl": ssl}
    return await connect(
        url,
        additional_headers=headers,
        proxy=None,
        compression=None,
        open_timeout=open_timeout,
        ping_interval=ping_interval,
        max_size=max_size,
        max_queue=max_queue,
        **tls,
    )


# Frames a client sends


def send_frame(
    client_id: str,
    body: str,
    *,
    to: Sequence[str] | None = None,
    conversation: int | None = None,
) -> Frame:
    """`message.send`. The contract wants exactly one of `to` and
    `conversation`: a test sends both to see the server refuse it."""
    frame: Frame = {"type": "message.send", "client_id": client_id, "body": body}
    if to is not None:
        frame["to"] = list(to)
    if conversation is not None:
        frame["conversation"] = conversation
    return frame


def sync_frame(after: int) -> Frame:
    return {"type": "sync", "after": after}


def ping_frame() -> Frame:
    return {"type": "ping"}


def read_frame(conversation: int, up_to: int) -> Frame:
    return {"type": "message.read", "conversation": conversation, "up_to": up_to}


def typing_frame(conversation: int) -> Frame:
    return {"type": "typing", "conversation": conversation}


def presence_frame(state: str) -> Frame:
    return {"type": "presence", "state": state}


# A socket


class FrameSocket:
    """One open socket. Its reader task hands each frame, decoded, to
    `on_frame` in arrival order, then calls `on_close` with the close code."""

    def __init__(
        self,
        ws: ClientConnection,
        on_frame: Callable[[Frame], object],
        on_close: Callable[[int], object] | None = None,
    ) -> None:
        self.ws = ws
        self.close_code: int | None = None
        self._on_frame = on_frame
        self._on_close = on_close
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        on_frame = self._on_frame
        try:
            async for raw in self.ws:
                on_frame(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            # The server's close code is known once the closing handshake ends.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.wait_closed(), 10)
            received = self.ws.protocol.close_rcvd
            self.close_code = received.code if received is not None else 1006
            if self._on_close is not None:
                self._on_close(self.close_code)

    @property
    def closed(self) -> bool:
        return self.reader.done()

    async def send_json(self, frame: Frame) -> None:
        await self.ws.send(_encode(frame))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def wait_closed(self, timeout: float | None = None) -> int:
        """Wait until either side closed the socket; the close code.
        `TimeoutError` when it is still open after `timeout` seconds."""
        await asyncio.wait_for(asyncio.shield(self.reader), timeout)
        assert self.close_code is not None
        return self.close_code

    async def close(self) -> None:
        """Close (nothing to do when already closed); wait for the reader."""
        with contextlib.suppress(Exception):
            await self.ws.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.reader, 5)


async def sync_pages(
    request: Callable[[Frame], Awaitable[Frame]], after: int = 0
) -> AsyncIterator[Frame]:
    """Each `sync.batch` from `after` on, until one says `more: false`.

    `request` sends a frame and returns the `sync.batch` answering it: how it
    finds that batch among the other frames depends on who reads the socket.
    """
    while True:
        batch = await request(sync_frame(after))
        yield batch
        if not batch["more"]:
            return
        assert batch["messages"], f"more=true with no messages: {batch}"
        after = batch["messages"][-1]["id"]
