"""Uploads sent with messages: claimed once, shown to the participants,
shared by separate copies, gone with a deleted message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from conversations.errors import BadAttachment
from conversations.models import Attachment, Community, Message, User
from conversations.services.editing import message_delete
from conversations.services.send import SendRequest, message_send
from tests.support.images import PDF, jpeg_with_gps

from .test_attachments import fetched, logged_in, stored_files, upload_as

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def send_with(
    user: User, community: Community, ids: list[int], client_id: str, **extra: Any
) -> Any:
    return message_send(
        SendRequest.of(
            user,
            community,
            client_id=client_id,
            body=extra.pop("body", ""),
            to=extra.pop("to", ("bob",)),
            attachment_ids=tuple(ids),
            **extra,
        )
    )


def test_a_photo_and_a_document_go_with_the_message(
    alice: User, bob: User, mallory: User, community: Community
) -> None:
    """The message object lists both; bob fetches them; mallory gets 404."""
    photo = upload_as(alice, "chat.jpg", jpeg_with_gps())
    document = upload_as(alice, "plan.pdf", PDF)
    result = send_with(alice, community, [photo["id"], document["id"]], "att-1")
    message = result.message
    assert message["body"] == ""
    assert [a["id"] for a in message["attachments"]] == [photo["id"], document["id"]]
    assert message["attachments"][0]["thumbnail_url"] is not None
    assert message["attachments"][1]["width"] is None
    for attachment in message["attachments"]:
        assert logged_in(bob).get(attachment["url"]).status_code == 200
        assert logged_in(mallory).get(attachment["url"]).status_code == 404
    history = logged_in(bob).get(
        f"/api/conversations/{message['conversation']}/messages/"
    )
    assert history.json()[0]["attachments"] == message["attachments"]


def test_an_upload_is_used_once_and_only_by_its_uploader(
    alice: User, bob: User, community: Community
) -> None:
    photo = upload_as(alice, "chat.jpg", jpeg_with_gps())
    with pytest.raises(BadAttachment):
        send_with(bob, community, [photo["id"]], "att-2", to=("alice",))
    send_with(alice, community, [photo["id"]], "att-3")
    with pytest.raises(BadAttachment):
        send_with(alice, community, [photo["id"]], "att-4")


def test_separate_copies_share_the_files_and_the_last_deletion_removes_them(
    alice: User, bob: User, carol: User, community: Community, media_root: Path
) -> None:
    photo = upload_as(alice, "fete.jpg", jpeg_with_gps())
    result = send_with(
        alice, community, [photo["id"]], "att-5", to=("bob", "carol"), separate=True
    )
    bob_copy, carol_copy = result.messages
    assert bob_copy["attachments"][0]["id"] != carol_copy["attachments"][0]["id"]
    files = stored_files(media_root)
    assert files
    for user, copy in ((bob, bob_copy), (carol, carol_copy)):
        answer = logged_in(user).get(copy["attachments"][0]["url"])
        assert answer.status_code == 200
        assert fetched(answer)
    # carol cannot use bob's copy's link: separate means separate.
    assert logged_in(carol).get(bob_copy["attachments"][0]["url"]).status_code == 404
    message_delete(user=alice, community=community, message_id=bob_copy["id"])
    assert stored_files(media_root) == files  # carol's copy still names them
    message_delete(user=alice, community=community, message_id=carol_copy["id"])
    assert stored_files(media_root) == []
    assert not Attachment.objects.exists()
    assert Message.objects.filter(deleted=True).count() == 2


def test_a_deleted_messages_attachments_are_gone(
    alice: User, bob: User, community: Community, media_root: Path
) -> None:
    photo = upload_as(alice, "chat.jpg", jpeg_with_gps())
    message = send_with(alice, community, [photo["id"]], "att-6").message
    gone = message_delete(user=alice, community=community, message_id=message["id"])
    assert gone["attachments"] == []
    assert stored_files(media_root) == []
    assert Client().get(message["attachments"][0]["url"]).status_code in (401, 404)
    assert logged_in(bob).get(message["attachments"][0]["url"]).status_code == 404
