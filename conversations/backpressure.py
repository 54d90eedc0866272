"""What waits for a client that stopped reading, per socket.

daphne hands every frame to Twisted, which keeps whatever the kernel will not
take in the connection's write buffer, without bound: a client that stops
reading (or asks for megabytes with a few `sync` frames and never reads them)
grows the server's memory. Twisted's own flow control tells a registered
streaming producer to pause when that buffer holds more than its
`bufferSize` (64 KiB) and to resume once it drains; `OutboundBudget` is such a
producer and counts the bytes handed over while paused. Past the budget the
consumer stops sending and closes the socket with 4408.

The connection is found through daphne's `send` callable (a partial of its
server's `handle_reply` with the protocol, behind Channels' session
wrapper): private API of daphne and Channels, pinned by
tests/integration/test_library_internals.py. Where it cannot be found (the
in-process test communicator) there is no budget.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from typing import Any

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

logger = logging.getLogger(__name__)


def daphne_protocol(send: Any) -> Any | None:
    """The daphne WebSocket protocol behind a consumer's `base_send`."""
    for _ in range(4):
        if isinstance(send, functools.partial):
            for argument in send.args:
                if hasattr(argument, "transport") and hasattr(argument, "sendClose"):
                    return argument
            send = send.func
        elif hasattr(send, "__self__") and hasattr(send.__self__, "real_send"):
            send = send.__self__.real_send  # channels.sessions' wrapper
        else:
            return None
    return None


@implementer(IPushProducer)
class _Producer:
    """Twisted's pause/resume, turned into a count of bytes waiting.

    The connection already has a producer: twisted.web's HTTPChannel, which
    answered the upgrade request and pauses reading while its transport is
    full. It keeps getting every call."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.paused = False
        self.waiting = 0

    def pauseProducing(self) -> None:  # noqa: N802 (Twisted's interface)
        # Twisted says so again at every write while its buffer is full:
        # count from the first time only.
        if not self.paused:
            self.paused = True
            self.waiting = 0
        if self.inner is not None:
            self.inner.pauseProducing()

    def resumeProducing(self) -> None:  # noqa: N802
        self.paused = False
        self.waiting = 0
        if self.inner is not None:
            self.inner.resumeProducing()

    def stopProducing(self) -> None:  # noqa: N802
        self.paused = False
        if self.inner is not None:
            self.inner.stopProducing()


class OutboundBudget:
    """About `limit` bytes may wait for one client; then it is over."""

    def __init__(self, protocol: Any, limit: int) -> None:
        self.protocol = protocol
        self.limit = limit
        transport = protocol.transport
        inner = transport.producer
        if inner is not None:
            if not getattr(transport, "streamingProducer", True):
                raise ValueError("the connection has a pull producer")
            transport.unregisterProducer()
        self._producer = _Producer(inner)
        transport.registerProducer(self._producer, True)

    @classmethod
    def attach(cls, send: Any, limit: int) -> OutboundBudget | None:
        protocol = daphne_protocol(send)
        if getattr(protocol, "transport", None) is None:
            return None
        try:
            return cls(protocol, limit)
        except (ValueError, RuntimeError, AttributeError) as error:
            logger.warning("no outbound budget for this socket: %r", error)
            return None

    def spend(self, text: str) -> bool:
        """Count a frame handed to the connection; True once over budget.
        (Encoded only while the client lags: the usual case costs nothing.)"""
        if self._producer.paused:
            self._producer.waiting += len(text.encode("utf-8", "surrogatepass"))
        return self._producer.waiting > self.limit

    def give_close_time(self, seconds: float) -> None:
        """Let the client read what waits, then the close frame, for this
        long before the connection is dropped (autobahn's default is 1 s,
        after which a slow reader would see 1006 instead of our code)."""
        self.protocol.closeHandshakeTimeout = seconds


def release_freed_memory() -> None:
    """Ask glibc to give freed heap back to the system (a slow reader's
    megabyte of buffers is freed in many pieces that malloc would keep)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return
    try:
        ctypes.CDLL(name).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        return
