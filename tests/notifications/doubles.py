"""Real stand-ins for the outside world of notifications, on 127.0.0.1.

An SMTP server (aiosmtpd) that records what it accepted and can be told to
refuse or to hold its answer; a TCP listener that accepts and never speaks;
a Web Push service that checks the VAPID signature and decrypts the body as
a browser's push service and browser would; and `manage.py notify_worker` as
a process that a test can stop or kill.
"""

from __future__ import annotations

import asyncio
import base64
import email
import itertools
import json
import logging
import os
import secrets
import select
import signal
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece
from aiosmtpd.controller import Controller
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.support.servers import HOST, PYTHON, REPO_ROOT, free_port, wait_until

# SMTP

logging.getLogger("mail.log").setLevel(logging.WARNING)  # one line per command


@dataclass(frozen=True)
class Mail:
    """One email the SMTP server accepted (answered 250 to DATA)."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    received_at: float  # time.monotonic()

    def part(self, content_type: str) -> str:
        body = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert body is not None, f"no {content_type} part"
        assert body.get_content_type() == content_type
        return str(body.get_content())


class _SmtpHandler:
    """aiosmtpd hooks; they run in the controller's thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepted: list[Mail] = []
        self.refused = 0
        self.data_started = 0
        self.data_peers: list[str] = []  # client address of each DATA, in order
        self.refusal: tuple[str, str] | None = None  # (stage, reply)
        self.data_delay = 0.0

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refusal is not None and self.refusal[0] == "RCPT":
            with self.lock:
                self.refused += 1
            return self.refusal[1]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        with self.lock:
            self.data_started += 1
            self.data_peers.append(str(session.peer[0]))
        if self.refusal is not None and self.refusal[0] == "DATA":
            with self.lock:
                self.refused += 1
            return self.refusal[1]
        started = time.monotonic()
        # Polled, so that a test can cut a long delay short.
        while time.monotonic() - started < self.data_delay:
            await asyncio.sleep(0.05)
        if server.transport is None or server.transport.is_closing():
            return "421 4.4.2 The client went away"  # never answered: not accepted
        message = email.message_from_bytes(
            envelope.original_content, policy=policy.default
        )
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.accepted.append(
                Mail(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    message,
                    time.monotonic(),
                )
            )
        return "250 2.0.0 Accepted"


class SmtpServer:
    """A controllable SMTP server: accepts by default, can refuse or stall."""

    def __init__(self, port: int | None = None, host: str = HOST) -> None:
        # aiosmtpd's Controller cannot take port 0: its start-up self-check
        # connects to the configured port, 0, instead of the one bound.
        self.host = host
        self.port = port or free_port()
        self.handler = _SmtpHandler()
        self.controller = Controller(
            self.handler, hostname=host, port=self.port, ready_timeout=10
        )

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def refuse(self, reply: str | None, *, at: str = "RCPT") -> None:
        """Answer every RCPT (or DATA) with `reply` (e.g. a 451); None: accept."""
        self.handler.refusal = None if reply is None else (at, reply)

    def delay_data(self, seconds: float) -> None:
        """Hold the answer to DATA this long (0: answer at once)."""
        self.handler.data_delay = seconds

    @property
    def refused(self) -> int:
        return self.handler.refused

    @property
    def data_started(self) -> int:
        return self.handler.data_started

    def data_from(self, address: str) -> int:
        """How many DATA commands came from a client at `address`."""
        with self.handler.lock:
            return self.handler.data_peers.count(address)

    def mails(self, address: str | None = None) -> list[Mail]:
        with self.handler.lock:
            mails = list(self.handler.accepted)
        if address is None:
            return mails
        return [m for m in mails if address in m.rcpt_tos]

    def wait_for(self, address: str, count: int = 1, timeout: float = 20) -> list[Mail]:
        """Wait until `address` got at least `count` emails; return them all."""
        wait_until(
            lambda: len(self.mails(address)) >= count,
            timeout=timeout,
            what=f"{count} email(s) to {address}",
        )
        return self.mails(address)


class SilentServer:
    """Accepts TCP connections and never sends a byte (a hung SMTP server)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.accepted = 0
        self.closed_by_peer = 0
        self._listener: socket.socket | None = None
        self._acceptor: threading.Thread | None = None
        self._connections: list[socket.socket] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def start(self) -> SilentServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((HOST, self.port))
        listener.listen(16)
        listener.settimeout(0.1)
        self._listener = listener
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()
        return self

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._connections.append(connection)
            threading.Thread(target=self._hold, args=(connection,), daemon=True).start()

    def _hold(self, connection: socket.socket) -> None:
        """Read and ignore until the client gives up."""
        try:
            while connection.recv(4096):
                pass
        except OSError:
            return
        with self._lock:
            self.closed_by_peer += 1

    def stop(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            # The port is free only once the accepting thread let go of it.
            if self._acceptor is not None:
                self._acceptor.join(timeout=5)
            self._listener.close()
        with self._lock:
            for connection in self._connections:
                connection.close()


class TrickleServer:
    """A hostile HTTP server: reads the request, answers `head` at once, then
    one byte of `trickle` every `every` seconds, then closes. Each byte
    resets a per-read timeout, so only a deadline on the whole exchange cuts
    it short. Records when each connection began and ended, and whether the
    client gave up before the last byte."""

    def __init__(
        self,
        *,
        head: bytes = b"",
        trickle: bytes = b"HTTP/1.1 201 Created\r\n\r\n",
        every: float = 2.0,
        host: str = HOST,
        port: int = 0,
    ) -> None:
        self.head, self.trickle, self.every = head, trickle, every
        self.listener = socket.create_server((host, port))
        self.port = int(self.listener.getsockname()[1])
        self.lock = threading.Lock()
        self.connections: list[tuple[float, float | None, bool]] = []
        self._stopping = threading.Event()

    def start(self) -> TrickleServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            serve = threading.Thread(target=self._serve, args=(connection,))
            serve.daemon = True
            serve.start()

    def _serve(self, connection: socket.socket) -> None:
        with self.lock:
            index = len(self.connections)
            self.connections.append((time.monotonic(), None, False))
        given_up = False
        with connection:
            connection.recv(65536)
            try:
                connection.sendall(self.head)
                for byte in self.trickle:
                    # Waiting for the next byte's time, and noticing at once
                    # a client that closed the connection.
                    readable, _, _ = select.select([connection], [], [], self.every)
                    if readable and not connection.recv(65536):
                        given_up = True
                        break
                    if self._stopping.is_set():
                        break
                    connection.sendall(bytes([byte]))
            except OSError:
                given_up = True
        with self.lock:
            began = self.connections[index][0]
            self.connections[index] = (began, time.monotonic(), given_up)

    def held(self) -> list[float]:
        """Seconds each finished connection lasted."""
        with self.lock:
            return [end - began for began, end, _ in self.connections if end]


# Web Push


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def browser_keys() -> tuple[ec.EllipticCurvePrivateKey, bytes, dict[str, str]]:
    """What a browser makes for a subscription: a P-256 key pair and a
    16-byte auth secret; (private key, auth, the JSON `keys`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    auth = secrets.token_bytes(16)
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return key, auth, {"p256dh": b64url(public), "auth": b64url(auth)}


@dataclass
class Push:
    """One request the push service received, checked and decrypted."""

    endpoint: str  # the subscription's name
    status: int  # what the push service answered
    received_at: float  # time.monotonic()
    headers: dict[str, str]
    body_size: int
    vapid_error: str | None  # None: the JWT is valid for the subscription
    claims: dict[str, Any]
    payload: dict[str, Any] | None  # the decrypted JSON
    decrypt_error: str | None


@dataclass
class _Subscription:
    name: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    server_key: str | None  # the applicationServerKey it was made with
    script: list[int] = field(default_factory=list)


class PushService:
    """A local push service: POST /push/<name> with an encrypted body.

    It refuses as a real one does (RFC 8030, 8291, 8292): 401 for a missing
    or invalid VAPID JWT (signature by the `k=` key, `aud` this service's
    origin, `exp` in the future and at most 24 h away), 403 when `k=` is not
    the key the subscription was made with, 400 when the aes128gcm body does
    not decrypt. So every push a test sees answered 201 was signed and
    encrypted right.
    """

    _names = itertools.count(1)

    def __init__(self, *, name: str = HOST, tls: ssl.SSLContext | None = None) -> None:
        """`name`: the host name in its endpoints; `tls`: serve https with
        this server context (the names clients ask for, SNI, are recorded)."""
        self.port = free_port()
        self.name = name
        self.scheme = "https" if tls else "http"
        self.pushes: list[Push] = []
        self.server_names: list[str | None] = []
        self.redirect_to = ""  # the Location of scripted 3xx answers
        self._subscriptions: dict[str, _Subscription] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((HOST, self.port), self._handler_class())
        self._httpd.daemon_threads = True
        if tls is not None:
            tls.sni_callback = lambda _sock, server_name, _ctx: (
                self.server_names.append(server_name)
            )
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.name}:{self.port}"

    def start(self) -> PushService:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def subscribe(
        self, label: str = "browser", *, server_key: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A new browser subscription for a site whose VAPID public key is
        `server_key` (None: any signing key): (name, the PushSubscription JSON)."""
        name = f"{label}-{next(self._names)}-{secrets.token_hex(4)}"
        key, auth, keys = browser_keys()
        with self._lock:
            self._subscriptions[name] = _Subscription(name, key, auth, server_key)
        return name, {"endpoint": f"{self.origin}/push/{name}", "keys": keys}

    def script(self, name: str, statuses: list[int]) -> None:
        """Answer the next valid requests for `name` with these statuses
        (a 3xx with `Location: redirect_to`), then 201."""
        with self._lock:
            self._subscriptions[name].script.extend(statuses)

    def received(self, name: str, status: int | None = None) -> list[Push]:
        with self._lock:
            pushes = [p for p in self.pushes if p.endpoint == name]
        return [p for p in pushes if status is None or p.status == status]

    def wait_for(
        self, name: str, count: int = 1, *, status: int = 201, timeout: float = 30
    ) -> list[Push]:
        try:
            wait_until(
                lambda: len(self.received(name, status)) >= count,
                timeout=timeout,
                what=f"{count} push(es) answered {status} for {name}",
            )
        except TimeoutError as error:
            seen = [
                (p.status, p.vapid_error, p.decrypt_error) for p in self.received(name)
            ]
            raise TimeoutError(f"{error}; received: {seen}") from None
        return self.received(name, status)

    def _handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        name = path.rsplit("/", 1)[-1]
        with self._lock:
            subscription = self._subscriptions.get(name)
        if subscription is None:
            return 404
        refusal, vapid_error, claims = self._check_vapid(headers, subscription)
        payload, decrypt_error = None, None
        try:
            plain = http_ece.decrypt(
                body,
                private_key=subscription.private_key,
                auth_secret=subscription.auth,
                version="aes128gcm",
            )
            payload = json.loads(plain)
        except Exception as error:
            decrypt_error = repr(error)
        with self._lock:
            if refusal is not None:
                status = refusal
            elif decrypt_error is not None:
                status = 400
            else:
                status = subscription.script.pop(0) if subscription.script else 201
            self.pushes.append(
                Push(
                    endpoint=name,
                    status=status,
                    received_at=time.monotonic(),
                    headers=headers,
                    body_size=len(body),
                    vapid_error=vapid_error,
                    claims=claims,
                    payload=payload,
                    decrypt_error=decrypt_error,
                )
            )
        return status

    def _check_vapid(
        self, headers: dict[str, str], subscription: _Subscription
    ) -> tuple[int | None, str | None, dict[str, Any]]:
        """RFC 8292 `vapid t=<JWT>, k=<key>` (or the draft's `WebPush <JWT>`
        with `Crypto-Key: p256ecdsa=<key>`): (refusal status, why, claims)."""
        scheme, _, params = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "vapid":
            fields = dict(
                item.strip().split("=", 1) for item in params.split(",") if "=" in item
            )
            token, key = fields.get("t", ""), fields.get("k", "")
        elif scheme.lower() == "webpush":
            token, key = params.strip(), ""
            for item in headers.get("crypto-key", "").replace(",", ";").split(";"):
                if item.strip().startswith("p256ecdsa="):
                    key = item.strip().removeprefix("p256ecdsa=")
        else:
            return 401, f"scheme {scheme!r} is neither vapid nor WebPush", {}
        try:
            claims = _verified_claims(token, key)
        except (ValueError, InvalidSignature) as error:
            return 401, f"bad JWT or key: {error!r}", {}
        if claims.get("aud") != self.origin:
            return 401, f"aud {claims.get('aud')!r}", claims
        if not time.time() < claims.get("exp", 0) <= time.time() + 86_400:
            return 401, f"exp {claims.get('exp')!r}", claims
        if subscription.server_key is not None and key != subscription.server_key:
            return 403, f"k={key!r} is not the subscription's key", claims
        return None, None, claims

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = service._handle(self.path, headers, body)
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "1")
                if 300 <= status < 400:
                    self.send_header("Location", service.redirect_to)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _verified_claims(token: str, key: str) -> dict[str, Any]:
    """The claims of an ES256 JWT signed by the P-256 public key `key`
    (base64url, uncompressed point); ValueError or InvalidSignature else."""
    header, claims_part, signature = token.split(".")
    raw = b64url_decode(signature)
    if len(raw) != 64:
        raise ValueError(f"a {len(raw)}-byte signature, not 64")
    public = ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), b64url_decode(key)
    )
    public.verify(
        encode_dss_signature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        ),
        f"{header}.{claims_part}".encode(),
        ec.ECDSA(hashes.SHA256()),
    )
    if json.loads(b64url_decode(header)).get("alg") != "ES256":
        raise ValueError("alg is not ES256")
    claims: dict[str, Any] = json.loads(b64url_decode(claims_part))
    return claims


# The worker


class WorkerProcess:
    """`manage.py notify_worker` of a site, logging to a file."""

    def __init__(self, *, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [PYTHON, "manage.py", "notify_worker", "--interval", "0.2"],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until(
            lambda: "started" in self.log() or not self.alive,
            timeout=30,
            what="the notification worker to start",
        )
        assert self.alive, self.log()
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, a task it was running stays RUNNING."""
        if self.alive:
            assert self.process is not None
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM: the current task finishes, then the worker exits."""
        if self.alive:
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""
