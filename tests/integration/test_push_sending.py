"""Sending one push to an endpoint a stranger chose (push.py `_send_one`
over safe_http): no redirect followed, the connection made to the address
that was checked (TLS still verified for the real name), one deadline for
the whole exchange.

Every server is real, on loopback. DNS and the public internet lie outside
the machine: a test that needs them replaces the resolver's answer, and the
route to one public address, and nothing else.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import trustme
import urllib3.util.connection

from conversations.models import PendingNotification, PushSubscription, User
from conversations.notifications import push, safe_http
from conversations.notifications.push import _send_one, vapid_keys
from tests.notifications.doubles import PushService, TrickleServer, browser_keys
from tests.support.servers import wait_until

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(120)]

NAME = "push.voisins-test.example"  # the push service's name in its endpoints
PUBLIC = "203.0.114.7"  # an address of the public internet (see `internet`)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
_, _, KEYS = browser_keys()  # for endpoints that never decrypt anything


@pytest.fixture
def notification(alice: User, bob: User, send: Callable[..., Any]) -> Any:
    send(alice, "Bonjour", to=["bob"])
    return PendingNotification.objects.select_related("message").get(recipient=bob)


@pytest.fixture(autouse=True)
def no_slow_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    """Endpoints that ran into the deadline rest per process: not from one
    test to the next."""
    monkeypatch.setattr(push, "_slow", push._SlowEndpoints())


@pytest.fixture
def private_allowed(settings: Any) -> None:
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = True
    settings.PUSH_TIMEOUT_SECONDS = 2


def subscription(user: User, info: dict[str, Any]) -> PushSubscription:
    return PushSubscription.objects.create(
        user=user,
        endpoint=info["endpoint"],
        p256dh=info["keys"]["p256dh"],
        auth=info["keys"]["auth"],
    )


def send_timed(
    user: User, info: dict[str, Any], notification: Any
) -> tuple[tuple[str, int], float]:
    started = time.monotonic()
    outcome = _send_one(subscription(user, info), "{}", notification)
    return outcome, time.monotonic() - started


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Trust the test CA instead of the public ones (the push services'
    certificates come from those)."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setattr(safe_http, "default_ca_bundle", lambda: str(bundle))


def tls_service(ca: trustme.CA, certified_name: str) -> PushService:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(certified_name).configure_cert(context)
    return PushService(name=NAME, tls=context).start()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """The resolver's answers for NAME, one per lookup (the last repeats);
    `lookups` in the same dict counts them. Other names resolve as usual."""
    answers: dict[str, list[str]] = {NAME: [], "lookups": []}
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != NAME:
            return resolve(host, port, *args, **kwargs)
        answers["lookups"].append(host)
        pending = answers[NAME]
        address = pending.pop(0) if len(pending) > 1 else pending[0]
        return resolve(address, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.fixture
def internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The route to PUBLIC leads to the push service on 127.0.0.1."""
    connect = urllib3.util.connection.create_connection

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
        host, port = address
        return connect(("127.0.0.1" if host == PUBLIC else host, port), *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)


def test_a_redirect_is_refused_and_not_followed(
    private_allowed: None, bob: User, notification: Any
) -> None:
    """A push endpoint answering 307 towards another address: the push is
    refused ("dropped"), not counted as sent, and the other address gets
    nothing, even with PUSH_ALLOW_PRIVATE_ENDPOINTS on."""
    inside = TrickleServer(head=OK, trickle=b"").start()
    service = PushService().start()
    try:
        service.redirect_to = f"http://127.0.0.1:{inside.port}/admin"
        name, info = service.subscribe("redirecting", server_key=vapid_keys()[1])
        service.script(name, [307])
        outcome, _ = send_timed(bob, info, notification)
        assert outcome == ("dropped", 0)
        assert [push.status for push in service.received(name)] == [307]
        assert inside.connections == []
    finally:
        service.stop()
        inside.stop()


def test_the_connection_goes_to_the_address_that_was_checked(
    settings: Any,
    bob: User,
    notification: Any,
    ca: trustme.CA,
    trusted: None,
    dns: dict[str, list[str]],
    internet: None,
) -> None:
    """DNS rebinding: the endpoint's name resolves to a public address for
    the check, to an internal one afterwards. The name is resolved once; the
    push goes to the checked address, over TLS verified for the name (SNI),
    with the name in Host (the push service checks the VAPID audience), and
    the internal address gets nothing."""
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False
    service = tls_service(ca, NAME)
    inside = TrickleServer(head=OK, trickle=b"", host="127.0.0.3", port=service.port)
    inside.start()
    dns[NAME].extend([PUBLIC, "127.0.0.3"])
    try:
        name, info = service.subscribe("rebound", server_key=vapid_keys()[1])
        outcome, _ = send_timed(bob, info, notification)
        assert outcome == ("ok", 0)
        (push,) = service.received(name, 201)
        assert push.headers["host"] == f"{NAME}:{service.port}"
        assert service.server_names == [NAME]
        assert dns["lookups"] == [NAME]
        assert inside.connections == []
    finally:
        service.stop()
        inside.stop()


def test_a_certificate_for_another_name_is_refused(
    settings: Any,
    bob: User,
    notification: Any,
    ca: trustme.CA,
    trusted: None,
    dns: dict[str, list[str]],
    internet: None,
) -> None:
    """Connecting to the pinned address still verifies the certificate
    against the endpoint's name: a certificate for another name fails the
    handshake, nothing is posted, and the push is tried again later."""
    settings.PUSH_ALLOW_PRIVATE_ENDPOINTS = False
    service = tls_service(ca, "other.example")
    dns[NAME].append(PUBLIC)
    try:
        name, info = service.subscribe("impostor", server_key=vapid_keys()[1])
        outcome, _ = send_timed(bob, info, notification)
        assert outcome == ("retry", 0)
        assert service.received(name) == []
    finally:
        service.stop()


def test_a_trickled_answer_is_cut_at_the_deadline(
    private_allowed: None, bob: User, notification: Any
) -> None:
    """An endpoint that sends its status line one byte every half second
    (each byte would reset a per-read timeout): the push gives up when
    PUSH_TIMEOUT_SECONDS (2 s) have passed since it began, closes the
    connection, and is tried again after a pause of 30 timeouts."""
    hostile = TrickleServer(every=0.5).start()
    try:
        outcome, elapsed = send_timed(
            bob,
            {"endpoint": f"http://127.0.0.1:{hostile.port}/push/x", "keys": KEYS},
            notification,
        )
        assert outcome == ("retry", 60)
        assert 2 <= elapsed < 4, elapsed
        wait_until(lambda: hostile.held(), timeout=10, what="the server to see us go")
        assert hostile.connections[0][2], "the client gave up before the last byte"
    finally:
        hostile.stop()


def test_a_body_that_never_ends_does_not_hold_the_push(
    private_allowed: None, bob: User, notification: Any
) -> None:
    """An endpoint that answers 201 at once, then trickles an endless body:
    the push counts as sent when the status has arrived (the body of a push
    service's answer is never read)."""
    hostile = TrickleServer(
        head=b"HTTP/1.1 201 Created\r\nContent-Length: 100000\r\n\r\n",
        trickle=b"x" * 100,
        every=0.5,
    ).start()
    try:
        outcome, elapsed = send_timed(
            bob,
            {"endpoint": f"http://127.0.0.1:{hostile.port}/push/x", "keys": KEYS},
            notification,
        )
        assert outcome == ("ok", 0)
        assert elapsed < 2, elapsed
    finally:
        hostile.stop()


def test_a_name_that_never_resolves_is_cut_at_the_deadline(
    private_allowed: None,
    bob: User,
    notification: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name server that never answers (getaddrinfo has no timeout of its
    own): the push gives up at the deadline and is tried again later."""
    released = threading.Event()
    resolve = socket.getaddrinfo

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == NAME:
            released.wait(30)
            raise socket.gaierror("no answer")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    try:
        outcome, elapsed = send_timed(
            bob, {"endpoint": f"http://{NAME}/push/x", "keys": KEYS}, notification
        )
    finally:
        released.set()
    assert outcome == ("retry", 60)
    assert elapsed < 4, elapsed


def test_an_endpoint_that_ran_into_the_deadline_rests(
    private_allowed: None, bob: User, notification: Any
) -> None:
    """After a push ran into the deadline, the next push to that endpoint is
    put off at once (retried after the rest) instead of holding a thread
    again: the endpoint sees one connection."""
    hostile = TrickleServer(every=0.5).start()
    try:
        endpoint = {"endpoint": f"http://127.0.0.1:{hostile.port}/push/x", "keys": KEYS}
        stored = subscription(bob, endpoint)
        assert _send_one(stored, "{}", notification) == ("retry", 60)
        started = time.monotonic()
        outcome, resting = _send_one(stored, "{}", notification)
        assert time.monotonic() - started < 0.5
        assert outcome == "retry"
        assert 50 < resting <= 60, resting
        assert len(hostile.connections) == 1
    finally:
        hostile.stop()
