"""Test clients of the wire contract: HTTP with a session, and a tab's socket
whose frames a test reads one by one (the socket itself is `protocol`'s).

These use only what a browser or a script outside the project has: the login
form, cookies, the JSON API and `/ws/communities/<slug>/`.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import requests
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import InvalidStatus

from .protocol import (
    Frame,
    FrameSocket,
    connect_socket,
    ping_frame,
    presence_frame,
    read_frame,
    send_frame,
    sync_pages,
    tab_headers,
    typing_frame,
)
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


def login(
    base_url: str,
    username: str,
    password: str = PASSWORD,
    *,
    verify: bool | str = True,
) -> dict[str, str]:
    """Log in through Django's form; return the cookies (sessionid, csrftoken).
    `verify`: the CA bundle of an https site's test certificate."""
    http = requests.Session()
    http.trust_env = False
    http.verify = verify
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
        ws = await connect_socket(url, headers)
    except InvalidStatus as error:
        return int(error.response.status_code)
    await ws.close()
    return 101


class ChatSocket(FrameSocket):
    """One tab's socket: every frame is recorded and queued for reading."""

    def __init__(self, ws: ClientConnection, label: str = "") -> None:
        self.label = label
        self.frames: list[Frame] = []
        self._queue: asyncio.Queue[Frame | None] = asyncio.Queue()
        super().__init__(ws, self._received, self._ended)

    def _received(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._queue.put_nowait(frame)

    def _ended(self, close_code: int) -> None:
        self._queue.put_nowait(None)

    async def recv_json(self, timeout: float = 5.0) -> Frame:
        """The next frame; fails on timeout or when the socket closed."""
        try:
            frame = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.label}: no frame within {timeout} s") from None
        if frame is None:
            await self._queue.put(None)
            raise AssertionError(f"{self.label}: closed with code {self.close_code}")
        return frame

    async def expect(self, kind: str, timeout: float = 5.0) -> Frame:
        """The next frame, which must be of type `kind`."""
        frame = await self.recv_json(timeout)
        assert frame["type"] == kind, f"{self.label}: expected {kind}, got {frame}"
        return frame

    async def next_of(self, kind: str, timeout: float = 5.0) -> Frame:
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
        pending = self.drain()
        assert not pending, f"{self.label}: unexpected frames {pending}"

    def drain(self) -> list[Frame]:
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
    ) -> Frame:
        """message.send, then the next frame (the ack or an error)."""
        await self.send_json(
            send_frame(client_id, body, to=to, conversation=conversation)
        )
        return await self.recv_json(timeout)

    async def sync_all(
        self, after: int = 0, timeout: float = 10.0
    ) -> tuple[list[Frame], list[Frame]]:
        """`sync` until `more` is false: (messages, batches).

        Other frames arriving meanwhile are passed over (and recorded).
        """

        async def request(frame: Frame) -> Frame:
            await self.send_json(frame)
            return await self.next_of("sync.batch", timeout)

        batches = [batch async for batch in sync_pages(request, after)]
        return [m for batch in batches for m in batch["messages"]], batches

    async def ping(self, timeout: float = 5.0) -> None:
        await self.send_json(ping_frame())
        await self.next_of("pong", timeout)

    async def mark_read(self, conversation: int, up_to: int) -> None:
        await self.send_json(read_frame(conversation, up_to))

    async def typing(self, conversation: int) -> None:
        await self.send_json(typing_frame(conversation))

    async def presence(self, state: str) -> None:
        await self.send_json(presence_frame(state))

    async def wait_closed(self, timeout: float | None = None) -> int:
        """Wait for the server to close; return the close code."""
        try:
            return await super().wait_closed(timeout)
        except TimeoutError:
            raise AssertionError(
                f"{self.label}: still open after {timeout} s"
            ) from None


async def open_socket(
    url: str,
    cookies: dict[str, str] | None,
    *,
    origin: str | None,
    label: str = "",
) -> ChatSocket:
    """Open a socket with the session cookie and an Origin header, as a tab does."""
    ws = await connect_socket(url, tab_headers(cookies, origin))
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
