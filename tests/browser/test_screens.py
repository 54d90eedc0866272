"""The main screens at phone and desktop widths, and page-level guarantees."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    DESKTOP,
    PASSWORD,
    PHONE,
    api_as,
    conversation_link,
    message_log,
    screenshot,
)
from tests.support.servers import DaphneServer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_main_screens(
    app: Any, browser: Any, server: DaphneServer, viewport: Any
) -> None:
    """Login, list, conversation, new message and settings fit the screen."""
    context = browser.new_context(viewport=viewport, locale="fr-FR")
    login_page = context.new_page()
    login_page.goto(f"{server.base_url}/")
    expect(login_page.get_by_role("heading", name="Connexion")).to_be_visible()
    screenshot(login_page, "login")
    context.close()

    page = app("alice", viewport=viewport)
    expect(conversation_link(page, "bob")).to_be_visible()
    screenshot(page, "conversations")

    conversation_link(page, "bob", "carol").click()
    expect(message_log(page)).to_contain_text("fête de la rue")
    expect(page.get_by_text("Début de la conversation")).to_be_visible()
    screenshot(page, "conversation")
    assert_no_horizontal_scroll(page)

    if viewport is PHONE:
        page.get_by_role("button", name="Retour aux conversations").click()
    page.get_by_role("button", name="Nouveau message").click()
    page.get_by_label("Destinataires").fill("a")
    expect(page.get_by_role("option").first).to_be_visible()
    screenshot(page, "new-message")
    assert_no_horizontal_scroll(page)

    page.keyboard.press("Escape")
    page.get_by_role("button", name="Réglages").click()
    dialog = page.get_by_role("dialog", name="Réglages")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Langue")).to_have_value("fr")
    screenshot(page, "settings")


def assert_no_horizontal_scroll(page: Any) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def test_pages_forbid_inline_scripts(browser: Any, server: DaphneServer) -> None:
    """HTML pages carry a CSP without inline scripts; the app still runs."""
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"{server.base_url}/accounts/login/")
    assert response is not None
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert re.search(r"connect-src 'self' ws://\S+ wss://", policy)
    context.close()


def test_settings_change_the_language(app: Any) -> None:
    """Choosing English in the settings switches the interface, then back."""
    page = app("bob")
    page.get_by_role("button", name="Réglages").click()
    dialog = page.get_by_role("dialog", name="Réglages")
    dialog.get_by_label("Langue").select_option("en")
    dialog.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("button", name="New message")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Connected")
    # The markup's own words follow too (data-i18n, filled from the catalogue).
    expect(page.get_by_role("searchbox", name="Search my messages")).to_be_visible()
    page.get_by_role("button", name="Settings").click()
    dialog = page.get_by_role("dialog", name="Settings")
    dialog.get_by_label("Language").select_option("fr")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("button", name="Nouveau message")).to_be_visible()


def test_settings_save_push_quiet_hours_and_time_zone(
    browser: Any, server: DaphneServer
) -> None:
    """The push switch, quiet hours and their time zone (the browser's zone
    preselected) save; an empty window is refused before saving; reopening
    the dialog shows what the API now holds."""
    context = browser.new_context(
        viewport=DESKTOP, locale="fr-FR", timezone_id="America/Toronto"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(f"{server.base_url}/")
    page.get_by_label("Identifiant").fill("carol")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("status")).to_have_text("Connecté")
    api = api_as(server, "carol")
    try:
        page.get_by_role("button", name="Réglages").click()
        dialog = page.get_by_role("dialog", name="Réglages")
        push = dialog.get_by_label("une notification sur mes appareils")
        expect(push).to_be_checked()
        zone = dialog.get_by_label("Fuseau horaire")
        expect(zone).to_have_value("America/Toronto")
        expect(zone).to_be_disabled()

        push.uncheck()
        dialog.get_by_label("Activer les heures calmes").check()
        dialog.get_by_label("Début").fill("22:30")
        dialog.get_by_label("Fin").fill("22:30")
        dialog.get_by_role("button", name="Enregistrer").click()
        expect(dialog.get_by_text("doivent commencer et finir")).to_be_visible()
        assert api.get("/api/me/preferences/").json()["quiet_hours"] is None

        dialog.get_by_label("Fin").fill("06:45")
        zone.select_option("Asia/Tokyo")
        dialog.get_by_role("button", name="Enregistrer").click()
        expect(dialog.get_by_text("Réglages enregistrés.")).to_be_visible()
        saved = api.get("/api/me/preferences/").json()
        assert saved["push"] is False
        assert saved["email"] is True
        assert saved["quiet_hours"] == {"start": "22:30", "end": "06:45"}
        assert saved["time_zone"] == "Asia/Tokyo"

        dialog.get_by_role("button", name="Fermer").click()
        page.get_by_role("button", name="Réglages").click()
        expect(push).not_to_be_checked()
        expect(dialog.get_by_label("Activer les heures calmes")).to_be_checked()
        expect(dialog.get_by_label("Début")).to_have_value("22:30")
        expect(dialog.get_by_label("Fin")).to_have_value("06:45")
        expect(zone).to_have_value("Asia/Tokyo")
    finally:
        context.close()
        api.write(
            "PATCH",
            "/api/me/preferences/",
            {"push": True, "quiet_hours": None, "time_zone": "Europe/Paris"},
        )


def test_keyboard_only_first_message(app: Any) -> None:
    """A first message can be written without a mouse."""
    page = app("david")
    page.get_by_role("button", name="Nouveau message").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Destinataires")).to_be_focused()
    page.keyboard.type("Alice")
    expect(page.get_by_role("option", name=re.compile("Alice Martin"))).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Retirer Alice Martin")).to_be_visible()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_role("textbox", name="Message")).to_be_focused()
    page.keyboard.type("Bonjour Alice, c'est David du 12.")
    page.keyboard.press("Enter")
    expect(message_log(page)).to_contain_text("c'est David du 12")
    expect(message_log(page).get_by_text("Envoi…")).to_have_count(0)
