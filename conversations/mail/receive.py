"""What `inbound_mail` does with a recipient and a message.

The answers are SMTP replies: the sending server quotes their text in the
bounce it returns to the resident, so a refused reply says why. A reply is
posted through the send service like any other message, under every rule of
a send (active membership, blocks, rate limit, length).
"""

from __future__ import annotations

import email
import hashlib
import logging
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from typing import cast

from ..errors import (
    BadRequest,
    Blocked,
    ChatError,
    Forbidden,
    NotFound,
    RateLimited,
    TooLong,
)
from ..limits import resident_limits
from ..models import MailToken
from ..protocol import parse_send
from ..services.send import SendRequest, message_send
from .addresses import parse_address
from .dsn import permanent_failure
from .extract import reply_text
from .status import email_status_bouncing
from .tokens import bounce_user_id, reply_target

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SmtpReply:
    code: int
    status: str  # RFC 3463 enhanced status code
    text: str  # ASCII only: an SMTP reply carries nothing else

    def __str__(self) -> str:
        return f"{self.code} {self.status} {self.text}"

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300


UNKNOWN = SmtpReply(550, "5.1.1", "No such address here.")
ACCEPTED = SmtpReply(250, "2.1.5", "OK")
# RFC 5321 (4.5.3.1.10) lets a server take fewer recipients: the client
# sends the others in another transaction, so each DATA has one answer.
ONE_RECIPIENT = SmtpReply(
    452, "4.5.3", "One recipient per message; send the others separately."
)
NOTHING_NEW = SmtpReply(
    550,
    "5.6.0",
    "No new text found in this reply (quoted text, signatures and "
    "attachments are not posted).",
)
AUTOMATIC = SmtpReply(250, "2.0.0", "Automatic replies are not posted.")
UNAVAILABLE = SmtpReply(451, "4.3.0", "Temporarily unavailable; try again later.")
UNREADABLE = SmtpReply(554, "5.3.0", "This message could not be processed.")

_REFUSAL_STATUS: dict[type[ChatError], str] = {
    Forbidden: "5.7.1",
    Blocked: "5.7.1",
    RateLimited: "5.7.1",
    NotFound: "5.1.1",
    TooLong: "5.3.4",
    BadRequest: "5.6.0",
}


def recipient_check(*, address: str, domain: str) -> SmtpReply:
    """RCPT: an address of ours whose token still works; anything else, 550."""
    target = parse_address(address, domain)
    if target is None:
        return UNKNOWN
    if target.kind == MailToken.Kind.REPLY:
        usable = reply_target(token=target.token) is not None
    else:
        usable = bounce_user_id(token=target.token) is not None
    return ACCEPTED if usable else UNKNOWN


def message_receive(
    *, address: str, domain: str, mail_from: str, raw: bytes
) -> SmtpReply:
    """DATA: post the reply, or record the bounce, that the recipient names."""
    target = parse_address(address, domain)
    if target is None:
        return UNKNOWN
    message = cast(EmailMessage, email.message_from_bytes(raw, policy=policy.default))
    if target.kind == MailToken.Kind.BOUNCE:
        return bounce_record(token=target.token, message=message)
    return reply_post(
        token=target.token,
        message=message,
        raw=raw,
        automatic=is_automatic(message, mail_from),
    )


def reply_post(
    *, token: str, message: EmailMessage, raw: bytes, automatic: bool
) -> SmtpReply:
    """Post the new text of a reply as the resident its token names."""
    target = reply_target(token=token)
    if target is None:
        return UNKNOWN
    if automatic:
        logger.info("reply by email for user %s: automatic, dropped", target.user.pk)
        return AUTOMATIC
    text = reply_text(message)
    if not text:
        return NOTHING_NEW
    message_id = str(message.get("Message-ID", "")).strip()
    client_id = reply_client_id(message_id, raw, target.conversation_id)
    try:
        body = parse_send(
            {
                "client_id": client_id,
                "body": text,
                "conversation": target.conversation_id,
            }
        ).body
        if not resident_limits.allow("send", target.user.pk):
            raise RateLimited("Too many messages; send this one again later.")
        result = message_send(
            SendRequest.of(
                target.user,
                target.community,
                client_id=client_id,
                body=body,
                conversation_id=target.conversation_id,
            ),
            via="email",
        )
    except ChatError as error:
        logger.info(
            "reply by email for user %s refused: %s", target.user.pk, error.code
        )
        status = _REFUSAL_STATUS.get(type(error), "5.7.1")
        return SmtpReply(550, status, error.detail.encode("ascii", "replace").decode())
    logger.info(
        "reply by email: message %s from user %s", result.message["id"], target.user.pk
    )
    return SmtpReply(250, "2.0.0", "Posted." if result.created else "Already posted.")


def bounce_record(*, token: str, message: EmailMessage) -> SmtpReply:
    """A permanent failure marks the resident as bouncing; anything else sent
    to a bounce address (a delay notice, an auto-reply) changes nothing."""
    user_id = bounce_user_id(token=token)
    if user_id is None:
        return UNKNOWN
    if permanent_failure(message):
        email_status_bouncing(user_id=user_id)
    return SmtpReply(250, "2.0.0", "Received.")


def is_automatic(message: EmailMessage, mail_from: str) -> bool:
    """Not the resident writing (RFC 3834): an out-of-office reply, a bounce
    (null sender) or a mailing list's message."""
    submitted = str(message.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(message.get("Precedence", "")).strip().lower()
    return (
        not mail_from.strip("<> ")
        or not submitted.startswith("no")
        or precedence in {"auto_reply", "bulk", "junk", "list"}
    )


def reply_client_id(message_id: str, raw: bytes, conversation_id: int) -> str:
    """The same email delivered twice posts once: a hash of its Message-ID
    (of the whole message when it has none) and of the conversation."""
    source = message_id.encode("utf-8", "replace") if message_id else raw
    digest = hashlib.sha256(b"%d\0" % conversation_id + source).hexdigest()
    return "mail-" + digest[:40]
