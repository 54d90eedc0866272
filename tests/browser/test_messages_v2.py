"""Contract v2 in the browser: edit and delete, photos, search, mute, read
marks after a reload."""

from __future__ import annotations

import asyncio
import io
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import (
    SLUG,
    api_as,
    conversation_link,
    message_log,
    screenshot,
    unique,
)
from tests.support.client import open_socket
from tests.support.images import PDF
from tests.support.protocol import Frame
from tests.support.servers import DaphneServer, Site

pytestmark = pytest.mark.browser


def send(page: Any, text: str) -> None:
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Envoyer").click()
    expect(message_log(page).get_by_text(text)).to_be_visible()
    expect(message_log(page).get_by_text("Envoi…")).to_have_count(0)


def bubble(page: Any, text: str) -> Any:
    return message_log(page).get_by_role("listitem").filter(has_text=text)


def photo_png() -> bytes:
    """A small picture with some detail, made here (nothing binary is committed)."""
    image = Image.new("RGB", (640, 480), (120, 170, 90))
    for x in range(0, 640, 40):
        for y in range(0, 480, 40):
            if (x + y) // 40 % 2:
                image.paste((230, 200, 120), (x, y, x + 40, y + 40))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_edit_then_delete_with_the_keyboard(app: Any) -> None:
    """From the composer, Shift+Tab reaches the last message's options: Enter
    opens the menu on "Modifier", Escape closes it back onto the button; the
    edit shows "modifié" to the recipient, the deletion "Message supprimé"."""
    alice = app("alice")
    bob = app("bob")
    conversation_link(alice, "bob").click()
    conversation_link(bob, "alice").click()
    text = unique("Rendez-vous à 18 h devant la boulangerie")
    send(alice, text)
    expect(message_log(bob)).to_contain_text(text)

    composer = alice.get_by_role("textbox", name="Message")
    composer.focus()
    alice.keyboard.press("Shift+Tab")
    options = bubble(alice, text).get_by_role("button", name="Options du message")
    expect(options).to_be_focused()
    alice.keyboard.press("Enter")
    expect(alice.get_by_role("menuitem", name="Modifier")).to_be_focused()
    expect(options).to_have_attribute("aria-expanded", "true")
    alice.keyboard.press("Escape")
    expect(alice.get_by_role("menu")).to_have_count(0)
    expect(options).to_be_focused()

    alice.keyboard.press("Enter")
    alice.keyboard.press("Enter")
    editor = alice.get_by_role("textbox", name="Modifier le message")
    expect(editor).to_be_focused()
    edited = text.replace("18 h", "18 h 30 🥖")
    editor.fill(edited)
    editor.press("Enter")
    expect(bubble(alice, edited)).to_contain_text("modifié")
    expect(bubble(bob, edited)).to_contain_text("modifié")
    expect(message_log(bob).get_by_text(text, exact=True)).to_have_count(0)
    screenshot(alice, "edited-message")

    options = bubble(alice, edited).get_by_role("button", name="Options du message")
    expect(options).to_be_focused()
    alice.keyboard.press("Enter")
    alice.keyboard.press("ArrowDown")
    expect(alice.get_by_role("menuitem", name="Supprimer")).to_be_focused()
    alice.keyboard.press("Enter")
    dialog = alice.get_by_role("dialog", name="Supprimer ce message ?")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("button", name="Annuler")).to_be_focused()
    alice.keyboard.press("Tab")
    alice.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    for page in (alice, bob):
        expect(message_log(page).get_by_text(edited)).to_have_count(0)
    expect(message_log(bob).get_by_text("Message supprimé").last).to_be_visible()
    expect(message_log(alice).get_by_text("Message supprimé").last).to_be_visible()


def change_over_socket(server: DaphneServer, username: str, frame: Frame) -> None:
    """Send an edit or a deletion as `username` from a socket of their own
    (those frames exist on the socket only) and wait for its message.updated."""

    async def run() -> None:
        client = api_as(server, username)
        tab = await open_socket(
            server.ws_url(SLUG), client.cookies, origin=server.origin, label=username
        )
        try:
            await tab.send_json(frame)
            await tab.next_of("message.updated", timeout=10)
        finally:
            await tab.close()

    # Playwright's sync API holds an event loop in this thread: use another.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result(timeout=30)


def test_changes_from_another_device_reach_the_open_thread(
    app: Any, server: DaphneServer
) -> None:
    """Bob edits and deletes from his phone while Alice reads: her thread
    shows "modifié" and "Message supprimé" at once (message.updated)."""
    bob_api = api_as(server, "bob")
    sent = []
    for text in (
        "Quelqu'un a vu un chat roux ? 🐈",
        "Il s'appelle Caramel, il a un collier bleu.",
        "Il est rentré, merci à tous ! 🎉",
    ):
        answer = bob_api.post(
            f"/api/communities/{SLUG}/messages/",
            {"client_id": unique("cat"), "body": text, "to": ["alice", "carol"]},
        )
        assert answer.status_code == 201, answer.text
        sent.append(answer.json())
    alice = app("alice")
    conversation_link(alice, "bob", "carol").click()
    expect(message_log(alice)).to_contain_text("Caramel")

    edited = "Il s'appelle Caramel, il a un collier rouge."
    change_over_socket(
        server, "bob", {"type": "message.edit", "id": sent[1]["id"], "body": edited}
    )
    expect(bubble(alice, edited)).to_contain_text("modifié")
    change_over_socket(server, "bob", {"type": "message.delete", "id": sent[0]["id"]})
    expect(message_log(alice).get_by_text("chat roux")).to_have_count(0)
    expect(message_log(alice).get_by_text("Message supprimé").last).to_be_visible()
    screenshot(alice, "edited-deleted")


def test_a_photo_and_a_document_reach_the_recipient(app: Any) -> None:
    """Alice picks a photo and a PDF: previews and progress, one removed and
    added back, then sent without text; Bob sees the thumbnail, opens the
    full-size photo (Escape closes it) and gets the document as a download."""
    alice = app("alice")
    bob = app("bob")
    conversation_link(alice, "bob").click()
    conversation_link(bob, "alice").click()
    photo = {"name": "chat-perdu.png", "mimeType": "image/png", "buffer": photo_png()}
    document = {
        "name": "affiche-fete.pdf",
        "mimeType": "application/pdf",
        "buffer": PDF,
    }
    with alice.expect_file_chooser() as chooser:
        alice.get_by_role("button", name="Joindre une photo ou un document").click()
    chooser.value.set_files([photo, document])
    tray = alice.get_by_role("list", name="Pièces jointes")
    expect(tray.get_by_role("listitem")).to_have_count(2)
    expect(tray.locator("img.preview")).to_have_count(1)
    expect(tray.get_by_role("progressbar")).to_have_count(0, timeout=20_000)
    tray.get_by_role("button", name="Retirer affiche-fete.pdf").click()
    expect(tray.get_by_role("listitem")).to_have_count(1)
    expect(
        alice.get_by_role("button", name="Joindre une photo ou un document")
    ).to_be_focused()
    alice.locator("#attach-input").set_input_files([document])
    expect(tray.get_by_role("listitem")).to_have_count(2)
    expect(tray.get_by_role("progressbar")).to_have_count(0, timeout=20_000)
    alice.get_by_role("button", name="Envoyer").click()
    expect(tray).to_be_hidden()

    thumbnail = message_log(bob).get_by_role(
        "button", name="Agrandir la photo chat-perdu.png"
    )
    expect(thumbnail).to_be_visible()
    image = thumbnail.locator("img")
    expect(image).to_have_attribute("src", re_thumbnail())
    bob.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    download = message_log(bob).get_by_role("link", name="Télécharger affiche-fete.pdf")
    expect(download).to_have_attribute("download", "affiche-fete.pdf")
    expect(conversation_link(bob, "alice")).to_have_accessible_description(
        re_contains("Photo")
    )
    screenshot(bob, "photo")

    thumbnail.click()
    viewer = bob.get_by_role("dialog", name="chat-perdu.png")
    expect(viewer).to_be_visible()
    full = viewer.get_by_role("img", name="chat-perdu.png")
    bob.wait_for_function(
        "img => img.complete && img.naturalWidth === 640", arg=full.element_handle()
    )
    screenshot(bob, "photo-viewer")
    bob.keyboard.press("Escape")
    expect(viewer).to_be_hidden()
    expect(thumbnail).to_be_focused()


def re_thumbnail() -> re.Pattern[str]:
    return re.compile(r"^/api/attachments/\d+/thumbnail/$")


def re_contains(text: str) -> re.Pattern[str]:
    return re.compile(re.escape(text))


def test_search_finds_fete_and_opens_the_conversation_there(app: Any) -> None:
    """ "fete" finds Carole's "fête de la rue" (accents ignored); the result
    opens the group conversation scrolled to that message, highlighted."""
    alice = app("alice")
    search = alice.get_by_role("searchbox", name="Rechercher dans mes messages")
    search.fill("fete")
    search.press("Enter")
    results = alice.get_by_role("region", name="Résultats pour « fete »")
    expect(results).to_be_visible()
    result = results.get_by_role("link", name="Bob Lefèvre et Carole Dubois").first
    expect(result).to_have_accessible_description(re_contains("fête de la rue"))
    result.click()
    found = message_log(alice).locator(".message.found")
    expect(found).to_contain_text("On organise la fête de la rue")
    expect(found).to_be_focused()
    expect(found).to_be_in_viewport()
    screenshot(alice, "search")
    assert "message=" in alice.url
    expect(
        alice.get_by_role("heading", name="Bob Lefèvre et Carole Dubois")
    ).to_be_visible()


def test_search_says_when_nothing_matches(app: Any) -> None:
    """A search without results says so; closing it brings the list back."""
    carol = app("carol")
    search = carol.get_by_role("searchbox", name="Rechercher dans mes messages")
    search.fill("hippopotame")
    search.press("Enter")
    expect(carol.get_by_text("Aucun message ne contient ces mots.")).to_be_visible()
    carol.get_by_role("button", name="Fermer la recherche").click()
    expect(conversation_link(carol, "david")).to_be_visible()
    expect(search).to_be_focused()


def test_mute_toggles_and_survives_a_reload(app: Any, server: DaphneServer) -> None:
    """The header's "Sourdine" switch mutes the conversation for Bob only,
    shows it in the list and the header, and is still on after a reload."""
    bob = app("bob")
    api = api_as(server, "bob")
    link = conversation_link(bob, "alice", "carol")
    link.click()
    switch = bob.get_by_role("button", name="Sourdine")
    expect(switch).to_have_attribute("aria-pressed", "false")
    try:
        switch.click()
        expect(switch).to_have_attribute("aria-pressed", "true")
        expect(switch).to_have_accessible_description(re_contains("ni e-mail"))
        expect(link).to_have_accessible_description(re_contains("en sourdine"))
        muted = {c["id"]: c["muted"] for c in api.conversations(SLUG)}
        assert sorted(muted.values()).count(True) == 1
        bob.reload()
        expect(bob.get_by_role("status")).to_have_text("Connecté")
        expect(switch).to_have_attribute("aria-pressed", "true")
        switch.click()
        expect(switch).to_have_attribute("aria-pressed", "false")
        expect(link).not_to_have_accessible_description(re_contains("en sourdine"))
        assert not any(c["muted"] for c in api.conversations(SLUG))
    finally:
        for conversation in api.conversations(SLUG):
            api.write(
                "PATCH", f"/api/conversations/{conversation['id']}/", {"muted": False}
            )


def test_read_shows_again_after_a_reload(app: Any) -> None:
    """Bob read Carole's message; after Carole reloads, "Lu" is still under it
    (the list's read_marks)."""
    carol = app("carol")
    bob = app("bob")
    conversation_link(carol, "alice", "bob").click()
    text = unique("Les tables sont dans mon garage")
    send(carol, text)
    conversation_link(bob, "alice", "carol").click()
    expect(message_log(bob)).to_contain_text(text)
    receipt = bubble(carol, text).locator(".receipt")
    expect(receipt).to_have_text("Lu par Bob Lefèvre")
    carol.reload()
    expect(carol.get_by_role("status")).to_have_text("Connecté")
    expect(bubble(carol, text).locator(".receipt")).to_have_text("Lu par Bob Lefèvre")


def test_edit_is_offered_within_the_servers_window_only(app: Any, site: Site) -> None:
    """The page gets MESSAGE_EDIT_WINDOW_SECONDS from the server: with 3 s,
    "Modifier" leaves the options menu once they have passed; "Supprimer"
    stays (deleting has no window)."""
    short = site.server("short-edit-window", MESSAGE_EDIT_WINDOW_SECONDS="3")
    try:
        david = app("david", on=short)
        conversation_link(david, "carol").click()
        text = unique("Je corrige tout de suite")
        send(david, text)
        options = bubble(david, text).get_by_role("button", name="Options du message")
        options.click()
        expect(david.get_by_role("menuitem", name="Modifier")).to_be_visible()
        david.keyboard.press("Escape")
        deadline = time.monotonic() + 20
        while True:
            options.click()
            expect(david.get_by_role("menuitem", name="Supprimer")).to_be_visible()
            offered = david.get_by_role("menuitem", name="Modifier").count()
            david.keyboard.press("Escape")
            if not offered:
                break
            assert time.monotonic() < deadline, "Modifier still offered after 20 s"
            david.wait_for_timeout(500)
    finally:
        short.stop()


def test_a_file_the_server_refuses_says_why_and_is_not_sent(app: Any) -> None:
    """A text file dressed as a photo is refused by its content
    (unsupported_type): the tray says why; removed, nothing is left to send."""
    carol = app("carol")
    conversation_link(carol, "david").click()
    fake = {"name": "liste.png", "mimeType": "image/png", "buffer": b"pas une image\n"}
    carol.locator("#attach-input").set_input_files([fake])
    tray = carol.get_by_role("list", name="Pièces jointes")
    expect(tray.get_by_role("alert")).to_contain_text("Seules les photos")
    carol.get_by_role("button", name="Envoyer").click()
    expect(message_log(carol).get_by_text("Envoi…")).to_have_count(0)
    tray.get_by_role("button", name="Retirer liste.png").click()
    expect(tray).to_be_hidden()
