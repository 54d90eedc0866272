"""The service worker's push handler, fed through the DevTools protocol
(headless Chromium has no push service to subscribe to)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, conversation_link
from tests.support.servers import DaphneServer

pytestmark = pytest.mark.browser

NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  const shown = await registration.getNotifications();
  return shown.map((n) => ({ title: n.title, body: n.body, url: n.data?.url }));
}"""


def deliver_push(page: Any, server: DaphneServer, payload: dict[str, Any]) -> None:
    session = page.context.new_cdp_session(page)
    registrations: list[str] = []
    session.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(
            r["registrationId"] for r in event["registrations"] if not r["isDeleted"]
        ),
    )
    session.send("ServiceWorker.enable")
    page.wait_for_timeout(300)
    assert registrations, "the service worker is registered"
    session.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": server.base_url,
            "registrationId": registrations[-1],
            "data": json.dumps(payload),
        },
    )


def test_push_shows_a_notification_unless_the_conversation_is_in_front(
    browser: Any, server: DaphneServer
) -> None:
    """A push for another conversation rings; one for the open conversation not."""
    context = browser.new_context(permissions=["notifications"], locale="fr-FR")
    page = context.new_page()
    page.goto(f"{server.base_url}/")
    page.get_by_label("Identifiant").fill("bob")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("status")).to_have_text("Connecté")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")

    conversation_link(page, "alice").click()
    open_id = int(
        page.evaluate("new URL(location.href).searchParams.get('conversation')")
    )
    other = open_id + 1000
    payload = {
        "type": "message",
        "title": "Nouveau message de Carole Dubois",
        "body": "Tu as vu le chat ?",
        "community": "bourg-centre",
        "conversation": other,
        # SITE_URL's host, not the one the browser uses.
        "url": f"http://127.0.0.1:8000/?community=bourg-centre&conversation={other}",
    }
    deliver_push(page, server, payload)
    page.wait_for_function(
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(n => n.length > 0)"
    )
    shown = page.evaluate(NOTIFICATIONS)
    assert shown[0]["title"] == payload["title"]
    assert shown[0]["body"] == payload["body"]
    # The link opens this site, whatever host SITE_URL names.
    assert shown[0]["url"].startswith(server.base_url + "/?community=bourg-centre")

    page.bring_to_front()
    page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(list => list.forEach(n => n.close()))"
    )
    deliver_push(
        page,
        server,
        {**payload, "title": "Bob est devant", "conversation": open_id, "url": "/"},
    )
    page.wait_for_timeout(1_000)
    assert page.evaluate(NOTIFICATIONS) == []
    context.close()
