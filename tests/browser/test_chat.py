"""Residents chatting in real browsers: live delivery, groups, history."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    NAMES,
    SLUG,
    api_as,
    conversation_link,
    message_log,
    unique,
)
from tests.support.servers import DaphneServer

pytestmark = pytest.mark.browser


def send(page: Any, text: str) -> None:
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Envoyer").click()


def unread_in_title(page: Any) -> int:
    """The unread count the tab's title shows (0 without one)."""
    match = re.match(r"^\((\d+)\) ", page.title())
    return int(match.group(1)) if match else 0


def test_two_residents_chat_live_both_ways(app: Any) -> None:
    """Alice and Bob see each other's messages at once, with receipt and typing."""
    alice = app("alice")
    bob = app("bob")
    conversation_link(alice, "bob").click()
    expect(message_log(alice)).to_contain_text("tondeuse")

    hello = unique("Bonjour Bob, tu es là ?")
    send(alice, hello)
    expect(alice.get_by_role("textbox", name="Message")).to_have_value("")
    expect(message_log(alice)).to_contain_text(hello)
    # Bob, still on his list, sees the conversation move up, counted unread.
    link = conversation_link(bob, "alice")
    expect(link).to_have_accessible_description(
        re.compile(rf"non lus? {re.escape(hello)}")
    )
    before = unread_in_title(bob)
    assert before >= 1

    link.click()
    expect(message_log(bob)).to_contain_text(hello)
    expect(link).not_to_have_accessible_description(re.compile("non lu"))
    expect(bob).not_to_have_title(f"({before}) Voisins")
    # Bob read it: Alice sees "Lu" under her message.
    expect(message_log(alice).get_by_text("Lu", exact=True)).to_be_visible()

    bob.get_by_role("textbox", name="Message").press_sequentially("Oui")
    expect(alice.get_by_text("Bob Lefèvre écrit…")).to_be_visible()
    reply = unique("Oui, je suis là")
    bob.get_by_role("textbox", name="Message").fill(reply)
    bob.get_by_role("textbox", name="Message").press("Enter")
    expect(message_log(alice)).to_contain_text(reply)
    expect(alice.get_by_text("Bob Lefèvre écrit…")).to_be_hidden()
    expect(message_log(bob)).to_contain_text(reply)


def test_group_message_reaches_two_and_not_a_third(
    app: Any, server: DaphneServer
) -> None:
    """A first message to Bob and David opens a group; Carole sees none of it."""
    alice = app("alice")
    bob = app("bob")
    david = app("david")
    carol = app("carol")

    alice.get_by_role("button", name="Nouveau message").click()
    recipients = alice.get_by_label("Destinataires")
    recipients.fill("bob")
    alice.get_by_role("option", name="Bob Lefèvre").click()
    recipients.fill("Dav")
    recipients.press("Enter")
    chosen = alice.get_by_role("button", name="Retirer David Moreau")
    expect(chosen).to_be_visible()
    text = unique("Réunion de copropriété jeudi 19 h ?")
    send(alice, text)

    expect(message_log(alice)).to_contain_text(text)
    expect(conversation_link(alice, "bob", "david")).to_have_attribute(
        "aria-current", "page"
    )
    for neighbour, others in ((bob, ("alice", "david")), (david, ("alice", "bob"))):
        link = conversation_link(neighbour, *others)
        expect(link).to_be_visible()
        link.click()
        expect(message_log(neighbour)).to_contain_text(text)

    carol.wait_for_timeout(1_000)
    expect(carol.get_by_text(text)).to_have_count(0)
    conversations = api_as(server, "carol").conversations(SLUG)
    assert all(
        "david" not in c["participants"] or "alice" not in c["participants"]
        for c in conversations
    )


def test_reload_keeps_history_and_the_open_conversation(app: Any) -> None:
    """After a reload the same conversation is open with its messages."""
    carol = app("carol")
    conversation_link(carol, "david").click()
    text = unique("Avec plaisir, à charge de revanche !")
    send(carol, text)
    expect(message_log(carol)).to_contain_text(text)
    carol.reload()
    expect(carol.get_by_role("status")).to_have_text("Connecté")
    expect(carol.get_by_role("heading", name=NAMES["david"])).to_be_visible()
    expect(message_log(carol)).to_contain_text(text)
    expect(message_log(carol)).to_contain_text("Merci encore pour l'aide")


def test_no_markup_from_messages(app: Any) -> None:
    """A message that looks like HTML is shown as text, never as markup."""
    david = app("david")
    conversation_link(david, "carol").click()
    text = '<img src=x onerror="alert(1)"><b>gras</b>'
    send(david, text)
    expect(message_log(david).get_by_text(text)).to_be_visible()
    expect(message_log(david).locator("img, b")).to_have_count(0)


def test_older_messages_load_when_scrolling_up(app: Any, server: DaphneServer) -> None:
    """A long conversation opens on its latest page; scrolling up fetches more."""
    bob = api_as(server, "bob")
    tag = unique("page")
    for n in range(1, 71):
        answer = bob.post(
            f"/api/communities/{SLUG}/messages/",
            {"client_id": f"{tag}-{n}", "body": f"{tag} n°{n}", "to": ["carol"]},
        )
        assert answer.status_code == 201, answer.text
    carol = app("carol")
    conversation_link(carol, "bob").click()
    log = message_log(carol)
    expect(log).to_contain_text(f"{tag} n°70")
    expect(log.get_by_text(f"{tag} n°1", exact=True)).to_have_count(0)
    log.evaluate("node => { node.scrollTop = 0; }")
    expect(log.get_by_text(f"{tag} n°1", exact=True)).to_be_visible()
    expect(carol.get_by_text("Début de la conversation")).to_be_visible()
    # The view stayed where the resident was reading, not at the very top.
    assert log.evaluate("node => node.scrollTop") > 0
