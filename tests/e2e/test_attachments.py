"""Photos and documents over real daphne: multipart upload, streamed files,
and the 413 for a body declared over the limit."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.client import HttpClient
from tests.support.images import PDF, SECRET, jpeg_with_gps, opened

from .conftest import World

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90, func_only=True)]

WORLD = {"nord": ["alice", "bob"]}
DEFAULT_LIMIT = 10 * 1024 * 1024


def post_file(client: HttpClient, slug: str, name: str, data: bytes) -> Any:
    """A browser's FormData upload: multipart, session cookie, CSRF header."""
    return client.http.post(
        f"{client.base_url}/api/communities/{slug}/attachments/",
        files={"file": (name, data, "application/octet-stream")},
        headers={
            "X-CSRFToken": client.http.cookies.get("csrftoken", ""),
            "Referer": f"{client.base_url}/",
        },
        timeout=30,
    )


def test_upload_then_stream_back_to_the_uploader_only(world: World) -> None:
    """The uploader gets the cleaned photo streamed by daphne with the
    private headers; a neighbour gets 404."""
    alice = world.http("alice")
    answer = post_file(alice, world.slug("nord"), "chat.jpg", jpeg_with_gps())
    assert answer.status_code == 201, answer.text
    body = answer.json()

    response = alice.get(body["url"])
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert len(response.content) == body["size"]
    assert SECRET.encode() not in response.content
    assert not opened(response.content).getexif()
    assert alice.get(body["thumbnail_url"]).status_code == 200

    bob = world.http("bob")
    assert bob.get(body["url"]).status_code == 404


def test_large_document_streams_whole(world: World) -> None:
    """A document of several megabytes comes back byte for byte."""
    alice = world.http("alice")
    data = PDF + bytes(range(256)) * (3 * 4096)
    answer = post_file(alice, world.slug("nord"), "plan.pdf", data)
    assert answer.status_code == 201, answer.text
    response = alice.get(answer.json()["url"])
    assert response.headers["Content-Disposition"] == 'attachment; filename="plan.pdf"'
    assert response.content == data


def test_body_declared_over_the_limit_gets_413_too_large(world: World) -> None:
    """An upload whose body is over ATTACHMENT_MAX_BYTES is answered 413
    `too_large`."""
    alice = world.http("alice")
    try:
        answer = post_file(
            alice, world.slug("nord"), "big.pdf", PDF + bytes(DEFAULT_LIMIT + 70_000)
        )
    except requests.ConnectionError as exc:  # pragma: no cover - shows the cause
        pytest.fail(f"the server dropped the connection instead of answering: {exc}")
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large"
