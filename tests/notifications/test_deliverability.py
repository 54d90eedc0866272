"""Deliverability of notification emails: what a spam filter scores, list
headers, and the optional DKIM signature, checked on the bytes that reach a
real SMTP server (aiosmtpd).

SpamAssassin runs with local rules only (`spamassassin -L -t`): no network.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import dkim
import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.checks import run_checks
from django.test import override_settings

from conversations.models import Community, EmailBatch, User
from conversations.notifications.email import email_batch_send
from conversations.notifications.outcomes import Done
from conversations.services.access import community_create, resident_add
from conversations.services.preferences import preferences_update
from conversations.services.send import SendRequest, message_send
from tests.conftest import require_service
from tests.support.servers import HOST, free_port, wait_until

from .conftest import Deployment

SPAMASSASSIN = shutil.which("spamassassin")
MAX_SCORE = 0.5
# Rules about the HTML part: HTML only, parts that say different things, an
# HTML part that is mostly markup. None may fire, whatever its score.
HTML_RULES = re.compile(r"MIME_HTML_ONLY|MPART_ALT_DIFF|HTML_MIME_NO_HTML_TAG|HTML_")
HARMLESS = {"HTML_MESSAGE"}  # "has an HTML part", scored 0.001 at most
SELECTOR, DOMAIN = "voisins2026", "voisins.example.org"
THREE = ["Tondeuse samedi ?", "Ou dimanche matin.", "Merci d'avance !"]
SITE = {
    "SITE_URL": f"https://{DOMAIN}",
    "DEFAULT_FROM_EMAIL": f"Voisins <notifications@{DOMAIN}>",
}


@dataclass
class RawMail:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes  # exactly the bytes the client sent after DATA


@dataclass
class RawSmtp:
    """An SMTP server keeping each message's raw bytes, which a signature
    covers (a parsed and re-serialized message would not verify)."""

    port: int = field(default_factory=free_port)
    mails: list[RawMail] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: Any, session: Any, envelope: Any
    ) -> str:
        with self.lock:
            self.mails.append(
                RawMail(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                )
            )
        return "250 2.0.0 Accepted"

    def to(self, address: str) -> list[RawMail]:
        with self.lock:
            return [mail for mail in self.mails if address in mail.rcpt_tos]

    def settings(self) -> dict[str, Any]:
        """Django settings sending through this server with our backend."""
        return {
            "EMAIL_BACKEND": "conversations.notifications.dkim.SigningSmtpBackend",
            "EMAIL_HOST": HOST,
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
        }


@pytest.fixture(scope="module")
def raw_smtp() -> Iterator[RawSmtp]:
    server = RawSmtp()
    # aiosmtpd's Controller cannot take port 0 (its self-check connects to
    # the configured port): a free port picked beforehand.
    controller = Controller(server, hostname=HOST, port=server.port, ready_timeout=10)
    controller.start()
    yield server
    controller.stop()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey, form: serialization.PrivateFormat) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, form, serialization.NoEncryption()
    ).decode()


def dns_record(key: rsa.RSAPrivateKey) -> bytes:
    """The TXT record an operator publishes at <selector>._domainkey.<domain>."""
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def verifies(data: bytes, key: rsa.RSAPrivateKey) -> bool:
    """dkimpy's verification, with DNS answered by the test's key."""

    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        expected = f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return dns_record(key) if name == expected else None

    return bool(dkim.verify(data, dnsfunc=lookup))


def signature_tags(data: bytes) -> dict[str, str]:
    header = message_from_bytes(data, policy=policy.compat32)["DKIM-Signature"]
    assert header is not None, "no DKIM-Signature header"
    unfolded = re.sub(r"\s+", "", str(header))
    return dict(item.split("=", 1) for item in unfolded.split(";") if "=" in item)


def make_email(raw_smtp: RawSmtp, *, bodies: list[str], **preferences: Any) -> RawMail:
    """Residents, messages and the batch's email, sent by email_batch_send
    through the SMTP backend to `raw_smtp`."""
    community, _ = community_create(
        slug="bourg-centre", name="Voisins Vigilants · Bourg-en-Bresse Centre"
    )
    alice = _resident(community, "alice", "Alice Martin")
    bob = _resident(community, "bob", "Bob Lefèvre")
    if preferences:
        preferences_update(user=bob, changes=preferences)
    for number, body in enumerate(bodies):
        message_send(
            SendRequest.of(
                alice, community, client_id=f"c{number}", body=body, to=("bob",)
            )
        )
    batch = EmailBatch.objects.get(recipient=bob)
    assert email_batch_send(batch_id=batch.pk) == Done("sent")
    (mail,) = raw_smtp.to(bob.email)
    raw_smtp.mails.remove(mail)
    return mail


def _resident(community: Community, username: str, name: str) -> User:
    user, _ = resident_add(
        community=community,
        username=username,
        email=f"{username}@example.org",
        display_name=name,
    )
    return user


def spamassassin(data: bytes, home: Path) -> tuple[float, list[str]]:
    """SpamAssassin's score and rules for one message, local tests only."""
    require_service(
        SPAMASSASSIN is not None,
        "spamassassin is not installed: apt-get install -y spamassassin",
    )
    assert SPAMASSASSIN is not None
    result = subprocess.run(
        [SPAMASSASSIN, "-L", "-t"],
        input=data,
        capture_output=True,
        timeout=180,
        check=True,
        env={**os.environ, "HOME": str(home)},  # its user files go there
    )
    status = message_from_bytes(result.stdout)["X-Spam-Status"]
    assert status is not None, result.stdout[-2000:]
    found = re.search(
        r"score=(-?[\d.]+).*tests=([\w,\s]*?)\s*(?:autolearn|version)",
        re.sub(r"\s+", " ", status),
    )
    assert found is not None, status
    rules = [rule.strip() for rule in found.group(2).split(",") if rule.strip()]
    return float(found.group(1)), [r for r in rules if r != "none"]


@pytest.mark.django_db
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("bodies", "preferences"),
    [
        (["Salut"], {}),
        (["Hi"], {"language": "en"}),
        (THREE, {"email_include_text": False}),
        (THREE, {"language": "en", "email_include_text": False}),
    ],
    ids=["fr-one-short", "en-one-short", "fr-three-no-text", "en-three-no-text"],
)
def test_notification_email_scores_at_most_half_a_point_in_spamassassin(
    raw_smtp: RawSmtp,
    tmp_path: Path,
    bodies: list[str],
    preferences: dict[str, Any],
) -> None:
    """Unsigned (the relay may sign later), short or batched: SpamAssassin
    scores the email at most 0.5 (a short message with List-Unsubscribe but
    no List-Id scored 1.0), and no rule about the HTML part fires."""
    with override_settings(**raw_smtp.settings(), **SITE):
        mail = make_email(raw_smtp, bodies=bodies, **preferences)
    parsed = message_from_bytes(mail.data, policy=policy.default)
    assert parsed["DKIM-Signature"] is None
    assert parsed["List-Id"] == f"Voisins <notifications.{DOMAIN}>"
    assert parsed.get_content_type() == "multipart/alternative"
    score, rules = spamassassin(mail.data, tmp_path)
    assert score <= MAX_SCORE, rules
    assert not [r for r in rules if HTML_RULES.match(r) and r not in HARMLESS], rules


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form",
    [serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL],
    ids=["pkcs8", "pkcs1"],
)
def test_dkim_signature_verifies_against_the_published_key(
    raw_smtp: RawSmtp, rsa_key: rsa.RSAPrivateKey, form: serialization.PrivateFormat
) -> None:
    """With DKIM_* set, the bytes the SMTP server receives carry a signature
    of DKIM_DOMAIN that dkimpy verifies with the public key, covering From,
    Subject and the list headers (RFC 8058 wants List-Unsubscribe-Post
    signed); a changed body no longer verifies."""
    dkim_settings = {
        "DKIM_DOMAIN": DOMAIN,
        "DKIM_SELECTOR": SELECTOR,
        "DKIM_PRIVATE_KEY": pem(rsa_key, form),
    }
    with override_settings(**raw_smtp.settings(), **SITE, **dkim_settings):
        mail = make_email(raw_smtp, bodies=["Le colis est arrivé"])
    assert verifies(mail.data, rsa_key)
    tags = signature_tags(mail.data)
    assert (tags["d"], tags["s"], tags["c"]) == (DOMAIN, SELECTOR, "relaxed/relaxed")
    signed = set(tags["h"].lower().split(":"))
    assert {
        "from",
        "to",
        "subject",
        "date",
        "message-id",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
    } <= signed
    head, _, body = mail.data.partition(b"\r\n\r\n")
    tampered = head + b"\r\n\r\n" + body.replace("arrivé".encode(), b"parti")
    assert tampered != mail.data
    assert not verifies(tampered, rsa_key)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not verifies(mail.data, other)


@pytest.mark.django_db
def test_without_dkim_settings_mail_goes_out_unsigned(raw_smtp: RawSmtp) -> None:
    """No DKIM_*: the same backend sends the message unchanged."""
    with override_settings(**raw_smtp.settings(), **SITE):
        mail = make_email(raw_smtp, bodies=["Bonjour"])
    assert b"DKIM-Signature" not in mail.data


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"DKIM_DOMAIN": DOMAIN}, "missing DKIM_SELECTOR, DKIM_PRIVATE_KEY"),
        (
            {"DKIM_DOMAIN": DOMAIN, "DKIM_SELECTOR": SELECTOR, "DKIM_PRIVATE_KEY": "x"},
            "the private key does not load",
        ),
    ],
)
def test_a_half_set_up_dkim_is_a_system_check_error(
    values: dict[str, str], problem: str
) -> None:
    """Part of DKIM_* set, or a key that does not load: error E001 (migrate
    and `check --deploy` stop), rather than unsigned mail."""
    blank = {"DKIM_DOMAIN": "", "DKIM_SELECTOR": "", "DKIM_PRIVATE_KEY": ""}
    with override_settings(**{**blank, **values}):
        errors = [m for m in run_checks() if m.id == "conversations.E003"]
    assert len(errors) == 1
    assert problem in errors[0].msg


def test_a_whole_dkim_set_up_passes_the_checks(rsa_key: rsa.RSAPrivateKey) -> None:
    """Domain, selector and a PKCS#8 RSA key: no E001."""
    values = {
        "DKIM_DOMAIN": DOMAIN,
        "DKIM_SELECTOR": SELECTOR,
        "DKIM_PRIVATE_KEY": pem(rsa_key, serialization.PrivateFormat.PKCS8),
    }
    with override_settings(**values):
        assert not [m for m in run_checks() if m.id == "conversations.E003"]


@pytest.mark.e2e
@pytest.mark.timeout(180)
def test_the_worker_signs_what_it_sends(
    new_deployment: Any, raw_smtp: RawSmtp, rsa_key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    """notify_worker started with DKIM_DOMAIN, DKIM_SELECTOR and
    DKIM_PRIVATE_KEY_FILE: the notification email it sends verifies."""
    key_file = tmp_path / "dkim.pem"
    key_file.write_text(pem(rsa_key, serialization.PrivateFormat.PKCS8))
    deployment: Deployment = new_deployment(f"smtp://{HOST}:{raw_smtp.port}")
    deployment.start_worker(
        DKIM_DOMAIN=DOMAIN, DKIM_SELECTOR=SELECTOR, DKIM_PRIVATE_KEY_FILE=str(key_file)
    )
    world = deployment.world({"q": ["alice", "bob"]})
    world.send("alice", ["bob"], "Réunion du quartier jeudi", "q")
    wait_until(
        lambda: bool(raw_smtp.to(world.email("bob"))),
        timeout=60,
        what="the signed notification email",
    )
    (mail,) = raw_smtp.to(world.email("bob"))
    assert verifies(mail.data, rsa_key)
