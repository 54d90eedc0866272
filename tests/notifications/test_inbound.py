"""Email as a channel, end to end: the worker emails an offline resident
through a real SMTP server, the resident answers with smtplib to a real
`manage.py inbound_mail` (SMTP, and LMTP as behind an MX), and the other
resident's socket on a real daphne receives the reply. One redis-server
links the processes, as in production."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email.utils import parseaddr
from typing import Any

import pytest

from tests.conftest import require_service
from tests.support.servers import RedisServer, redis_available

from .conftest import EMAIL_DELAY_SECONDS, Deployment, World
from .doubles import Mail, PushService, SmtpServer
from .inbound_support import (
    EXPECTED,
    REPLY_DOMAIN,
    InboundMailProcess,
    deliver,
    dsn_fixture,
    reply_fixture,
)

pytestmark = [pytest.mark.e2e, pytest.mark.redis, pytest.mark.timeout(120)]

MARGIN = 1.5  # after a control email, how long a wrong email would still take
LIVE = 15  # seconds for a posted reply to reach a socket


@pytest.fixture(scope="module")
def site(
    template_site: Any,
    tmp_path_factory: pytest.TempPathFactory,
    smtp: SmtpServer,
    push_service: PushService,
) -> Iterator[tuple[Deployment, InboundMailProcess, InboundMailProcess]]:
    """daphne, a worker and inbound_mail over SMTP and over LMTP, sharing a
    site and a redis-server; every process knows the reply domain."""
    require_service(redis_available(), "redis-server is not installed")
    root = tmp_path_factory.mktemp("inbound")
    redis = RedisServer(root / "redis")
    redis.start()
    deployment = Deployment(
        template_site, root / "site", smtp.url, push_service, redis.url
    )
    servers: list[InboundMailProcess] = []
    try:
        deployment.start_worker(REPLY_EMAIL_DOMAIN=REPLY_DOMAIN)
        env = deployment.env(REPLY_EMAIL_DOMAIN=REPLY_DOMAIN)
        for lmtp in (False, True):
            log = root / f"inbound-{'lmtp' if lmtp else 'smtp'}.log"
            servers.append(InboundMailProcess(env=env, log_path=log, lmtp=lmtp))
            servers[-1].start()
        yield deployment, servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        deployment.close()
        redis.stop()


def notification(smtp: SmtpServer, world: World, resident: str, count: int) -> Mail:
    """The resident's `count`-th notification email."""
    mails = smtp.wait_for(
        world.email(resident), count=count, timeout=EMAIL_DELAY_SECONDS + 30
    )
    return mails[count - 1]


async def emailed_reply_address(
    world: World, smtp: SmtpServer, alice: Any, body: str
) -> str:
    """Alice writes to offline bob; the Reply-To of bob's email."""
    world.send("alice", ["bob"], body, "q")
    await alice.next_of("message.new", timeout=LIVE)  # her own, on her socket
    mail = notification(smtp, world, "bob", 1)
    return parseaddr(mail.message["Reply-To"])[1]


async def test_replies_from_every_client_post_only_their_new_text(
    site: tuple[Deployment, InboundMailProcess, InboundMailProcess],
    smtp: SmtpServer,
    connect: Any,
) -> None:
    """Each client's reply (Gmail, Outlook, Apple Mail, Thunderbird; French
    and English; plain, HTML-only, multipart) reaches alice's socket as
    bob's message in that conversation, with the new text only; the token
    never reaches the server's log."""
    deployment, inbound, _ = site
    world = deployment.world({"q": ["alice", "bob"]})
    alice = await connect(world, "alice", "q")
    reply_to = await emailed_reply_address(world, smtp, alice, "Tondeuse samedi ?")
    assert reply_to.startswith("reply+")
    assert reply_to.endswith("@" + REPLY_DOMAIN)
    for name, text in EXPECTED.items():
        answer = deliver(inbound, reply_to, reply_fixture(name, reply_to), "bob@x.org")
        assert answer.data == (250, "2.0.0 Posted."), (name, answer)
        frame = await alice.next_of("message.new", timeout=LIVE)
        message = frame["message"]
        assert (message["sender"], message["body"]) == (world.users["bob"], text), name
    token = reply_to.split("+", 1)[1].split("@", 1)[0]
    assert token not in inbound.log()  # aiosmtpd logs commands at INFO


async def test_lmtp_behind_an_mx_posts_the_reply(
    site: tuple[Deployment, InboundMailProcess, InboundMailProcess],
    smtp: SmtpServer,
    connect: Any,
) -> None:
    """`inbound_mail --lmtp`: the same reply over LMTP (LHLO, one answer
    after DATA for the one recipient)."""
    deployment, _, lmtp = site
    world = deployment.world({"q": ["alice", "bob"]})
    alice = await connect(world, "alice", "q")
    reply_to = await emailed_reply_address(world, smtp, alice, "Colis reçu ?")
    raw = reply_fixture("gmail_fr_multipart.eml", reply_to)
    assert deliver(lmtp, reply_to, raw, "bob@x.org").data == (250, "2.0.0 Posted.")
    frame = await alice.next_of("message.new", timeout=LIVE)
    assert frame["message"]["body"] == EXPECTED["gmail_fr_multipart.eml"]


async def test_forged_and_revoked_reply_addresses_get_550_at_rcpt(
    site: tuple[Deployment, InboundMailProcess, InboundMailProcess],
    smtp: SmtpServer,
    connect: Any,
) -> None:
    """A forged token, another domain and, once bob is suspended, his real
    reply address: 550 at RCPT, before any data; nothing reaches alice."""
    deployment, inbound, _ = site
    world = deployment.world({"q": ["alice", "bob"]})
    alice = await connect(world, "alice", "q")
    reply_to = await emailed_reply_address(world, smtp, alice, "Réunion ?")
    raw = reply_fixture("gmail_fr_multipart.eml", reply_to)
    forged = "reply+" + "a" * 32 + "@" + REPLY_DOMAIN
    other_domain = reply_to.replace(REPLY_DOMAIN, "example.org")
    for address in (forged, other_domain):
        answer = deliver(inbound, address, raw, "bob@x.org")
        assert answer.rcpt[0] == 550, (address, answer)
        assert answer.data is None
    deployment.site.suspend(world.slugs["q"], world.users["bob"])
    answer = deliver(inbound, reply_to, raw, "bob@x.org")
    assert answer.rcpt == (550, "5.1.1 No such address here.")
    assert answer.data is None


async def test_the_same_message_id_twice_posts_once(
    site: tuple[Deployment, InboundMailProcess, InboundMailProcess],
    smtp: SmtpServer,
    connect: Any,
) -> None:
    """A reply delivered twice (same Message-ID) is posted once: the second
    delivery is acknowledged and creates nothing, which a later, different
    reply shows by arriving next."""
    deployment, inbound, _ = site
    world = deployment.world({"q": ["alice", "bob"]})
    alice = await connect(world, "alice", "q")
    reply_to = await emailed_reply_address(world, smtp, alice, "Fête samedi ?")
    raw = reply_fixture("outlook_mobile_en.eml", reply_to)
    assert deliver(inbound, reply_to, raw, "bob@x.org").data == (250, "2.0.0 Posted.")
    again = deliver(inbound, reply_to, raw, "bob@x.org")
    assert again.data == (250, "2.0.0 Already posted.")
    control = reply_fixture("apple_mail_en.eml", reply_to)
    deliver(inbound, reply_to, control, "bob@x.org")
    bodies = [
        (await alice.next_of("message.new", timeout=LIVE))["message"]["body"]
        for _ in range(2)
    ]
    assert bodies == [EXPECTED["outlook_mobile_en.eml"], EXPECTED["apple_mail_en.eml"]]


async def test_a_blocked_residents_reply_is_refused_after_data(
    site: tuple[Deployment, InboundMailProcess, InboundMailProcess],
    smtp: SmtpServer,
    connect: Any,
) -> None:
    """Alice blocks bob: his emailed reply gets 550 5.7.1 with the reason
    and is not posted (after unblocking, the next reply is the next message
    alice sees)."""
    deployment, inbound, _ = site
    world = deployment.world({"q": ["alice", "bob"]})
    alice = await connect(world, "alice", "q")
    reply_to = await emailed_reply_address(world, smtp, alice, "Ton chien aboie")
    block = {"username": world.users["bob"]}
    assert world.http("alice").post("/api/me/blocks/", block).status_code == 201
    raw = reply_fixture("thunderbird_fr_plain.eml", reply_to)
    answer = deliver(inbound, reply_to, raw, "bob@x.org")
    assert answer.data == (550, "5.7.1 A participant does not accept your messages.")
    assert world.http("alice").delete("/api/me/blocks/", block).status_code == 204
    control = reply_fixture("gmail_en_plain.eml", reply_to)
    assert deliver(inbound, reply_to, control, "bob@x.org").data is not None
    frame = await alice.next_of("message.new", timeout=LIVE)
    assert frame["message"]["body"] == EXPECTED["gmail_en_plain.eml"]


async def test_permanent_bounce_stops_emails_until_the_address_is_confirmed(
    site: tuple[Deployment, InboundMailProcess, InboundMailProcess],
    smtp: SmtpServer,
) -> None:
    """The email's envelope sender is bob's bounce address. A delay notice
    changes nothing; a permanent failure makes bob "bouncing" and stops his
    emails (carol, in the same message, still gets hers); confirming the
    address makes it "ok" and emails resume."""
    deployment, inbound, _ = site
    world = deployment.world({"q": ["alice", "bob", "carol"]})
    world.send("alice", ["bob"], "Premier message", "q")
    first = notification(smtp, world, "bob", 1)
    bounce_address = first.mail_from
    assert bounce_address.startswith("bounce+")
    assert bounce_address.endswith("@" + REPLY_DOMAIN)
    assert parseaddr(first.message["From"])[1] != bounce_address

    def bounce(name: str) -> None:
        raw = dsn_fixture(
            name, recipient=world.email("bob"), bounce_address=bounce_address
        )
        answer = deliver(inbound, bounce_address, raw, "")
        assert answer.data == (250, "2.0.0 Received."), answer

    bounce("dsn_temporary.eml")
    assert world.preferences("bob")["email_status"] == "ok"
    bounce("dsn_permanent.eml")
    assert world.preferences("bob")["email_status"] == "bouncing"

    world.send("alice", ["bob", "carol"], "Deuxième message", "q")
    notification(smtp, world, "carol", 1)
    time.sleep(MARGIN)
    assert len(smtp.mails(world.email("bob"))) == 1

    confirmed = world.http("bob").post("/api/me/email/confirm/")
    assert (confirmed.status_code, confirmed.json()) == (200, {"email_status": "ok"})
    assert world.preferences("bob")["email_status"] == "ok"
    world.send("alice", ["bob"], "Troisième message", "q")
    assert "Troisième message" in notification(smtp, world, "bob", 2).part("text/plain")
