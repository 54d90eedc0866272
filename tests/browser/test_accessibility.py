"""axe-core finds no serious or critical accessibility violation on the main
views, at phone and desktop widths.

axe-core comes from npm (package.json, `npm ci`); Playwright injects it as an
inline script, so these contexts bypass the page's CSP (which
test_screens.py::test_pages_forbid_inline_scripts checks on its own).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    axe_violations,
    conversation_link,
    message_log,
)
from tests.support.servers import DaphneServer

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_no_serious_violation_on_the_main_views(
    app: Any, browser: Any, server: DaphneServer, viewport: dict[str, int]
) -> None:
    """Login, conversation list, thread (with its options menu and the photo
    viewer when there is one), new message and settings: no serious or
    critical violation."""
    found: dict[str, list[str]] = {}
    context = browser.new_context(viewport=viewport, locale="fr-FR", bypass_csp=True)
    login = context.new_page()
    login.goto(f"{server.base_url}/accounts/login/")
    expect(login.get_by_role("heading", name="Connexion")).to_be_visible()
    found["login"] = axe_violations(login)
    context.close()

    page = app("alice", viewport=viewport, bypass_csp=True)
    expect(conversation_link(page, "bob")).to_be_visible()
    found["conversation list"] = axe_violations(page)

    conversation_link(page, "bob", "carol").click()
    expect(message_log(page)).to_contain_text("fête de la rue")
    found["thread"] = axe_violations(page)
    options = message_log(page).get_by_role("button", name="Options du message")
    options.last.click()
    expect(page.get_by_role("menu")).to_be_visible()
    found["message options"] = axe_violations(page)
    page.keyboard.press("Escape")
    if viewport is PHONE:
        page.get_by_role("button", name="Retour aux conversations").click()

    page.get_by_role("searchbox", name="Rechercher dans mes messages").fill("fete")
    page.keyboard.press("Enter")
    expect(page.get_by_role("region", name="Résultats pour « fete »")).to_be_visible()
    found["search results"] = axe_violations(page)
    page.get_by_role("button", name="Fermer la recherche").click()

    page.get_by_role("button", name="Nouveau message").click()
    page.get_by_label("Destinataires").fill("a")
    expect(page.get_by_role("option").first).to_be_visible()
    found["new message"] = axe_violations(page)
    page.keyboard.press("Escape")

    page.get_by_role("button", name="Réglages").click()
    dialog = page.get_by_role("dialog", name="Réglages")
    expect(dialog.get_by_role("region", name="Historique du compte")).to_be_visible()
    found["settings"] = axe_violations(page)
    dialog.get_by_role("button", name="Supprimer mon compte").click()
    expect(page.get_by_role("dialog", name="Supprimer mon compte")).to_be_visible()
    found["account erasure"] = axe_violations(page)

    bad = [f"{view}: {violation}" for view, v in found.items() for violation in v]
    assert not bad, "\n".join(bad)
