"""Photos and documents through the HTTP API and the services: upload,
access, headers, the sweep and file deletion, on a real database and the
real file system storage."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncRequestFactory, Client
from django.utils import timezone

from conversations.api.attachments import CHUNK_BYTES, file_response
from conversations.errors import NotFound, TooLarge
from conversations.models import Attachment, Community, Membership, Message, User
from conversations.selectors.attachments import (
    attachment_get_for_user,
    attachments_claimable,
)
from conversations.services.attachments import (
    attachment_files_delete,
    attachment_upload,
    attachments_sweep,
)
from tests.support.images import (
    PDF,
    SECRET,
    jpeg_with_gps,
    opened,
    png_bomb,
    png_with_text,
)

from .conftest import Send

pytestmark = pytest.mark.django_db

UPLOAD_PATH = "/api/communities/bourg-centre/attachments/"
CaptureOnCommit = Callable[..., Any]


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Each test stores its files in a folder of its own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def logged_in(user: User, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def upload(client: Client, name: str, data: bytes, path: str = UPLOAD_PATH) -> Any:
    return client.post(path, {"file": SimpleUploadedFile(name, data)})


def upload_as(user: User, name: str, data: bytes) -> dict[str, Any]:
    response = upload(logged_in(user), name, data)
    assert response.status_code == 201, response.content
    body: dict[str, Any] = response.json()
    return body


def fetched(response: Any) -> bytes:
    return b"".join(response.streaming_content)


def stored_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def attach(attachment_id: int, message_id: int) -> None:
    """What the send path does with a claimed upload (not built here)."""
    Attachment.objects.filter(pk=attachment_id).update(message_id=message_id)
    Message.objects.filter(pk=message_id).update(attachment_count=1)


@pytest.fixture
def sent_photo(alice: User, bob: User, mallory: User, send: Send) -> dict[str, Any]:
    """A photo alice uploaded and sent to bob (mallory is a neighbour)."""
    body = upload_as(alice, "chat-perdu.jpg", jpeg_with_gps())
    attach(body["id"], send(alice, "Vu ce chat ?", to=["bob"]).message["id"])
    return body


# Upload.


def test_jpeg_with_gps_comes_back_without_metadata(alice: User) -> None:
    """The uploader fetches back a JPEG with no EXIF, GPS, XMP or comment."""
    body = upload_as(alice, "IMG_0042.jpg", jpeg_with_gps())
    assert body == {
        "id": body["id"],
        "name": "IMG_0042.jpg",
        "content_type": "image/jpeg",
        "size": body["size"],
        "width": 64,
        "height": 48,
        "url": f"/api/attachments/{body['id']}/",
        "thumbnail_url": f"/api/attachments/{body['id']}/thumbnail/",
    }
    response = logged_in(alice).get(body["url"])
    assert response.status_code == 200
    data = fetched(response)
    assert len(data) == body["size"]
    image = opened(data)
    assert image.format == "JPEG"
    assert not image.getexif()
    assert "exif" not in image.info
    assert SECRET.encode() not in data


def test_png_named_pdf_is_judged_png(alice: User) -> None:
    """The content decides: a PNG called .pdf is stored and served as PNG."""
    body = upload_as(alice, "scan.pdf", png_with_text())
    assert (body["content_type"], body["name"]) == ("image/png", "scan.png")
    response = logged_in(alice).get(body["url"])
    assert response["Content-Type"] == "image/png"
    assert opened(fetched(response)).format == "PNG"


def test_pdf_named_jpg_is_judged_pdf_and_downloaded(alice: User) -> None:
    """A PDF called .jpg is a document: no size, no thumbnail, offered as
    a download under a .pdf name."""
    body = upload_as(alice, "photo.jpg", PDF)
    assert body["content_type"] == "application/pdf"
    assert body["name"] == "photo.pdf"
    assert (body["width"], body["height"], body["thumbnail_url"]) == (None,) * 3
    response = logged_in(alice).get(body["url"])
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="photo.pdf"'
    assert fetched(response) == PDF


@pytest.mark.parametrize(
    ("name", "data"),
    [("notes.jpg", b"Rendez-vous samedi.\n"), ("empty.png", b"")],
    ids=["text", "empty"],
)
def test_other_content_is_refused(alice: User, name: str, data: bytes) -> None:
    """Text or an empty file: 400 unsupported_type, nothing stored."""
    response = upload(logged_in(alice), name, data)
    assert response.status_code == 400
    assert response.json()["code"] == "unsupported_type"
    assert not Attachment.objects.exists()


def test_over_the_limit_is_413_and_stores_nothing(
    alice: User, settings: Any, media_root: Path
) -> None:
    """One byte over ATTACHMENT_MAX_BYTES: 413 too_large; at the limit: 201."""
    settings.ATTACHMENT_MAX_BYTES = 2000
    at_limit = PDF + b"%" * (2000 - len(PDF))
    response = upload(logged_in(alice), "big.pdf", at_limit + b"%")
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Attachment.objects.exists()
    assert stored_files(media_root) == []
    assert upload(logged_in(alice), "ok.pdf", at_limit).status_code == 201


def test_ten_mebibytes_go_through_django_upload_limits(alice: User) -> None:
    """A 10 MiB file (past Django's 2.5 MB in-memory thresholds) is accepted
    under the default limit."""
    data = PDF + b"%" * (10 * 1024 * 1024 - len(PDF))
    body = upload_as(alice, "plan.pdf", data)
    assert body["size"] == 10 * 1024 * 1024


def test_decompression_bomb_is_refused(alice: User) -> None:
    """A 60-megapixel PNG of a few kilobytes: 413 too_large, nothing kept."""
    response = upload(logged_in(alice), "bomb.png", png_bomb())
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert not Attachment.objects.exists()


def test_stored_names_reveal_nothing(alice: User, media_root: Path) -> None:
    """Files are stored under a random key with fixed names."""
    upload_as(alice, "Zoé-maison-rue-des-lilas.jpg", jpeg_with_gps())
    row = Attachment.objects.get()
    assert len(row.key) == 32
    assert row.file.name == f"attachments/{row.key}/file.jpg"
    assert row.thumbnail.name == f"attachments/{row.key}/thumbnail.jpg"
    assert [p.relative_to(media_root).as_posix() for p in stored_files(media_root)] == [
        row.file.name,
        row.thumbnail.name,
    ]


def test_upload_needs_active_membership(
    alice: User, other_community: Community
) -> None:
    """Uploading to a community one is not an active member of is 404."""
    client = logged_in(alice)
    foreign = upload(client, "a.pdf", PDF, "/api/communities/la-croix/attachments/")
    missing = upload(client, "a.pdf", PDF, "/api/communities/nowhere/attachments/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    Membership.objects.filter(user=alice).update(status=Membership.Status.SUSPENDED)
    assert upload(client, "a.pdf", PDF).status_code == 404
    assert not Attachment.objects.exists()


def test_upload_needs_session_and_csrf(alice: User) -> None:
    """Logged out: 401. Logged in without the CSRF token: 403."""
    assert upload(Client(), "a.pdf", PDF).status_code == 401
    assert upload(logged_in(alice, csrf=True), "a.pdf", PDF).status_code == 403
    assert not Attachment.objects.exists()


def test_upload_without_file_is_bad_request(alice: User) -> None:
    """A form without `file` is 400 bad_request."""
    response = logged_in(alice).post(UPLOAD_PATH, {"other": "x"})
    assert response.status_code == 400
    assert response.json()["code"] == "bad_request"


# Access.


def test_participants_fetch_others_get_404_like_a_missing_id(
    sent_photo: dict[str, Any], bob: User, mallory: User
) -> None:
    """bob (a participant) gets the photo; mallory, a neighbour outside the
    conversation, gets exactly what a missing id gets."""
    assert logged_in(bob).get(sent_photo["url"]).status_code == 200
    assert logged_in(bob).get(sent_photo["thumbnail_url"]).status_code == 200
    for path in (sent_photo["url"], sent_photo["thumbnail_url"]):
        refused = logged_in(mallory).get(path)
        missing = logged_in(mallory).get(path.replace(str(sent_photo["id"]), "999999"))
        assert refused.status_code == missing.status_code == 404
        assert refused.json() == missing.json()


def test_before_sending_only_the_uploader_fetches(alice: User, bob: User) -> None:
    """An unused upload is the uploader's alone."""
    body = upload_as(alice, "a.jpg", jpeg_with_gps())
    assert logged_in(alice).get(body["url"]).status_code == 200
    assert logged_in(bob).get(body["url"]).status_code == 404
    assert logged_in(bob).get(body["thumbnail_url"]).status_code == 404


def test_suspended_participant_gets_404(sent_photo: dict[str, Any], bob: User) -> None:
    """A participant who is no longer an active member cannot fetch."""
    Membership.objects.filter(user=bob).update(status=Membership.Status.SUSPENDED)
    assert logged_in(bob).get(sent_photo["url"]).status_code == 404


def test_deleted_message_files_are_never_served(
    sent_photo: dict[str, Any], alice: User, bob: User
) -> None:
    """Once its message is deleted, nobody gets the file, the sender neither."""
    Message.objects.update(deleted=True)
    for user in (alice, bob):
        assert logged_in(user).get(sent_photo["url"]).status_code == 404


def test_logged_out_fetch_is_401(sent_photo: dict[str, Any]) -> None:
    """No session, no file."""
    assert Client().get(sent_photo["url"]).status_code == 401


@pytest.mark.parametrize("attachment_id", [0, -1, 2**63, 2**70])
def test_out_of_range_ids_are_not_found(alice: User, attachment_id: int) -> None:
    """Ids no row can have answer the same NotFound as any other."""
    with pytest.raises(NotFound):
        attachment_get_for_user(user_id=alice.pk, attachment_id=attachment_id)


# Headers.


def test_image_headers(sent_photo: dict[str, Any], bob: User) -> None:
    """A photo is private, not sniffed, inline under its safe name."""
    for path in (sent_photo["url"], sent_photo["thumbnail_url"]):
        response = logged_in(bob).get(path)
        assert response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"] == "private, no-store"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"] == 'inline; filename="chat-perdu.jpg"'
        assert "sandbox" in response["Content-Security-Policy"]


def test_thumbnail_is_small_and_missing_for_pdf(alice: User) -> None:
    """Images have a thumbnail within 320 px; a PDF's thumbnail is 404."""
    photo = upload_as(alice, "big.jpg", jpeg_with_gps(size=(1280, 960)))
    thumbnail = opened(fetched(logged_in(alice).get(photo["thumbnail_url"])))
    assert thumbnail.size == (320, 240)
    document = upload_as(alice, "doc.pdf", PDF)
    response = logged_in(alice).get(f"/api/attachments/{document['id']}/thumbnail/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_asgi_requests_stream_the_file_in_chunks(alice: User) -> None:
    """Under ASGI the file is read chunk by chunk from an async iterator,
    not turned into a list in memory by Django."""
    data = PDF + bytes(200 * 1024)
    body = upload_as(alice, "plan.pdf", data)
    row = Attachment.objects.get(pk=body["id"])
    response = file_response(AsyncRequestFactory().get(body["url"]), row, row.file)
    assert response.is_async

    async def collect() -> list[bytes]:
        return [chunk async for chunk in response]

    chunks = async_to_sync(collect)()
    assert b"".join(chunks) == data
    assert max(len(chunk) for chunk in chunks) == CHUNK_BYTES


# The send path's selector.


def test_claimable_is_your_fresh_unused_uploads_here(
    alice: User, bob: User, other_community: Community, send: Send
) -> None:
    """Only the resident's own unused uploads of this community, less than a
    day old, are returned; other ids are left out."""
    mine = upload_as(alice, "a.pdf", PDF)["id"]
    used = upload_as(alice, "b.pdf", PDF)["id"]
    attach(used, send(alice, "x", to=["bob"]).message["id"])
    old = upload_as(alice, "c.pdf", PDF)["id"]
    Attachment.objects.filter(pk=old).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    theirs = upload_as(bob, "d.pdf", PDF)["id"]
    ids = [mine, used, old, theirs, 999999, 0]
    community = Community.objects.get(slug="bourg-centre")
    claimable = attachments_claimable(
        user_id=alice.pk, community_id=community.pk, ids=ids
    )
    assert [row.pk for row in claimable] == [mine]
    assert (
        attachments_claimable(
            user_id=alice.pk, community_id=other_community.pk, ids=ids
        )
        == []
    )


# The sweep and file deletion.


def test_sweep_deletes_day_old_unused_uploads_and_their_files(
    alice: User,
    bob: User,
    send: Send,
    media_root: Path,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    """A 25-hour-old unused upload goes with its files; a fresh one and a
    sent one (however old) stay."""
    stale = upload_as(alice, "stale.jpg", jpeg_with_gps())["id"]
    fresh = upload_as(alice, "fresh.jpg", jpeg_with_gps())["id"]
    sent = upload_as(alice, "sent.jpg", jpeg_with_gps())["id"]
    attach(sent, send(alice, "x", to=["bob"]).message["id"])
    Attachment.objects.filter(pk__in=[stale, sent]).update(
        created_at=timezone.now() - timedelta(hours=25)
    )
    stale_key = Attachment.objects.get(pk=stale).key
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_sweep() == 1
    assert set(Attachment.objects.values_list("pk", flat=True)) == {fresh, sent}
    assert len(stored_files(media_root)) == 4
    assert not (media_root / "attachments" / stale_key).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert attachments_sweep() == 0


def test_files_go_only_after_the_rows_commit(
    alice: User, media_root: Path, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    """attachment_files_delete acts on commit, not before."""
    upload_as(alice, "a.jpg", jpeg_with_gps())
    row = Attachment.objects.get()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        row.delete()
        attachment_files_delete([row.file.name, row.thumbnail.name])
    assert len(stored_files(media_root)) == 2
    for callback in callbacks:
        callback()
    assert stored_files(media_root) == []


def test_shared_files_go_with_their_last_row_and_deleting_twice_is_harmless(
    alice: User, media_root: Path, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    """Two rows sharing one stored file (the copies of a separate send): the
    file stays while one row names it; a repeated call changes nothing."""
    upload_as(alice, "a.jpg", jpeg_with_gps())
    first = Attachment.objects.get()
    names = [first.file.name, first.thumbnail.name]
    copy = Attachment.objects.get()
    copy.pk = None
    copy.key = "c" * 32
    copy.save()
    with django_capture_on_commit_callbacks(execute=True):
        first.delete()
        attachment_files_delete(names)
    assert len(stored_files(media_root)) == 2
    with django_capture_on_commit_callbacks(execute=True):
        copy.delete()
        attachment_files_delete(names)
    assert stored_files(media_root) == []
    with django_capture_on_commit_callbacks(execute=True):
        attachment_files_delete(names)
        attachment_files_delete(["", "attachments/none/file.jpg"])
    assert not default_storage.exists(names[0])


def test_service_reads_no_more_than_the_limit(
    alice: User, community: Community, settings: Any
) -> None:
    """An upload of unknown size is refused after reading at most the limit
    plus one byte."""
    settings.ATTACHMENT_MAX_BYTES = 1000
    reads: list[int] = []

    class Counting(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            reads.append(-1 if size is None else size)
            return super().read(size)

    unsized = SimpleUploadedFile("big.pdf", b"")
    unsized.file = Counting(PDF + b"%" * 5000)
    unsized.size = None  # type: ignore[assignment]
    with pytest.raises(TooLarge):
        attachment_upload(user=alice, community=community, upload=unsized)
    assert reads == [1001]
