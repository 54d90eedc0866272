"""The WebSocket Origin check compares scheme, host and port exactly."""

from __future__ import annotations

from typing import Any

import pytest

from chatsite.origins import OriginValidator, allowed_origins, parse_origin

SITE = "http://127.0.0.1:8000"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://127.0.0.1:8000", ("http", "127.0.0.1", 8000)),
        ("https://Chat.Example.org", ("https", "chat.example.org", 443)),
        ("https://chat.example.org:443", ("https", "chat.example.org", 443)),
        ("http://chat.example.org/", ("http", "chat.example.org", 80)),
        ("null", None),
        ("", None),
        ("chat.example.org", None),
        ("ftp://chat.example.org", None),
        ("https://chat.example.org/path", None),
        ("https://user@chat.example.org", None),
        ("https://chat.example.org:99999", None),
        ("https://chat.example.org:port", None),
    ],
)
def test_parse_origin(value: str, expected: object) -> None:
    """Only scheme://host[:port] over http(s) is an origin; the default port
    is made explicit so that https://h and https://h:443 are one origin."""
    assert parse_origin(value) == expected


def test_allowed_origins_are_the_site_and_the_listed_ones() -> None:
    """SITE_URL's origin (its path ignored) plus each ALLOWED_ORIGINS entry."""
    assert allowed_origins(
        "https://chat.example.org/app", ["http://localhost:3000"]
    ) == {
        ("https", "chat.example.org", 443),
        ("http", "localhost", 3000),
    }


@pytest.mark.parametrize("entry", ["*", "chat.example.org", "https://x.org/path"])
def test_wildcard_or_malformed_entries_are_refused(entry: str) -> None:
    """`*` and anything that is not an origin raise at start-up."""
    with pytest.raises(ValueError, match="ALLOWED_ORIGINS"):
        allowed_origins(SITE, [entry])


class App:
    """The application behind the validator: records that it was reached."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.called = True


async def handshake(origins: list[bytes]) -> tuple[bool, list[dict[str, Any]]]:
    app = App()
    validator = OriginValidator(app, allowed_origins(SITE, []))
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "websocket", "headers": [(b"origin", o) for o in origins]}
    await validator(scope, receive, send)
    return app.called, sent


@pytest.mark.parametrize(
    "origins",
    [
        [b"http://127.0.0.1:9999"],
        [b"https://127.0.0.1:8000"],
        [b"http://localhost:8000"],
        [b"null"],
        [],
        [b"http://127.0.0.1:8000", b"http://evil.example"],
    ],
)
async def test_other_origins_are_closed_before_accept(origins: list[bytes]) -> None:
    """Another port or scheme, another name, null, none or two Origin headers:
    closed before accept (HTTP 403), and the application never runs."""
    called, sent = await handshake(origins)
    assert not called
    assert sent == [{"type": "websocket.close"}]


async def test_the_site_origin_reaches_the_application() -> None:
    """The site's own origin passes through untouched."""
    called, sent = await handshake([b"http://127.0.0.1:8000"])
    assert called
    assert sent == []
