"""Staff cannot read messages: no page of the admin shows a message's text
or an attachment's name, whatever model gets registered there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from conversations.models import Community, User
from conversations.services.editing import message_edit
from conversations.services.send import SendRequest, message_send
from tests.support.images import jpeg_with_gps

from .conftest import Send
from .test_attachments import logged_in, upload_as

pytestmark = pytest.mark.django_db

BODY = "Le code de la porte est 4812B"
EDITED = "Clé sous le paillasson bleu"
FILE_NAME = "passeport-de-carole"


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def staff_client(
    send: Send, alice: User, bob: User, carol: User, community: Community
) -> Client:
    """A superuser, and a site holding every kind of row: messages (one
    edited), an attachment, pending notifications and their jobs, a group,
    the admin's own history."""
    staff = User.objects.create_superuser("gerant", "g@example.org", "op-Pass-1!")
    first = send(alice, BODY, to=["bob"]).message
    message_edit(user=alice, community=community, message_id=first["id"], body=EDITED)
    send(bob, BODY, to=["alice", "carol"])
    photo = upload_as(carol, f"{FILE_NAME}.jpg", jpeg_with_gps())
    message_send(
        SendRequest.of(
            carol,
            community,
            client_id="photo",
            body=BODY,
            to=("alice",),
            attachment_ids=(photo["id"],),
        )
    )
    Group.objects.create(name="voisins")
    LogEntry.objects.log_actions(staff.pk, [alice], CHANGE, "Changed email.")
    return logged_in(staff)


def admin_pages() -> list[str]:
    """Every registered model's list, and its change and history pages of
    every row."""
    pages = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse("admin:{}_{}_changelist".format(*info)))
        rows = model_admin.get_queryset(None).order_by("pk")[:20]  # type: ignore[arg-type]
        assert rows, f"no {model.__name__} row: its change page would go unseen"
        for row in rows:
            pages.append(reverse("admin:{}_{}_change".format(*info), args=[row.pk]))
            pages.append(reverse("admin:{}_{}_history".format(*info), args=[row.pk]))
    return pages


def test_no_admin_page_shows_message_text_or_file_names(
    staff_client: Client,
) -> None:
    """Every list, change form and history page of every registered model
    (users, communities, memberships, groups, the job queue...) answers
    without the bodies, current or edited away, or the attachment's name."""
    pages = admin_pages()
    assert len(pages) > 10
    for page in pages:
        response = staff_client.get(page)
        assert response.status_code == 200, page
        content = response.content.decode()
        for secret in (BODY, "4812B", EDITED, "paillasson", FILE_NAME):
            assert secret not in content, (page, secret)
