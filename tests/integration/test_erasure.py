"""Erasing an account (POST /api/me/erase/, the service, the command, the
admin): nothing of the resident stays in any table or file, their messages
are tombstones for everyone, other residents' messages stay."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.files.storage import FileSystemStorage
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from conversations.mail.tokens import mail_token_for
from conversations.models import (
    Attachment,
    Block,
    Community,
    Membership,
    Message,
    NotificationPreference,
    PushSubscription,
    Revocation,
    StoredFileDeletion,
    User,
)
from conversations.selectors.messages import sync_page
from conversations.services.attachments import stored_files_retry
from conversations.services.editing import message_delete, message_edit
from conversations.services.erasure import erased_leftovers_erase, resident_erase
from conversations.services.invitations import resident_invite
from conversations.services.send import SendRequest, message_send
from tests.support.images import PDF, jpeg_with_gps
from tests.support.traces import database_traces, file_traces, files_under

from .conftest import PASSWORD
from .test_attachments import logged_in, upload_as

pytestmark = pytest.mark.django_db(transaction=True)

DISPLAY_NAME = "Zéphyrine Quatremare"
OLD_EMAIL = "zq.ancienne@example.net"


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def zeph(
    make_resident: Callable[..., User],
    community: Community,
    other_community: Community,
) -> User:
    """The resident who asks for erasure, member of two communities, who
    once had another address (its change notice is a queued job)."""
    user = make_resident(community, "zephyrine", DISPLAY_NAME)
    make_resident(other_community, "zephyrine", DISPLAY_NAME)
    user.refresh_from_db()
    user.email = OLD_EMAIL
    user.save()
    user.email = "zephyrine@example.org"
    user.save()
    return user


@pytest.fixture
def staff() -> User:
    return User.objects.create_superuser("gerant", "gerant@example.org", "op-Pass-1!")


def token() -> str:
    """A word found nowhere else, lower case as the search index keeps it."""
    return "zq" + secrets.token_hex(6)


def send_as(
    user: User, community: Community, body: str, to: list[str], **extra: Any
) -> dict[str, Any]:
    request = SendRequest.of(
        user,
        community,
        client_id=token(),
        body=body,
        to=tuple(sorted(to)),
        **extra,
    )
    return message_send(request).message  # type: ignore[return-value]


def erase_request(client: Client, body: object) -> Any:
    return client.post(
        "/api/me/erase/", data=json.dumps(body), content_type="application/json"
    )


def traces_everywhere(needles: list[str], media: Path) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        found = database_traces(cursor, connection.vendor, needles)
    for needle, files in file_traces(media, needles).items():
        found.setdefault(needle, []).extend(files)
    return found


@dataclass
class Lived:
    """A resident's life on the site before the erasure, and what of it
    must be gone after: `needles` are strings found nowhere afterwards."""

    needles: list[str]
    unsent_upload: int
    bob_conversation: int
    bob_photo_url: str


def zeph_writes(zeph: User, community: Community) -> tuple[list[str], int]:
    """zeph's messages: one edited, one deleted, one with a photo; an
    upload never sent. Their words and file names, and the unsent id."""
    words = [token() for _ in range(5)]
    first = send_as(zeph, community, words[0], ["bob"])
    message_edit(user=zeph, community=community, message_id=first["id"], body=words[1])
    send_as(zeph, community, words[2], ["bob", "carol"])
    gone = send_as(zeph, community, words[3], ["carol"])
    message_delete(user=zeph, community=community, message_id=gone["id"])
    photo_name = token()
    photo = upload_as(zeph, f"{photo_name}.jpg", jpeg_with_gps())
    unsent = upload_as(zeph, f"{token()}.pdf", PDF)
    send_as(zeph, community, words[4], ["bob", "carol"], attachment_ids=(photo["id"],))
    folders = {
        name.split("/")[1]
        for row in Attachment.objects.filter(uploader=zeph)
        for name in (row.file.name, row.thumbnail.name)
        if name
    }
    return [*words, photo_name, *folders], unsent["id"]


def zeph_gathers(zeph: User, carol: User, staff: User, community: Community) -> None:
    """What else an account gathers: preferences, a push subscription, a
    block, reply and bounce addresses, an invitation, the admin's history
    (about the account, a membership, and a community page adding it),
    sessions."""
    NotificationPreference.objects.create(user=zeph, language="en")
    PushSubscription.objects.create(
        user=zeph, endpoint="https://push.example.net/zq", p256dh="k", auth="a"
    )
    Block.objects.create(blocker=zeph, blocked=carol)
    conversation = Message.objects.filter(sender=zeph).first()
    assert conversation is not None
    mail_token_for(
        kind="reply", user_id=zeph.pk, conversation_id=conversation.conversation_id
    )
    mail_token_for(kind="bounce", user_id=zeph.pk, conversation_id=None)
    resident_invite(user=zeph, community=community)
    membership = Membership.objects.get(user=zeph, community=community)
    LogEntry.objects.log_actions(staff.pk, [zeph], CHANGE, "Changed email.")
    LogEntry.objects.log_actions(
        staff.pk,
        [community],
        CHANGE,
        [{"added": {"name": "membership", "object": str(membership)}}],
    )
    LogEntry.objects.log_actions(staff.pk, [membership], CHANGE, "Changed status.")
    logged_in(zeph)


@pytest.fixture
def lived(
    zeph: User, bob: User, carol: User, staff: User, community: Community
) -> Lived:
    words, unsent = zeph_writes(zeph, community)
    bob_photo = upload_as(bob, "bob.jpg", jpeg_with_gps())
    kept = send_as(bob, community, "Réponse de Bob", ["zephyrine"])
    send_as(
        bob,
        community,
        "Photo de Bob",
        ["carol", "zephyrine"],
        attachment_ids=(bob_photo["id"],),
    )
    send_as(carol, community, "Entre Bob et Carole", ["bob"])
    zeph_gathers(zeph, carol, staff, community)
    return Lived(
        needles=["zephyrine", OLD_EMAIL, DISPLAY_NAME, "Quatremare", *words],
        unsent_upload=unsent,
        bob_conversation=kept["conversation"],
        bob_photo_url=bob_photo["url"],
    )


def test_after_erasure_no_table_or_file_holds_a_trace(
    zeph: User, lived: Lived, media_root: Path
) -> None:
    """The resident's email (current and former), display name, username,
    message bodies (before and after an edit), file names and stored files
    are found in no column of any table and no file; only bob's photo
    stays."""
    # The scan sees them while they are there (edited and deleted bodies
    # are already gone, except from SQLite's search index).
    present = traces_everywhere(lived.needles, media_root)
    assert set(lived.needles) - set(present) <= {lived.needles[4], lived.needles[7]}

    answer = erase_request(logged_in(zeph), {"password": PASSWORD})

    assert answer.status_code == 202, answer.content
    former = f"former-resident-{zeph.pk}"
    assert answer.json() == {"erased": True, "username": former, "messages_deleted": 3}
    assert traces_everywhere(lived.needles, media_root) == {}
    assert not StoredFileDeletion.objects.exists()
    assert {p.name for p in files_under(media_root)} == {"file.jpg", "thumbnail.jpg"}
    assert not Attachment.objects.filter(pk=lived.unsent_upload).exists()


def test_after_erasure_the_others_keep_theirs_and_see_a_former_resident(
    zeph: User, bob: User, lived: Lived, community: Community
) -> None:
    """bob's messages and photo stay; zeph's are tombstones from
    former-resident-<id>, which is what participants and read marks name;
    zeph is in no member list."""
    erase_request(logged_in(zeph), {"password": PASSWORD})

    former = f"former-resident-{zeph.pk}"
    bob_view = logged_in(bob)
    history = bob_view.get(f"/api/conversations/{lived.bob_conversation}/messages/")
    messages = history.json()
    assert [m["body"] for m in messages if m["sender"] == "bob"] == ["Réponse de Bob"]
    tombstones = [m for m in messages if m["sender"] == former]
    assert tombstones
    assert all(m["deleted"] and m["body"] == "" for m in tombstones)
    assert messages[0]["participants"] == ["bob", former]
    listing = bob_view.get(f"/api/communities/{community.slug}/conversations/")
    assert any(former in c["read_marks"] for c in listing.json())
    members = bob_view.get(f"/api/communities/{community.slug}/members/").json()
    assert [m["username"] for m in members] == ["bob", "carol"]
    assert bob_view.get(lived.bob_photo_url).status_code == 200


def test_the_erased_resident_is_signed_out_and_cannot_sign_in(
    zeph: User, community: Community
) -> None:
    """The session that asked ends (its cookie is cleared, the API answers
    401), every other session row is deleted, and the password no longer
    logs in."""
    other = logged_in(zeph)
    client = Client()
    assert client.login(username="zephyrine", password=PASSWORD)

    assert erase_request(client, {"password": PASSWORD}).status_code == 202

    assert client.get("/api/communities/").status_code == 401
    assert other.get("/api/communities/").status_code == 401
    assert not Client().login(username="zephyrine", password=PASSWORD)
    zeph.refresh_from_db()
    assert not zeph.is_active
    assert not zeph.has_usable_password()
    assert zeph.erased_at is not None
    assert Revocation.objects.filter(user=zeph, community=None).exists()


def test_a_wrong_password_changes_nothing(
    zeph: User, bob: User, community: Community
) -> None:
    """403 `wrong_password`: the account, its messages and its session stay."""
    message = send_as(zeph, community, "Toujours là", ["bob"])
    client = logged_in(zeph)

    answer = erase_request(client, {"password": "not-my-password"})

    assert answer.status_code == 403
    assert answer.json()["code"] == "wrong_password"
    zeph.refresh_from_db()
    assert (zeph.username, zeph.is_active, zeph.erased_at) == ("zephyrine", True, None)
    assert Message.objects.get(pk=message["id"]).body == "Toujours là"
    assert client.get("/api/communities/").status_code == 200


@pytest.mark.parametrize(
    "body", [None, {}, {"password": ""}, {"password": 12}, ["x"]], ids=repr
)
def test_a_missing_or_malformed_body_is_400(zeph: User, body: object) -> None:
    """No password, an empty one or not a string: 400 and nothing changes."""
    client = logged_in(zeph)
    answer = (
        client.post("/api/me/erase/") if body is None else erase_request(client, body)
    )
    assert answer.status_code == 400
    zeph.refresh_from_db()
    assert zeph.is_active


def test_wrong_passwords_are_throttled_like_logins(zeph: User) -> None:
    """After 5 wrong passwords even the right one gets 429, and the login
    page refuses that username too: they share one budget."""
    client = logged_in(zeph)
    for _ in range(5):
        assert erase_request(client, {"password": "guess"}).status_code == 403
    answer = erase_request(client, {"password": PASSWORD})
    assert answer.status_code == 429
    zeph.refresh_from_db()
    assert zeph.is_active
    login = Client().post(
        "/accounts/login/", {"username": "zephyrine", "password": PASSWORD}
    )
    assert login.status_code == 429


def test_erasure_needs_a_session() -> None:
    """Without a session: 401."""
    answer = erase_request(Client(), {"password": PASSWORD})
    assert answer.status_code == 401


def test_erasing_twice_is_harmless(zeph: User, bob: User, community: Community) -> None:
    """A second run finds nothing more: same name, no new rev."""
    message = send_as(zeph, community, token(), ["bob"])
    first = resident_erase(user_id=zeph.pk)
    rev = Message.objects.get(pk=message["id"]).rev
    again = resident_erase(user_id=zeph.pk)
    assert (first.messages, again.messages) == (1, 0)
    assert again.username == first.username
    assert Message.objects.get(pk=message["id"]).rev == rev


def test_a_message_written_just_after_the_erasure_is_erased_too(
    zeph: User, bob: User, community: Community
) -> None:
    """A send that checked the membership before the erasure committed and
    wrote after it leaves a message: the leftover pass makes it a tombstone."""
    earlier = send_as(bob, community, "pour toi", ["zephyrine"])
    resident_erase(user_id=zeph.pk)
    Message.objects.create(
        conversation_id=earlier["conversation"],
        community=community,
        sender=zeph,
        client_id="late",
        body=token(),
    )
    assert erased_leftovers_erase() == 1
    assert not Message.objects.filter(sender=zeph, deleted=False).exists()


def test_files_the_storage_refused_are_deleted_by_the_retry_job(
    zeph: User,
    bob: User,
    community: Community,
    media_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A storage error after the commit leaves the names written down; the
    retry job deletes the files later and forgets the names."""
    photo = upload_as(zeph, "photo.jpg", jpeg_with_gps())
    send_as(zeph, community, "", ["bob"], attachment_ids=(photo["id"],))

    def refuse(storage: FileSystemStorage, name: str) -> None:
        raise OSError("storage unavailable")

    with monkeypatch.context() as patched:
        patched.setattr(FileSystemStorage, "delete", refuse)
        resident_erase(user_id=zeph.pk)
    assert len(files_under(media_root)) == 2
    assert StoredFileDeletion.objects.count() == 2

    assert stored_files_retry() == 0  # too recent: maybe still committing
    assert stored_files_retry(min_age=timedelta(0)) == 2
    assert files_under(media_root) == []
    assert not StoredFileDeletion.objects.exists()


def test_the_command_erases_and_reports(
    zeph: User, bob: User, community: Community
) -> None:
    """`erase_resident <username> --yes` erases and prints what it did; run
    again on the new name it finds nothing more."""
    send_as(zeph, community, token(), ["bob"])
    out = io.StringIO()
    call_command("erase_resident", "zephyrine", "--yes", stdout=out)
    former = f"former-resident-{zeph.pk}"
    assert f"now {former}" in out.getvalue()
    assert "messages deleted for everyone: 1" in out.getvalue()
    assert "memberships removed: 2" in out.getvalue()
    again = io.StringIO()
    call_command("erase_resident", former, "--yes", stdout=again)
    assert "messages deleted for everyone: 0" in again.getvalue()


def test_the_command_asks_first(zeph: User, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --yes, anything but "yes" erases nothing."""
    monkeypatch.setattr("builtins.input", lambda prompt="": "no")
    with pytest.raises(CommandError, match="Nothing was erased"):
        call_command("erase_resident", "zephyrine", stdout=io.StringIO())
    zeph.refresh_from_db()
    assert zeph.is_active


def test_the_admin_action_confirms_then_erases(
    zeph: User, staff: User, bob: User
) -> None:
    """The action shows a confirmation page naming the residents (never
    the staff member's own account); confirming erases them, and the
    admin's history records who did it, under the new name."""
    client = logged_in(staff)
    chosen = {"action": "erase", "_selected_action": [zeph.pk, staff.pk]}
    page = client.post("/admin/conversations/user/", chosen)
    assert page.status_code == 200
    content = page.content.decode()
    assert "zephyrine" in content
    assert "Your own account is not in the list" in content
    zeph.refresh_from_db()
    assert zeph.is_active

    done = client.post("/admin/conversations/user/", {**chosen, "post": "yes"})

    assert done.status_code == 302
    zeph.refresh_from_db()
    staff.refresh_from_db()
    assert (zeph.username, zeph.is_active) == (f"former-resident-{zeph.pk}", False)
    assert staff.is_active
    entry = LogEntry.objects.get(user=staff, object_id=str(zeph.pk))
    assert (entry.object_repr, entry.change_message) == (
        zeph.username,
        "Erased the account.",
    )


@pytest.mark.usefixtures("fresh_layer")
async def test_erasure_closes_the_sockets_and_tells_the_others(
    zeph: User,
    bob: User,
    community: Community,
    open_socket: Callable[..., Any],
) -> None:
    """The resident's socket closes with 4403; the other participant's socket
    gets each of their messages as a tombstone from former-resident-<id>."""
    sent = await database_sync_to_async(send_as)(zeph, community, token(), ["bob"])
    zeph_socket = await open_socket(zeph)
    bob_socket = await open_socket(bob)

    await database_sync_to_async(resident_erase)(user_id=zeph.pk)

    code, _ = await zeph_socket.closed_with(timeout=3.0)
    assert code == 4403
    frame = await bob_socket.receive(timeout=3.0)
    assert frame["type"] == "message.updated"
    assert frame["message"]["id"] == sent["id"]
    assert frame["message"]["deleted"] is True
    assert frame["message"]["body"] == ""
    assert frame["message"]["sender"] == f"former-resident-{zeph.pk}"
    assert frame["message"]["participants"] == ["bob", f"former-resident-{zeph.pk}"]


def test_tombstones_come_with_new_revs_for_sync(
    zeph: User, bob: User, community: Community
) -> None:
    """Each erased message gets a rev above every id and rev before it, so a
    client resuming with `since_rev` gets the tombstones in `changed`."""
    mine = [send_as(zeph, community, token(), ["bob"]) for _ in range(3)]
    theirs = send_as(bob, community, "reste", ["zephyrine"])
    resident_erase(user_id=zeph.pk)
    page = sync_page(
        user_id=bob.pk,
        community_id=community.pk,
        community_slug=community.slug,
        after=theirs["id"],
        since_rev=theirs["rev"],
    )
    assert page.changed is not None
    assert [m["id"] for m in page.changed] == [m["id"] for m in mine]
    assert all(m["deleted"] and m["rev"] > theirs["rev"] for m in page.changed)
    revs = [m["rev"] for m in page.changed]
    assert revs == sorted(set(revs))
