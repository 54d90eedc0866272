"""The banner of a resident whose notification emails bounce."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, api_as, screenshot
from tests.support.servers import DaphneServer, Site

pytestmark = pytest.mark.browser


def test_bouncing_resident_sees_the_banner_and_confirms_the_address(
    app: Any, site: Site, server: DaphneServer
) -> None:
    """email_status "bouncing": the app names the address and asks to check
    it; "C'est bien mon adresse" confirms it (ok again) and the banner goes."""
    site.manage(
        "shell",
        "-c",
        "from conversations.models import User; "
        "User.objects.filter(username='david').update(email_status='bouncing')",
    )
    page = app("david", viewport=PHONE)
    banner = page.locator(".email-banner")
    expect(banner).to_contain_text("david@example.org nous reviennent")
    screenshot(page, "email-banner")
    page.get_by_role("button", name="C\u2019est bien mon adresse").click()
    expect(banner).to_be_hidden()
    status = api_as(server, "david").get("/api/me/preferences/").json()
    assert status["email_status"] == "ok"


def test_no_banner_while_emails_are_delivered(app: Any) -> None:
    page = app("carol")
    expect(page.get_by_role("status")).to_have_text("Connecté")
    expect(page.locator(".email-banner")).to_be_hidden()
