"""Nothing typed is lost on reload: pending sends live in IndexedDB and are
resent once, with their client_id."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    DESKTOP,
    Errors,
    conversation_link,
    message_log,
    sign_in,
    unique,
)
from tests.browser.test_reconnect import bodies_in
from tests.support.servers import DaphneServer

pytestmark = pytest.mark.browser

PENDING_IN_STORAGE = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("voisins");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const all = open.result.transaction("pending").objectStore("pending").getAll();
    all.onsuccess = () => resolve(all.result.map((item) => item.body));
  };
})"""


def wait_pending(page: Any, count: int, timeout: float = 15.0) -> None:
    """Wait until IndexedDB holds `count` pending sends (polled, bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        bodies = page.evaluate(PENDING_IN_STORAGE)
        if len(bodies) == count:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"pending sends in IndexedDB: {bodies}, not {count}")
        page.wait_for_timeout(100)


class Relay:
    """Stands between the page's socket and the server (Playwright's
    WebSocket routing). `drop_acks`: the server stores and answers, but
    the page never hears the ack; `cut`: sends never reach the server."""

    def __init__(self) -> None:
        self.mode = "pass"
        self.sends_forwarded: list[str] = []

    def __call__(self, ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            if '"message.send"' in str(message):
                if self.mode == "cut":
                    return
                self.sends_forwarded.append(str(message))
            server.send(message)

        def from_server(message: str | bytes) -> None:
            if self.mode != "pass" and '"message.ack"' in str(message):
                return
            ws.send(message)

        ws.on_message(from_page)
        server.on_message(from_server)


def test_two_pending_messages_survive_a_reload_and_are_sent_once(
    browser: Any, server: DaphneServer
) -> None:
    """The first send reaches the server but its ack is lost; the second never
    leaves the page. Both wait in IndexedDB; after a reload each exists
    exactly once on the server and once on screen, none pending."""
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    context.set_default_timeout(15_000)
    errors = Errors()
    relay = Relay()
    page = context.new_page()
    errors.watch(page, "carol")
    page.route_web_socket(re.compile(r"/ws/communities/"), relay)
    try:
        sign_in(page, server, "carol")
        expect(page.get_by_role("status")).to_have_text("Connecté")
        conversation_link(page, "david").click()
        first = unique("Je dépose les clés chez toi")
        second = unique("Et le code du portail est 4512")

        relay.mode = "drop_acks"
        page.get_by_role("textbox", name="Message").fill(first)
        page.get_by_role("button", name="Envoyer").click()
        wait_pending(page, 1)
        relay.mode = "cut"
        page.get_by_role("textbox", name="Message").fill(second)
        page.get_by_role("button", name="Envoyer").click()
        expect(message_log(page).get_by_text("Envoi…")).to_have_count(2)
        wait_pending(page, 2)
        assert len(relay.sends_forwarded) == 1
        assert bodies_in(server, "carol", "david").count(first) == 1

        relay.mode = "pass"
        page.reload()
        expect(page.get_by_role("status")).to_have_text("Connecté")
        expect(message_log(page).get_by_text("Envoi…")).to_have_count(0)
        for text in (first, second):
            expect(message_log(page).get_by_text(text)).to_have_count(1)
        wait_pending(page, 0)
        bodies = bodies_in(server, "carol", "david")
        assert bodies.count(first) == 1
        assert bodies.count(second) == 1

        # A second reload finds nothing to resend, and still one of each.
        page.reload()
        expect(page.get_by_role("status")).to_have_text("Connecté")
        for text in (first, second):
            expect(message_log(page).get_by_text(text)).to_have_count(1)
        assert bodies_in(server, "carol", "david").count(second) == 1
    finally:
        context.close()
    assert errors.seen == [], errors.seen


def test_a_pending_message_survives_closing_the_tab(
    browser: Any, server: DaphneServer
) -> None:
    """A send that never left the page is sent when the app opens again in a
    new tab (the browser restarted with its profile)."""
    context = browser.new_context(viewport=DESKTOP, locale="fr-FR")
    context.set_default_timeout(15_000)
    relay = Relay()
    try:
        page = context.new_page()
        page.route_web_socket(re.compile(r"/ws/communities/"), relay)
        sign_in(page, server, "david")
        expect(page.get_by_role("status")).to_have_text("Connecté")
        conversation_link(page, "carol").click()
        text = unique("Merci pour l'escabeau 🪜")
        relay.mode = "cut"
        page.get_by_role("textbox", name="Message").fill(text)
        page.get_by_role("button", name="Envoyer").click()
        wait_pending(page, 1)
        url = page.url
        page.close()

        page = context.new_page()
        page.goto(url)
        expect(page.get_by_role("status")).to_have_text("Connecté")
        expect(message_log(page).get_by_text(text)).to_have_count(1)
        expect(message_log(page).get_by_text("Envoi…")).to_have_count(0)
        assert bodies_in(server, "david", "carol").count(text) == 1
    finally:
        context.close()
