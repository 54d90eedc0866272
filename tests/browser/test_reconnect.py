"""The app through a server restart: status, reconnection, sync, resend."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    SLUG,
    api_as,
    conversation_link,
    message_log,
    screenshot,
    unique,
)
from tests.support.servers import DaphneServer

pytestmark = pytest.mark.browser

OFFLINE = "Connexion perdue"


def bodies_in(server: DaphneServer, username: str, *others: str) -> list[str]:
    """Every message body of the conversation between `username` and `others`."""
    client = api_as(server, username)
    wanted = sorted([username, *others])
    for conversation in client.conversations(SLUG):
        if conversation["participants"] == wanted:
            return [m["body"] for m in client.history(conversation["id"])]
    return []


def test_restart_shows_status_reconnects_and_syncs(
    app: Any, own_server: DaphneServer
) -> None:
    """While a tab is cut off, what others send reaches it after reconnection."""
    alice = app("alice", on=own_server)
    bob = app("bob", on=own_server)
    conversation_link(alice, "bob").click()
    conversation_link(bob, "alice").click()

    own_server.kill()
    for page in (alice, bob):
        expect(page.get_by_role("status")).to_contain_text(OFFLINE)
    screenshot(alice, "offline")
    # Alice's network stays down while the server comes back and Bob writes.
    alice.context.set_offline(True)
    own_server.start()
    expect(bob.get_by_role("status")).to_have_text("Connecté", timeout=45_000)
    text = unique("Le colis est arrivé pendant ton absence")
    bob.get_by_role("textbox", name="Message").fill(text)
    bob.get_by_role("button", name="Envoyer").click()
    expect(message_log(bob)).to_contain_text(text)
    expect(message_log(bob).get_by_text("Envoi…")).to_have_count(0)

    alice.context.set_offline(False)
    expect(alice.get_by_role("status")).to_have_text("Connecté", timeout=45_000)
    expect(message_log(alice)).to_contain_text(text)


def test_pending_messages_are_sent_once_after_reconnect(
    app: Any, own_server: DaphneServer
) -> None:
    """Messages written offline show as pending, then exist exactly once."""
    carol = app("carol", on=own_server)
    david = app("david", on=own_server)
    conversation_link(carol, "david").click()
    conversation_link(david, "carol").click()

    own_server.kill()
    expect(carol.get_by_role("status")).to_contain_text(OFFLINE)
    first = unique("Je passe demain matin")
    second = unique("Et je rapporte l'escabeau")
    for text in (first, second):
        carol.get_by_role("textbox", name="Message").fill(text)
        carol.get_by_role("button", name="Envoyer").click()
    pending = message_log(carol).get_by_role("listitem").filter(has_text=first)
    expect(pending).to_contain_text("Envoi…")

    own_server.start()
    expect(carol.get_by_role("status")).to_have_text("Connecté", timeout=45_000)
    expect(message_log(carol).get_by_text("Envoi…")).to_have_count(0)
    expect(message_log(david)).to_contain_text(second)
    # A reload shows what the server holds: each message once, in order.
    carol.reload()
    expect(carol.get_by_role("status")).to_have_text("Connecté")
    expect(message_log(carol).get_by_text(first)).to_have_count(1)
    bodies = bodies_in(own_server, "carol", "david")
    assert bodies.count(first) == 1
    assert bodies.count(second) == 1
    assert bodies.index(second) < bodies.index(first), "newest first"
