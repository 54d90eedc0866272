"""The bare relay: a `websockets` server with no database, routing in memory.

The practical ceiling for one Python process here. It speaks the benchmark's
subset of the contract: `message.send` with `to` is acked and delivered as
`message.new` to every socket of each recipient (the sending socket
excluded). Residents say who they are in the query string: `/?user=<name>`
(no authentication: this measures routing, not security). GET /healthz
answers 200.

    python bench/ref_relay.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
from collections import defaultdict
from datetime import UTC, datetime
from http import HTTPStatus
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

COMMUNITY = "bench"


class Relay:
    def __init__(self) -> None:
        self.sockets: dict[str, set[ServerConnection]] = defaultdict(set)
        self.ids = itertools.count(1)

    async def handler(self, websocket: ServerConnection) -> None:
        """Register the resident's socket, relay its sends, unregister on close."""
        assert websocket.request is not None
        query = parse_qs(urlsplit(websocket.request.path).query)
        user = query.get("user", [""])[0]
        if not user:
            await websocket.close(4403)
            return
        self.sockets[user].add(websocket)
        try:
            async for raw in websocket:
                self.receive(user, websocket, raw)
        finally:
            self.sockets[user].discard(websocket)
            if not self.sockets[user]:
                del self.sockets[user]

    def receive(self, user: str, websocket: ServerConnection, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
            if frame.get("type") != "message.send":
                raise ValueError
            to = sorted(set(frame["to"]))
            client_id = str(frame["client_id"])
            body = str(frame["body"])
        except (ValueError, KeyError, TypeError, AttributeError):
            error = {"type": "error", "code": "bad_request", "detail": "bad frame"}
            broadcast([websocket], json.dumps(error))
            return
        now = datetime.now(UTC)
        message = {
            "id": next(self.ids),
            "conversation": 0,
            "community": COMMUNITY,
            "sender": user,
            "participants": sorted({user, *to}),
            "body": body,
            "sent_at": now.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{now.microsecond // 1000:03d}Z",
            "client_id": client_id,
        }
        ack = {"type": "message.ack", "client_id": client_id, "message": message}
        broadcast([websocket], json.dumps(ack, ensure_ascii=False))
        new = json.dumps(
            {"type": "message.new", "message": message}, ensure_ascii=False
        )
        targets = [
            sock
            for name in (user, *to)
            for sock in self.sockets.get(name, ())
            if sock is not websocket
        ]
        broadcast(targets, new)


def health(connection: ServerConnection, request: Request) -> Response | None:
    if request.path == "/healthz":
        return Response(HTTPStatus.OK, "OK", Headers(), b"ok\n")
    return None


async def main(host: str, port: int) -> None:
    relay = Relay()
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with serve(
        relay.handler,
        host,
        port,
        process_request=health,
        compression=None,
        max_size=2**20,
        ping_interval=None,
    ):
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="bare websockets relay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(main(args.host, args.port))
