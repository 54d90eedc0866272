"""The residents' privacy page: open to anyone, French unless the resident
chose English, no inline script."""

from __future__ import annotations

import pytest
from django.test import Client

from conversations.models import Community, User

from .test_attachments import logged_in

pytestmark = pytest.mark.django_db


def test_the_page_is_open_without_signing_in_and_in_french() -> None:
    response = Client().get("/confidentialite/")
    assert response.status_code == 200
    content = response.content.decode()
    assert '<html lang="fr">' in content
    assert "Vos données sur Voisins" in content
    assert "Retour à mes conversations" not in content


def test_english_when_the_resident_chose_it() -> None:
    client = Client()
    client.cookies["django_language"] = "en"
    content = client.get("/confidentialite/").content.decode()
    assert '<html lang="en">' in content
    assert "Your data on Voisins" in content


def test_a_browser_in_english_still_gets_french() -> None:
    """Only the resident's own choice switches, not Accept-Language."""
    response = Client().get("/confidentialite/", HTTP_ACCEPT_LANGUAGE="en-GB,en")
    assert "Vos données sur Voisins" in response.content.decode()


def test_a_resident_sees_how_long_their_communities_keep_messages(
    alice: User, community: Community, other_community: Community
) -> None:
    """Their communities only, each with its period or none."""
    community.retention_days = 90
    community.save()
    other_community.retention_days = 7
    other_community.save()
    content = logged_in(alice).get("/confidentialite/").content.decode()
    assert "Bourg Centre : messages effacés pour tous après 90 jours" in content
    assert "La Croix" not in content
    assert "Retour à mes conversations" in content


def test_no_inline_script_and_the_site_policy() -> None:
    response = Client().get("/confidentialite/")
    assert "<script" not in response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
