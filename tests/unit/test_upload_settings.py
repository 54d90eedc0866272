"""Upload plumbing outside the views: the ASGI size guard and the choice of
attachment storage from the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from chatsite.settings.env import attachment_storage
from conversations.checks import attachment_storage_importable
from conversations.upload_guard import MULTIPART_ALLOWANCE, UploadSizeGuard

REPO_ROOT = Path(__file__).resolve().parents[2]
LIMIT = 10 * 1024 * 1024


class Downstream:
    """The application behind the guard: records whether it was called."""

    def __init__(self) -> None:
        self.called = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.called = True


async def through_guard(
    path: str, length: int | None, method: str = "POST"
) -> tuple[Downstream, list[Mapping[str, Any]]]:
    app = Downstream()
    sent: list[Mapping[str, Any]] = []

    async def receive() -> Mapping[str, Any]:
        raise AssertionError("the guard must not read the body")

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    headers = [] if length is None else [(b"content-length", str(length).encode())]
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    await UploadSizeGuard(app)(scope, receive, send)
    return app, sent


UPLOAD = "/api/communities/bourg-centre/attachments/"


async def test_declared_oversize_upload_gets_413_unread(settings: Any) -> None:
    """An upload declared over the limit is answered 413 too_large without
    reaching Django or reading the body."""
    settings.ATTACHMENT_MAX_BYTES = LIMIT
    app, sent = await through_guard(UPLOAD, LIMIT + MULTIPART_ALLOWANCE + 1)
    assert not app.called
    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"])["code"] == "too_large"


@pytest.mark.parametrize(
    ("path", "length", "method"),
    [
        (UPLOAD, LIMIT + MULTIPART_ALLOWANCE, "POST"),
        (UPLOAD, None, "POST"),
        ("/api/communities/bourg-centre/messages/", 10 * LIMIT, "POST"),
        ("/api/attachments/1/", 10 * LIMIT, "GET"),
    ],
    ids=["within-framing", "no-length", "other-path", "other-method"],
)
async def test_other_requests_pass(
    settings: Any, path: str, length: int | None, method: str
) -> None:
    """Everything else goes to Django untouched."""
    settings.ATTACHMENT_MAX_BYTES = LIMIT
    app, sent = await through_guard(path, length, method)
    assert app.called
    assert sent == []


def test_file_system_storage_by_default() -> None:
    """Unset or "filesystem": files under MEDIA_ROOT."""
    expected = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    assert attachment_storage("") == attachment_storage("filesystem") == expected


def test_s3_storage_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """ATTACHMENT_STORAGE=s3 reads the bucket and its options from AWS_*."""
    monkeypatch.setenv("AWS_STORAGE_BUCKET_NAME", "voisins-media")
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "https://s3.example.org")
    monkeypatch.setenv("AWS_S3_REGION_NAME", "fr-par")
    monkeypatch.setenv("AWS_S3_ADDRESSING_STYLE", "path")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-a-secret")
    config = attachment_storage("s3")
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    assert config["OPTIONS"] == {
        "bucket_name": "voisins-media",
        "default_acl": None,
        "file_overwrite": True,
        "max_memory_size": 1024 * 1024,
        "endpoint_url": "https://s3.example.org",
        "region_name": "fr-par",
        "addressing_style": "path",
        "access_key": "key-id",
        "secret_key": "not-a-secret",
    }


def test_s3_needs_a_bucket_and_unknown_kinds_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A missing bucket or an unknown storage stops the settings at once."""
    monkeypatch.delenv("AWS_STORAGE_BUCKET_NAME", raising=False)
    with pytest.raises(ValueError, match="AWS_STORAGE_BUCKET_NAME"):
        attachment_storage("s3")
    with pytest.raises(ValueError, match="ATTACHMENT_STORAGE"):
        attachment_storage("ftp")


def test_embedded_default_never_imports_boto3(tmp_path: Path) -> None:
    """The local settings, their storage and the upload service load
    without django-storages or boto3."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("ATTACHMENT_STORAGE", "DATABASE_URL", "TEST_POSTGRES_URL")
    }
    env.update(DJANGO_SETTINGS_MODULE="chatsite.settings.local", VAR_DIR=str(tmp_path))
    code = (
        "import sys, django; django.setup();"
        "from django.core.files.storage import default_storage;"
        "import conversations.services.attachments;"
        "default_storage.exists('x');"
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in ('boto3', 'botocore', 'storages')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_missing_storage_backend_fails_the_checks(settings: Any) -> None:
    """A storage that cannot be imported (S3 without requirements-s3.txt) is
    a system check error naming the requirements file."""
    assert attachment_storage_importable(None) == []
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages_not_installed.backends.s3.S3Storage"},
    }
    errors = attachment_storage_importable(None)
    assert [error.id for error in errors] == ["conversations.E002"]
    assert "requirements-s3.txt" in (errors[0].hint or "")
