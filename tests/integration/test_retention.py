"""Retention: a community's old messages are purged in short batches, with
their files; records with a lifetime of their own are forgotten."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conversations.models import (
    Attachment,
    Community,
    Conversation,
    EmailBatch,
    Message,
    PendingNotification,
    User,
)
from conversations.services import retention
from conversations.services.access import membership_add
from conversations.services.retention import (
    finished_jobs_forget,
    messages_purge_expired,
    notification_records_forget,
    sessions_clear_expired,
)
from conversations.services.send import SendRequest, message_send
from tests.support.images import jpeg_with_gps
from tests.support.traces import files_under

from .conftest import Send
from .test_attachments import logged_in, upload_as

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def backdate(message_ids: list[int], days: float) -> None:
    """As if these messages had been sent `days` ago."""
    Message.objects.filter(pk__in=message_ids).update(
        sent_at=timezone.now() - timedelta(days=days)
    )


def with_retention(community: Community, days: int | None) -> Community:
    community.retention_days = days
    community.save(update_fields=["retention_days"])
    return community


def test_messages_older_than_the_retention_go_with_their_files(
    send: Send,
    alice: User,
    bob: User,
    community: Community,
    other_community: Community,
    media_root: Path,
) -> None:
    """Old messages and their attachments (rows, files, pending
    notifications) are deleted; newer ones, and a community without a
    retention period, keep theirs."""
    with_retention(community, 30)
    photo = upload_as(alice, "vieille.jpg", jpeg_with_gps())
    old_photo = message_send(
        SendRequest.of(
            alice,
            community,
            client_id="old-photo",
            body="la vieille photo",
            to=("bob",),
            attachment_ids=(photo["id"],),
        )
    ).message
    old = send(alice, "il y a longtemps", to=["bob"]).message
    recent = send(bob, "hier", to=["alice"]).message
    backdate([old_photo["id"], old["id"]], days=31)
    backdate([recent["id"]], days=29)
    for user in (alice, bob):
        membership_add(community=other_community, user=user)
    elsewhere = send(alice, "ailleurs", to=["bob"], community=other_community).message
    backdate([elsewhere["id"]], days=400)
    assert len(files_under(media_root)) == 2

    purge = messages_purge_expired()

    assert (purge.messages, purge.files, purge.more) == (2, 2, False)
    remaining = set(Message.objects.values_list("pk", flat=True))
    assert remaining == {recent["id"], elsewhere["id"]}
    assert not Attachment.objects.exists()
    assert files_under(media_root) == []
    assert not PendingNotification.objects.filter(
        message_id__in=[old["id"], old_photo["id"]]
    ).exists()
    conversation = Conversation.objects.get(pk=recent["conversation"])
    assert conversation.last_message_id == recent["id"]


def test_a_conversation_purged_whole_has_no_last_message(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """When every message of a conversation goes, its last message is None
    and the conversation list shows it empty; a new message works as usual."""
    with_retention(community, 7)
    old = send(alice, "oublié", to=["bob"]).message
    backdate([old["id"]], days=8)
    messages_purge_expired()
    conversation = Conversation.objects.get(pk=old["conversation"])
    assert conversation.last_message_id is None
    listing = logged_in(bob).get("/api/communities/bourg-centre/conversations/")
    assert [c["last_message"] for c in listing.json()] == [None]
    new = send(alice, "de nouveau", to=["bob"]).message
    conversation.refresh_from_db()
    assert (new["conversation"], conversation.last_message_id) == (
        old["conversation"],
        new["id"],
    )


def test_purged_messages_are_found_nowhere(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    """History, search and the export no longer have them."""
    with_retention(community, 7)
    old = send(alice, "pétanque samedi", to=["bob"]).message
    backdate([old["id"]], days=10)
    messages_purge_expired()
    client = logged_in(bob)
    history = client.get(f"/api/conversations/{old['conversation']}/messages/")
    assert history.json() == []
    found = client.get("/api/communities/bourg-centre/search/", {"q": "pétanque"})
    assert found.json() == []
    export = b"".join(client.get("/api/me/export/").streaming_content)
    assert "pétanque".encode() not in export


def test_purging_twice_is_harmless(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    with_retention(community, 1)
    old = send(alice, "vieux", to=["bob"]).message
    backdate([old["id"]], days=2)
    assert messages_purge_expired().messages == 1
    assert messages_purge_expired().messages == 0


def test_the_purge_goes_in_batches_each_its_own_transaction(
    send: Send,
    alice: User,
    bob: User,
    community: Community,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ten old messages in batches of three: four short transactions; a
    bounded run (the worker's job) stops and says more remain."""
    with_retention(community, 1)
    ids = [send(alice, f"vieux {n}", to=["bob"]).message["id"] for n in range(10)]
    backdate(ids, days=2)
    calls: list[int] = []
    real = retention._purge_batch

    def counted(community_id: int, cutoff: Any, size: int) -> tuple[int, int]:
        result = real(community_id, cutoff, size)
        calls.append(result[0])
        return result

    monkeypatch.setattr(retention, "_purge_batch", counted)
    bounded = messages_purge_expired(batch_size=3, max_batches=2)
    assert (bounded.messages, bounded.more) == (6, True)
    rest = messages_purge_expired(batch_size=3)
    assert (rest.messages, rest.more) == (4, False)
    assert calls == [3, 3, 3, 1]
    assert not Message.objects.exists()


def test_createcommunity_sets_and_clears_the_retention(community: Community) -> None:
    """--retention-days sets it, 0 clears it, leaving it out keeps it; the
    command stays idempotent."""
    out = io.StringIO()
    call_command(
        "createcommunity",
        community.slug,
        "--name",
        "Bourg Centre",
        "--retention-days",
        "90",
        stdout=out,
    )
    community.refresh_from_db()
    assert community.retention_days == 90
    assert "kept 90 days" in out.getvalue()
    call_command(
        "createcommunity",
        community.slug,
        "--name",
        "Bourg Centre",
        stdout=io.StringIO(),
    )
    community.refresh_from_db()
    assert community.retention_days == 90
    call_command(
        "createcommunity",
        community.slug,
        "--name",
        "Bourg Centre",
        "--retention-days",
        "0",
        stdout=io.StringIO(),
    )
    community.refresh_from_db()
    assert community.retention_days is None


def test_purge_expired_command_reports(
    send: Send, alice: User, bob: User, community: Community
) -> None:
    with_retention(community, 1)
    old = send(alice, "vieux", to=["bob"]).message
    backdate([old["id"]], days=3)
    out = io.StringIO()
    call_command("purge_expired", stdout=out)
    assert "Purged 1 expired messages" in out.getvalue()


def test_the_admin_shows_each_communitys_retention(community: Community) -> None:
    with_retention(community, 45)
    staff = User.objects.create_superuser("gerant", "g@example.org", "op-Pass-1!")
    page = logged_in(staff).get("/admin/conversations/community/")
    assert "column-retention_days" in page.content.decode()
    assert ">45<" in page.content.decode()


def test_expired_sessions_are_deleted(alice: User) -> None:
    """Django keeps expired sessions until told: the daily job tells it."""
    client = Client()
    client.force_login(alice)
    expired = SessionStore()
    expired.set_expiry(-10)
    expired.create()
    sessions_clear_expired()
    assert list(Session.objects.values_list("session_key", flat=True)) == [
        client.session.session_key
    ]


def test_finished_job_rows_go_after_a_week(
    send: Send, alice: User, bob: User, carol: User
) -> None:
    """Finished rows older than 7 days are deleted; queued ones stay."""
    send(alice, "bonjour", to=["bob"])
    queued = DBTaskResult.objects.count()
    assert queued
    DBTaskResult.objects.update(
        status="SUCCESSFUL", finished_at=timezone.now() - timedelta(days=8)
    )
    send(alice, "encore", to=["carol"])
    assert finished_jobs_forget() == queued
    assert DBTaskResult.objects.filter(status="READY").exists()


def test_notification_records_go_after_a_month(
    send: Send, alice: User, bob: User
) -> None:
    """Sent batches and push-only items older than 30 days are deleted;
    a pending batch stays."""
    send(alice, "bonjour", to=["bob"])
    batch = EmailBatch.objects.get()
    EmailBatch.objects.update(
        state=EmailBatch.State.SENT, created_at=timezone.now() - timedelta(days=31)
    )
    send(alice, "encore", to=["bob"])
    assert notification_records_forget() == 1
    assert not EmailBatch.objects.filter(pk=batch.pk).exists()
    assert EmailBatch.objects.filter(state=EmailBatch.State.PENDING).exists()
