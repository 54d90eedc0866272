"""The SMTP or LMTP server of `manage.py inbound_mail` (aiosmtpd).

One recipient per transaction: RCPT answers 550 at once for an address that
is not ours or whose token no longer works, and 452 to a second recipient
(the client sends it again in a transaction of its own). Each DATA thus has
one answer, for its one recipient, which is also what LMTP wants after DATA.

The database work runs in one thread (sync_to_async), with the stale
connection check Django does around each request. A message still being
handled at SIGTERM gets no answer: its sender tries again later, and the
Message-ID makes it post once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import DatabaseError, close_old_connections

from .receive import (
    ONE_RECIPIENT,
    UNAVAILABLE,
    UNREADABLE,
    SmtpReply,
    message_receive,
    recipient_check,
)

logger = logging.getLogger(__name__)

# Replies are text: attachments are not posted, and a photo from a phone
# fits well within this. Larger messages get 552 while they are read.
MAX_MESSAGE_BYTES = 10 * 1024 * 1024


class InboundHandler:
    """aiosmtpd's hooks for the reply domain."""

    def __init__(self, domain: str) -> None:
        self.domain = domain

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if envelope.rcpt_tos:
            return str(ONE_RECIPIENT)
        reply = await _in_thread(recipient_check, address=address, domain=self.domain)
        if reply.accepted:
            envelope.rcpt_tos.append(address)
        return str(reply)

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        reply = await _in_thread(
            message_receive,
            address=envelope.rcpt_tos[0],
            domain=self.domain,
            mail_from=envelope.mail_from or "",
            raw=envelope.original_content or b"",
        )
        return str(reply)


async def _in_thread(function: Callable[..., SmtpReply], **kwargs: Any) -> SmtpReply:
    try:
        return await sync_to_async(_fresh, thread_sensitive=True)(function, kwargs)
    except DatabaseError as error:
        logger.warning("inbound mail: database unavailable: %r", error)
        return UNAVAILABLE
    except Exception:
        # Sending it again would fail again: refuse it now, the sender hears.
        logger.exception("inbound mail: a message could not be processed")
        return UNREADABLE


def _fresh(function: Callable[..., SmtpReply], kwargs: dict[str, Any]) -> SmtpReply:
    close_old_connections()
    try:
        return function(**kwargs)
    finally:
        close_old_connections()


async def serve(*, host: str, port: int, lmtp: bool, domain: str) -> None:
    """Receive mail for `domain` until SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    handler = InboundHandler(domain)
    kind = LMTP if lmtp else SMTP
    server = await loop.create_server(
        lambda: kind(
            handler,
            data_size_limit=MAX_MESSAGE_BYTES,
            hostname=domain,
            ident="Voisins inbound mail",
            loop=loop,
        ),
        host=host,
        port=port,
    )
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    logger.info(
        "inbound mail started: %s on %s:%s for %s",
        "LMTP" if lmtp else "SMTP",
        host,
        port,
        domain,
    )
    async with server:
        await stop.wait()
    logger.info("inbound mail stopped")
