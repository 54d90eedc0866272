"""The WebSocket Origin check: exact origins, scheme, host and port.

A browser sends the page's origin with every handshake; a page elsewhere
(another port of the same host, plain http of an https site, a sandboxed
frame's "null") must not ride on the resident's session cookie. Channels'
AllowedHostsOriginValidator compares host names only, so it accepted
http://127.0.0.1:9999 for a site at http://127.0.0.1:8000.

No Django import here: the settings parse ALLOWED_ORIGINS with these
functions at start-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int]  # scheme, host (lower case), port


def origin_of_url(url: str) -> Origin | None:
    """The origin of an http(s) URL (its path is ignored), or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def parse_origin(value: str) -> Origin | None:
    """An Origin header or an ALLOWED_ORIGINS entry: scheme://host[:port] and
    nothing else. "null", a bare host or anything with a path is None."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    return origin_of_url(value)


def allowed_origins(site_url: str, extra: Iterable[str]) -> frozenset[Origin]:
    """The origin of SITE_URL and each entry of ALLOWED_ORIGINS.

    Raises ValueError for "*" or an entry that is not an origin, so that a
    typo stops the server at start-up instead of refusing every socket.
    """
    origins: set[Origin] = set()
    site = origin_of_url(site_url)
    if site is None:
        raise ValueError(f"SITE_URL is not an http(s) URL: {site_url!r}")
    origins.add(site)
    for entry in extra:
        if entry == "*":
            raise ValueError("ALLOWED_ORIGINS must list origins; '*' is refused.")
        parsed = parse_origin(entry)
        if parsed is None:
            raise ValueError(
                f"ALLOWED_ORIGINS entry {entry!r} is not scheme://host[:port]."
            )
        origins.add(parsed)
    return frozenset(origins)


class OriginValidator:
    """ASGI middleware: a WebSocket handshake whose Origin is not one of
    `allowed` (or that has none, or several) is closed before it is
    accepted, which daphne answers with HTTP 403."""

    def __init__(self, application: Any, allowed: frozenset[Origin]) -> None:
        self.application = application
        self.allowed = allowed

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and not self.accepts(scope):
            await receive()  # websocket.connect
            await send({"type": "websocket.close"})
            return
        await self.application(scope, receive, send)

    def accepts(self, scope: dict[str, Any]) -> bool:
        values = [
            value for name, value in scope.get("headers", ()) if name == b"origin"
        ]
        if len(values) != 1:
            return False
        return parse_origin(values[0].decode("latin-1")) in self.allowed
