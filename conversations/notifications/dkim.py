"""DKIM signing of outgoing mail (dkimpy), for relays that do not sign.

With DKIM_DOMAIN, DKIM_SELECTOR and a private key (DKIM_PRIVATE_KEY or
DKIM_PRIVATE_KEY_FILE) set, every message the SMTP backend hands to the
relay is signed: notifications, and any other mail the site sends. Signing
happens on the exact bytes given to SMTP, so nothing can change them after.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import dkim
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend

if TYPE_CHECKING:
    from _typeshed import SizedBuffer

# Besides dkimpy's defaults (From, Subject, List-Unsubscribe, List-Id...):
# RFC 8058 wants the one-click header covered by the signature too.
EXTRA_SIGNED = (b"list-unsubscribe-post", b"auto-submitted")


@dataclass(frozen=True, slots=True)
class Signer:
    domain: bytes
    selector: bytes
    key: bytes  # PKCS#1 PEM, the form dkimpy reads

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front."""
        signing = dkim.DKIM(message, linesep=b"\r\n")
        # The documented way to widen dkimpy's default header list.
        signing.should_sign.update(EXTRA_SIGNED)
        signature = signing.sign(
            self.selector,
            self.domain,
            self.key,
            # relaxed/relaxed: relays may re-fold headers or trim trailing
            # spaces without breaking the signature.
            canonicalize=(b"relaxed", b"relaxed"),
        )
        return bytes(signature) + message


def signer() -> Signer | None:
    """The signer the settings describe, or None when DKIM is not set up."""
    return _signer(
        settings.DKIM_DOMAIN, settings.DKIM_SELECTOR, settings.DKIM_PRIVATE_KEY
    )


@cache
def _signer(domain: str, selector: str, pem: str) -> Signer | None:
    if not (domain and selector and pem):
        return None
    return Signer(domain.encode(), selector.encode(), pkcs1_pem(pem))


def pkcs1_pem(pem: str) -> bytes:
    """An RSA private key in PEM (PKCS#1 or PKCS#8, as openssl writes them)
    as PKCS#1, the only form dkimpy parses. ValueError when it is not one."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("DKIM_PRIVATE_KEY must be an RSA key")
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def key_problem(pem: str) -> str | None:
    """Why this PEM cannot sign (None: it can)."""
    try:
        pkcs1_pem(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as error:
        return f"the private key does not load ({error})"
    return None


class _SigningSMTP(smtplib.SMTP):
    def sendmail(
        self,
        from_addr: str,
        to_addrs: str | Sequence[str],
        msg: SizedBuffer | str,
        mail_options: Sequence[str] = (),
        rcpt_options: Sequence[str] = (),
    ) -> dict[str, tuple[int, bytes]]:
        current = signer()
        if current is not None:
            # Django hands over bytes; smtplib would encode a str as ASCII.
            msg = current.sign(msg.encode() if isinstance(msg, str) else bytes(msg))
        return super().sendmail(from_addr, to_addrs, msg, mail_options, rcpt_options)


class _SigningSMTPSSL(_SigningSMTP, smtplib.SMTP_SSL):
    pass


class SigningSmtpBackend(EmailBackend):
    """Django's SMTP backend, signing with DKIM when it is set up (and
    sending unchanged otherwise)."""

    @property
    def connection_class(self) -> Any:
        # Django's SMTP backend opens its connection with this class and
        # hands it the bytes of each message: pinned by
        # tests/integration/test_library_internals.py.
        return _SigningSMTPSSL if self.use_ssl else _SigningSMTP
