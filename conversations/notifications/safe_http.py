"""POST to a URL a stranger chose (a browser's push endpoint) without letting
that stranger aim the server at its own network (SSRF) or hold a worker.

- The host name is resolved once, every address is checked, and the
  connection goes to a checked address: DNS cannot answer a public address
  to the check and a private one to the connection (rebinding). TLS still
  sends the host name (SNI) and verifies the certificate against it, and
  `Host` carries it.
- Redirects are never followed: a 3xx is the answer.
- One deadline covers the whole exchange, name lookup to last byte. A socket
  timeout bounds each read, so a peer sending one byte now and then never
  hits it; here a watchdog shuts the socket down when the deadline passes.
- The answer's body is never read: a push needs the status and headers only.

`guarded_session` is a `requests.Session` doing all that, for pywebpush's
`requests_session`; `endpoint_addresses` is the check alone.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.certs import where as default_ca_bundle
from requests.structures import CaseInsensitiveDict
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import HTTPError, NewConnectionError
from urllib3.util import Timeout

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

_BLOCKED_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: IPv4 in the low bits
# IPv6 forms that reach IPv4 or other networks in ways a check cannot follow:
# IPv4-compatible (deprecated, ::a.b.c.d), NAT64 with an operator's own
# prefix (RFC 8215), Teredo (the client address is obfuscated).
_REFUSED_V6 = tuple(
    ipaddress.ip_network(network)
    for network in ("::/96", "64:ff9b:1::/48", "2001::/32")
)


class EndpointRefused(requests.RequestException):
    """The URL or one of its addresses may not be used."""


def is_public(address: Address) -> bool:
    """A unicast address on the public internet. IPv6 forms that embed an
    IPv4 address (mapped, 6to4, NAT64) are judged by the IPv4 address they
    lead to, as the network would route them."""
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _REFUSED_V6):
            return False
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def url_refusal(url: str, *, allow_private: bool) -> str | None:
    """Why the URL itself may not be used (None: its addresses decide)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return "The endpoint is not a valid URL."
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        return "The endpoint must use https."
    host = parts.hostname
    if not host or parts.username or parts.password:
        return "The endpoint must name a host and carry no credentials."
    if not allow_private and (host == "localhost" or host.endswith(_BLOCKED_SUFFIXES)):
        return "The endpoint must be on a public address."
    return None


def endpoint_addresses(
    url: str, *, allow_private: bool, timeout: float
) -> list[Address]:
    """The addresses to connect to for `url`, all checked; EndpointRefused
    if the URL, or any address its host resolves to, may not be used."""
    refusal = url_refusal(url, allow_private=allow_private)
    if refusal is not None:
        raise EndpointRefused(refusal)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(parts.hostname or "", port, timeout=timeout)
    if not addresses:
        raise EndpointRefused("The endpoint's host does not resolve.")
    if not allow_private and not all(is_public(address) for address in addresses):
        raise EndpointRefused("The endpoint must be on a public address.")
    return addresses


def resolve(host: str, port: int, *, timeout: float) -> list[Address]:
    """The host's addresses, in the system resolver's order. getaddrinfo has
    no timeout of its own (a hostile name server can stall it), so it runs in
    a thread that is left behind, to finish by the resolver's own limits."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    found: list[Any] = []

    def lookup() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as error:
            found.append(error)

    thread = threading.Thread(target=lookup, name="resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if not found:
        raise requests.Timeout(f"The host did not resolve within {timeout:g} s.")
    if isinstance(found[0], OSError):
        raise EndpointRefused("The endpoint's host does not resolve.")
    addresses: list[Address] = []
    for info in found[0]:
        address = ipaddress.ip_address(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class Deadline:
    """A time limit for one exchange, enforced by shutting the watched
    sockets down when it passes: a read blocked on them then ends at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._twins: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def passed(self) -> bool:
        return self.expired or time.monotonic() >= self._ends

    def remaining(self) -> float:
        left = self._ends - time.monotonic()
        if left <= 0:
            raise requests.Timeout(f"No answer within {self.seconds:g} s.")
        return left

    def watch(self, sock: socket.socket) -> None:
        # A second descriptor of the same socket: shutdown() acts on the
        # socket itself, so it also ends reads through the TLS wrapper that
        # later takes over (and detaches) the original socket object.
        twin = sock.dup()
        with self._lock:
            self._twins.append(twin)
            expired = self.expired
        if expired:
            _shut(twin)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            twins = list(self._twins)
        for twin in twins:
            _shut(twin)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            for twin in self._twins:
                twin.close()
            self._twins.clear()


def _shut(sock: socket.socket) -> None:
    # OSError: already closed by its owner, or never connected.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _WatchedHTTPConnection(HTTPConnection):
    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def _new_conn(self) -> socket.socket:
        # Pinned by tests/integration/test_library_internals.py.
        sock = super()._new_conn()
        self.deadline.watch(sock)
        return sock


class _WatchedHTTPSConnection(HTTPSConnection):
    def __init__(self, *args: Any, deadline: Deadline, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        self.deadline.watch(sock)
        return sock


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


class PinnedAdapter(BaseAdapter):
    """Sends one request to a checked address of its host, within the
    `timeout` requests passes (the whole exchange), never redirected."""

    def __init__(self, *, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        if not isinstance(timeout, int | float):
            raise ValueError("A total timeout in seconds is required.")
        deadline = Deadline(timeout)
        try:
            return self._send(request, deadline, verify)
        except requests.RequestException:
            raise
        except (OSError, HTTPError) as error:
            if deadline.passed():
                raise requests.Timeout(f"No answer within {timeout:g} s.") from error
            raise requests.ConnectionError(error, request=request) from error
        finally:
            deadline.close()

    def close(self) -> None:
        """Nothing is kept between requests."""

    def _send(
        self, request: requests.PreparedRequest, deadline: Deadline, verify: bool | str
    ) -> requests.Response:
        url = str(request.url)
        addresses = endpoint_addresses(
            url, allow_private=self.allow_private, timeout=deadline.remaining()
        )
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        headers = {
            name: value.decode("latin-1") if isinstance(value, bytes) else value
            for name, value in request.headers.items()
        }
        headers["Host"] = parts.netloc
        body = request.body
        if not isinstance(body, bytes | str | None):
            raise TypeError("Only a body given whole can be sent.")
        refused: Exception = EndpointRefused("The endpoint's host has no address.")
        for address in addresses:
            pool = self._pool(parts, address, deadline, verify)
            try:
                answer = pool.urlopen(
                    str(request.method),
                    target,
                    body=body,
                    headers=headers,
                    redirect=False,
                    retries=False,
                    assert_same_host=False,
                    preload_content=False,
                    timeout=Timeout(
                        connect=deadline.remaining(), read=deadline.remaining()
                    ),
                )
                answer.close()  # the body is not read: nor is the connection kept
            except NewConnectionError as error:
                refused = error  # nothing was sent: the next address may answer
                continue
            finally:
                pool.close()
            return _response(request, answer.status, answer.reason, answer.headers)
        raise refused

    @staticmethod
    def _pool(
        parts: Any, address: Address, deadline: Deadline, verify: bool | str
    ) -> HTTPConnectionPool:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if parts.scheme == "http":
            return _WatchedHTTPPool(str(address), port, maxsize=1, deadline=deadline)
        return _WatchedHTTPSPool(
            str(address),
            port,
            maxsize=1,
            deadline=deadline,
            server_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            # A CA bundle path (tests); otherwise requests' own (certifi).
            ca_certs=verify if isinstance(verify, str) else default_ca_bundle(),
        )


def _response(
    request: requests.PreparedRequest, status: int, reason: str | None, headers: Any
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = reason or ""
    response.headers = CaseInsensitiveDict(headers)
    response.url = str(request.url)
    response.request = request
    response.raw = io.BytesIO()  # the body, never read
    return response


class _GuardedSession(requests.Session):
    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs["allow_redirects"] = False
        return super().request(method, url, *args, **kwargs)


def guarded_session(*, allow_private: bool) -> requests.Session:
    """A session whose every request goes through PinnedAdapter; give each
    request a `timeout` in seconds: the whole exchange's deadline."""
    session = _GuardedSession()
    # No proxy or .netrc from the environment: the checked address is where
    # the request goes, and nobody else's credentials go with it.
    session.trust_env = False
    adapter = PinnedAdapter(allow_private=allow_private)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
