"""Browser tests: Debian's chromium drives the residents' app on real daphne.

One site (SQLite database + `seed_demo`) serves the whole session; tests that
kill their server start their own on the same site.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service
from tests.support.client import HttpClient, login
from tests.support.servers import REPO_ROOT, DaphneServer, Site

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
PASSWORD = "voisins-demo"
SLUG = "bourg-centre"
NAMES = {
    "alice": "Alice Martin",
    "bob": "Bob Lefèvre",
    "carol": "Carole Dubois",
    "david": "David Moreau",
}
SCREENSHOTS = REPO_ROOT / "test-output" / "screenshots"
# axe-core comes from npm (package.json, `npm ci`), for these tests only.
AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium (Playwright never downloads a browser here)."""
    require_service(
        Path(CHROMIUM).exists(),
        f"{CHROMIUM} is missing: apt-get install -y chromium",
    )
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """One browser per module: Playwright's sync driver is not kept running
    across the asyncio tests of other packages."""
    from playwright.sync_api import expect, sync_playwright

    # The machine is shared (2 cores, other suites running): wait on events
    # with generous bounds rather than Playwright's 5 s default.
    expect.set_options(timeout=15_000)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Site:
    """A migrated SQLite deployment with the demo community."""
    root = tmp_path_factory.mktemp("browser-site")
    deployment = Site(
        root=root, database_url=f"sqlite:///{root / 'db.sqlite3'}", backend="sqlite"
    )
    deployment.prepare()
    deployment.manage("seed_demo")
    return deployment


@pytest.fixture(scope="session")
def server(site: Site) -> Iterator[DaphneServer]:
    """The daphne process most tests share."""
    process = site.server("browser")
    yield process
    process.stop()


@pytest.fixture
def own_server(site: Site) -> Iterator[DaphneServer]:
    """A daphne process this test may kill and restart."""
    process = site.server("restartable")
    yield process
    process.stop()


class Errors:
    """Script errors and CSP violations seen by any page of a test."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page: Any, who: str) -> None:
        page.on("pageerror", lambda error: self.seen.append(f"{who}: {error}"))
        page.on(
            "console",
            lambda message: (
                self.seen.append(f"{who}: {message.text}")
                if "Content Security Policy" in message.text
                else None
            ),
        )


@pytest.fixture
def app(browser: Any, server: DaphneServer) -> Iterator[Callable[..., Any]]:
    """Log a resident in, in a browser context of their own; returns the page."""
    contexts: list[Any] = []
    errors = Errors()

    def open_app(
        username: str,
        *,
        on: DaphneServer | None = None,
        viewport: dict[str, int] | None = None,
        bypass_csp: bool = False,
    ) -> Any:
        """`bypass_csp`: only for axe-core, which Playwright injects as an
        inline script (the policy itself is tested in test_screens.py)."""
        from playwright.sync_api import expect

        target = on or server
        context = browser.new_context(
            viewport=viewport or DESKTOP,
            locale="fr-FR",
            timezone_id="Europe/Paris",
            bypass_csp=bypass_csp,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        errors.watch(page, username)
        sign_in(page, target, username)
        expect(page.get_by_role("status")).to_have_text("Connecté")
        return page

    yield open_app
    for context in contexts:
        context.close()
    assert errors.seen == [], errors.seen


def sign_in(
    page: Any, server: DaphneServer, username: str, password: str = PASSWORD
) -> None:
    """Log in through the form; the app opens."""
    page.goto(f"{server.base_url}/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()


def add_resident(site: Site, username: str, *communities: str) -> None:
    """Make `username` an active member of each community (created, but for
    the demo's, which keeps its name). A new resident gets the password
    PASSWORD; an existing one keeps theirs (a change would close their
    sessions)."""
    for slug in communities:
        if slug != SLUG:
            site.manage("createcommunity", slug, "--name", f"Voisins {slug}")
        known = site.manage(
            "shell",
            "-c",
            "from conversations.models import User; "
            f"print(User.objects.filter(username={username!r}).exists())",
        )
        new = [] if "True" in known else ["--password", PASSWORD]
        site.manage(
            "addresident",
            slug,
            username,
            "--email",
            f"{username}@example.org",
            *new,
        )


def api_as(server: DaphneServer, username: str) -> HttpClient:
    """The JSON API with a resident's session."""
    return HttpClient(server.base_url, login(server.base_url, username, PASSWORD))


def conversation_link(page: Any, *usernames: str) -> Any:
    """The conversation list's link to the conversation with these neighbours."""
    names = sorted(NAMES[u] for u in usernames)
    label = " et ".join([", ".join(names[:-1]), names[-1]] if names[1:] else names)
    return page.get_by_role("link", name=label, exact=True)


def message_log(page: Any) -> Any:
    return page.get_by_role("log")


def screenshot(page: Any, name: str) -> None:
    """Save a screen for people to look at (README, reviews)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"))


def unique(prefix: str) -> str:
    """A message text no other test sends."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def axe_violations(page: Any) -> list[str]:
    """Serious and critical accessibility violations axe-core finds in the
    page as it is now (open dialogs included)."""
    require_service(AXE.exists(), f"{AXE} is missing: run `npm ci`")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    results = page.evaluate(
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => r.violations.map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})))"
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['nodes'])}"
        for v in results
        if v["impact"] in ("serious", "critical")
    ]
