"""The settings' account part (history, links, export, erasure) and the
community switcher's unread counts, each with a resident of its own."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    PASSWORD,
    add_resident,
    api_as,
    screenshot,
    sign_in,
    unique,
)
from tests.support.servers import DaphneServer, Site

pytestmark = pytest.mark.browser

NORD = "bourg-nord"


def test_unread_in_another_community_shows_on_the_switcher(
    app: Any, site: Site, server: DaphneServer
) -> None:
    """Emma reads Bourg-Centre; Bob writes to her in Bourg-Nord: the switcher
    shows it at once after a load and, while she stays, within a refresh."""
    add_resident(site, "emma", "bourg-centre", NORD)
    add_resident(site, "bob", NORD)
    bob = api_as(server, "bob")

    def bob_writes() -> None:
        answer = bob.post(
            f"/api/communities/{NORD}/messages/",
            {"client_id": unique("nord"), "body": "Réunion mardi ?", "to": ["emma"]},
        )
        assert answer.status_code == 201, answer.text

    bob_writes()
    page = app("emma")
    switcher = page.get_by_role("combobox", name="Communauté")
    badge = page.locator("#community-unread")
    expect(badge).to_have_text(re.compile(r"^\s*1\b"))
    expect(switcher).to_have_accessible_description(
        "1 message non lu dans vos autres communautés"
    )
    expect(switcher.locator("option", has_text="Voisins bourg-nord")).to_have_text(
        "Voisins bourg-nord (1 non lu)"
    )
    screenshot(page, "community-unread")

    bob_writes()
    # Refreshed every 15 s while the tab is in front (views/communities.js).
    expect(badge).to_have_text(re.compile(r"^\s*2\b"), timeout=40_000)

    switcher.select_option(NORD)
    expect(page.get_by_role("link", name="Bob Lefèvre", exact=True)).to_be_visible()
    expect(badge).to_be_hidden()


def test_settings_show_the_account_history_and_the_data_links(
    app: Any, site: Site
) -> None:
    """Who changed what: an operator suspended and restored Frank's
    membership; the links to change the password, export the data and read
    the privacy page are there."""
    add_resident(site, "frank", "bourg-centre")
    site.manage("suspendresident", "bourg-centre", "frank")
    site.manage("suspendresident", "bourg-centre", "frank", "--reactivate")
    page = app("frank")
    page.get_by_role("button", name="Réglages").click()
    dialog = page.get_by_role("dialog", name="Réglages")
    history = dialog.get_by_role("region", name="Historique du compte")
    restored = history.get_by_role("listitem").filter(
        has_text="Accès à une communauté rétabli"
    )
    expect(restored).to_contain_text("Voisins Vigilants · Bourg-en-Bresse Centre")
    expect(restored).to_contain_text("par l\u2019équipe technique")
    expect(history.get_by_role("listitem").filter(has_text="suspendu")).to_have_count(1)
    expect(
        dialog.get_by_role("link", name="Changer mon mot de passe")
    ).to_have_attribute("href", "/accounts/password_change/")
    export = dialog.get_by_role("link", name="Exporter mes données")
    expect(export).to_have_attribute("href", "/api/me/export/")
    expect(export).to_have_attribute("download", "")
    expect(
        dialog.get_by_role("link", name="Confidentialité et données personnelles")
    ).to_have_attribute("href", "/confidentialite/")
    dialog.get_by_role(
        "link", name="Changer mon mot de passe"
    ).scroll_into_view_if_needed()
    screenshot(page, "settings-account")


def test_export_downloads_the_residents_data(app: Any, server: DaphneServer) -> None:
    """ "Exporter mes données" downloads one JSON document."""
    page = app("carol")
    page.get_by_role("button", name="Réglages").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="Exporter mes données").click()
    assert download.value.suggested_filename.endswith(".json")


def test_erasure_asks_for_the_password_then_signs_out(
    app: Any, site: Site, server: DaphneServer
) -> None:
    """ "Supprimer mon compte" explains what happens and asks the password;
    Annuler changes nothing; a wrong password is refused; the right one
    erases the account (202) and lands on the login page, where it no
    longer works."""
    add_resident(site, "gaspard", "bourg-centre")
    page = app("gaspard")
    page.get_by_role("button", name="Réglages").click()
    page.get_by_role("button", name="Supprimer mon compte").click()
    dialog = page.get_by_role("dialog", name="Supprimer mon compte")
    expect(dialog).to_contain_text("effacés pour tout le monde")
    password = dialog.get_by_label("Votre mot de passe, pour confirmer")
    expect(password).to_be_focused()
    screenshot(page, "erase")
    dialog.get_by_role("button", name="Annuler").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Supprimer mon compte")).to_be_focused()

    page.get_by_role("button", name="Supprimer mon compte").click()
    password.fill("pas-le-bon-mot-de-passe")
    dialog.get_by_role("button", name="Supprimer définitivement").click()
    expect(dialog.get_by_role("alert")).to_have_text("Mot de passe incorrect.")
    expect(password).to_be_focused()
    password.fill(PASSWORD)
    dialog.get_by_role("button", name="Supprimer définitivement").click()
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    sign_in(page, server, "gaspard")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
