"""Clients that speak the wire contract: HTTP with a session, and the socket.

These use only what a browser or a script outside the project has: the login
form, cookies, the JSON API and `/ws/communities/<slug>/`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import requests
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .servers import PASSWORD

SENT_AT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
MESSAGE_FIELDS = {
    "id",
    "conversation",
    "community",
    "sender",
    "participants",
    "body",
    "sent_at",
    "client_id",
    "rev",
    "edited_at",
    "deleted",
    "attachments",
}


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def login(base_url: str, username: str, password: str = PASSWORD) -> dict[str, str]:
    """Log in through Django's form; return the cookies (sessionid, csrftoken)."""
    http = requests.Session()
    http.trust_env = False
    page = http.get(f"{base_url}/accounts/login/", timeout=10)
    assert page.status_code == 200, page.status_code
    answer = http.post(
        f"{base_url}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": http.cookies["csrftoken"],
        },
        headers={"Referer": f"{base_url}/accounts/login/"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, f"login of {username}: {answer.status_code}"
    cookies = http.cookies.get_dict()
    assert "sessionid" in cookies, cookies
    return cookies


class HttpClient:
    """The JSON API with one resident's session (CSRF header on writes)."""

    def __init__(self, base_url: str, cookies: dict[str, str]) -> None:
        self.base_url = base_url
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.cookies.update(cookies)

    @property
    def cookies(self) -> dict[str, str]:
        return self.http.cookies.get_dict()

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.http.get(f"{self.base_url}{path}", params=params, timeout=20)

    def write(self, method: str, path: str, body: Any = None) -> requests.Response:
        """POST, PATCH or DELETE with a JSON body and the CSRF token."""
        return self.http.request(
            method,
            f"{self.base_url}{path}",
            data=None if body is None else json.dumps(body),
            headers={
                "Content-Type": "application/json",
                "X-CSRFToken": self.http.cookies.get("csrftoken", ""),
                "Referer": f"{self.base_url}/",
            },
            allow_redirects=False,
            timeout=20,
        )

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.write("POST", path, body)

    def delete(self, path: str, body: Any = None) -> requests.Response:
        return self.write("DELETE", path, body)

    def logout(self) -> requests.Response:
        """POST /accounts/logout/ with the CSRF token, as the page's form does."""
        return self.http.post(
            f"{self.base_url}/accounts/logout/",
            data={"csrfmiddlewaretoken": self.http.cookies.get("csrftoken", "")},
            headers={"Referer": f"{self.base_url}/"},
            allow_redirects=False,
            timeout=20,
        )

    def conversations(self, slug: str) -> list[dict[str, Any]]:
        answer = self.get(f"/api/communities/{slug}/conversations/")
        assert answer.status_code == 200, (answer.status_code, answer.text)
        result: list[dict[str, Any]] = answer.json()
        return result

    def history(self, conversation: int) -> list[dict[str, Any]]:
        """Every message of a conversation, walking pages of 200 newest first."""
        messages: list[dict[str, Any]] = []
        before: int | None = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if before is not None:
                params["before"] = before
            answer = self.get(f"/api/conversations/{conversation}/messages/", **params)
            assert answer.status_code == 200, (answer.status_code, answer.text)
            page = answer.json()
            messages.extend(page)
            if len(page) < 200:
                return messages
            before = page[-1]["id"]


async def handshake_status(url: str, headers: dict[str, str]) -> int:
    """The HTTP status of a WebSocket handshake (101 when it is accepted)."""
    try:
        ws = await connect(url, additional_headers=headers, proxy=None, open_timeout=10)
    except InvalidStatus as error:
        return int(error.response.status_code)
    await ws.close()
    return 101


@dataclass
class ChatSocket:
    """One tab's socket: every frame is recorded and queued for reading."""

    ws: ClientConnection
    label: str = ""
    frames: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    _queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    _reader: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                self.frames.append(frame)
                await self._queue.put(frame)
        except ConnectionClosed:
            pass
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.wait_closed(), 10)
            received = self.ws.protocol.close_rcvd
            self.close_code = received.code if received is not None else 1006
            await self._queue.put(None)

    @property
    def closed(self) -> bool:
        return self._reader is not None and self._reader.done()

    async def send_json(self, frame: Any) -> None:
        await self.ws.send(json.dumps(frame, ensure_ascii=False))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv_json(self, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame; fails on timeout or when the socket closed."""
        try:
            frame = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.label}: no frame within {timeout} s") from None
        if frame is None:
            await self._queue.put(None)
            raise AssertionError(f"{self.label}: closed with code {self.close_code}")
        return frame

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame, which must be of type `kind`."""
        frame = await self.recv_json(timeout)
        assert frame["type"] == kind, f"{self.label}: expected {kind}, got {frame}"
        return frame

    async def next_of(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame of type `kind`, passing over others (still recorded)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            frame = await self.recv_json(max(0.01, deadline - loop.time()))
            if frame["type"] == kind:
                return frame

    async def assert_silent(self, seconds: float = 0.5) -> None:
        """No frame arrives within `seconds` (nor is one already waiting)."""
        await asyncio.sleep(seconds)
        pending = []
        while not self._queue.empty():
            frame = self._queue.get_nowait()
            if frame is None:
                await self._queue.put(None)
                break
            pending.append(frame)
        assert not pending, f"{self.label}: unexpected frames {pending}"

    def drain(self) -> list[dict[str, Any]]:
        """Frames already received and not yet read."""
        pending = []
        while not self._queue.empty():
            frame = self._queue.get_nowait()
            if frame is None:
                self._queue.put_nowait(None)
                break
            pending.append(frame)
        return pending

    async def send_message(
        self,
        *,
        client_id: str,
        body: str,
        to: list[str] | None = None,
        conversation: int | None = None,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """message.send, then the next frame (the ack or an error)."""
        frame: dict[str, Any] = {
            "type": "message.send",
            "client_id": client_id,
            "body": body,
        }
        if to is not None:
            frame["to"] = to
        if conversation is not None:
            frame["conversation"] = conversation
        await self.send_json(frame)
        return await self.recv_json(timeout)

    async def sync_all(
        self, after: int = 0, timeout: float = 10.0
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """`sync` until `more` is false: (messages, batches).

        Other frames arriving meanwhile are passed over (and recorded).
        """
        messages: list[dict[str, Any]] = []
        batches: list[dict[str, Any]] = []
        while True:
            await self.send_json({"type": "sync", "after": after})
            batch = await self.next_of("sync.batch", timeout)
            batches.append(batch)
            messages.extend(batch["messages"])
            if not batch["more"]:
                return messages, batches
            assert batch["messages"], f"{self.label}: more=true with no messages"
            after = batch["messages"][-1]["id"]

    async def ping(self, timeout: float = 5.0) -> None:
        await self.send_json({"type": "ping"})
        await self.next_of("pong", timeout)

    async def wait_closed(self, timeout: float) -> int:
        """Wait for the server to close; return the close code."""
        assert self._reader is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.label}: still open after {timeout} s"
            ) from None
        assert self.close_code is not None
        return self.close_code

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


async def open_socket(
    url: str,
    cookies: dict[str, str] | None,
    *,
    origin: str | None,
    label: str = "",
) -> ChatSocket:
    """Open a socket with the session cookie and an Origin header, as a tab does."""
    headers: dict[str, str] = {}
    if cookies:
        headers["Cookie"] = cookie_header(cookies)
    if origin is not None:
        headers["Origin"] = origin
    ws = await connect(
        url,
        additional_headers=headers,
        proxy=None,
        compression=None,
        open_timeout=10,
        max_size=4 * 1024 * 1024,
    )
    return ChatSocket(ws, label=label or url)


def assert_message_object(message: dict[str, Any]) -> None:
    """The contract's message object: exactly its fields, well-formed."""
    assert set(message) == MESSAGE_FIELDS, sorted(message)
    assert isinstance(message["id"], int)
    assert not isinstance(message["id"], bool)
    assert isinstance(message["conversation"], int)
    assert message["participants"] == sorted(message["participants"])
    assert message["sender"] in message["participants"]
    assert SENT_AT.match(message["sent_at"]), message["sent_at"]
    assert isinstance(message["rev"], int)
    assert message["rev"] >= message["id"]
    assert message["edited_at"] is None or SENT_AT.match(message["edited_at"])
    assert isinstance(message["deleted"], bool)
    assert isinstance(message["attachments"], list)
