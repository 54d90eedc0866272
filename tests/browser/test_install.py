"""The app installs: a web app manifest linked from the page, with icons."""

from __future__ import annotations

import io
from typing import Any

import pytest
import requests
from PIL import Image

from tests.support.servers import DaphneServer

pytestmark = pytest.mark.browser


def get(server: DaphneServer, path: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(f"{server.base_url}{path}", timeout=20)


def test_the_manifest_describes_a_standalone_app_with_real_icons(
    app: Any, server: DaphneServer
) -> None:
    """The page links /manifest.webmanifest (application/manifest+json):
    standalone, start URL and scope `/`, a theme colour, and PNG icons of
    192 and 512 px, one of them maskable, each served at its stated size."""
    page = app("alice")
    link = page.locator("link[rel=manifest]")
    assert link.get_attribute("href") == "/manifest.webmanifest"

    answer = get(server, "/manifest.webmanifest")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/manifest+json"
    manifest = answer.json()
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/"
    assert manifest["scope"] == "/"
    assert manifest["theme_color"].startswith("#")
    purposes = {icon.get("purpose", "any") for icon in manifest["icons"]}
    assert purposes == {"any", "maskable"}
    sizes = set()
    for icon in manifest["icons"]:
        image = get(server, icon["src"])
        assert image.status_code == 200, icon
        assert image.headers["Content-Type"] == "image/png"
        width, height = Image.open(io.BytesIO(image.content)).size
        assert icon["sizes"] == f"{width}x{height}"
        sizes.add(width)
    assert sizes == {192, 512}
