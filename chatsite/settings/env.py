"""Small helpers to read configuration from the environment."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> tuple[float, int]:
    """A token-bucket rate written "per_second/burst", e.g. "10/30"."""
    value = os.environ.get(name) or default
    per_second, _, burst = value.partition("/")
    return float(per_second), int(burst or per_second)


def email_config(url: str, host: str) -> dict[str, Any] | None:
    """SMTP settings from EMAIL_URL (or a bare EMAIL_HOST); None for neither."""
    if not url:
        if not host:
            return None
        return {
            "host": host,
            "port": 25,
            "user": "",
            "password": "",
            "starttls": False,
            "ssl": False,
        }
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+tls"):
        raise ValueError("EMAIL_URL must start with smtp://, smtps:// or smtp+tls://")
    query = parse_qs(parts.query)
    ssl = parts.scheme == "smtps"
    starttls = parts.scheme == "smtp+tls" or "starttls" in query
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or (465 if ssl else 587 if starttls else 25),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "starttls": starttls,
        "ssl": ssl,
    }


# django-storages options read from the environment when ATTACHMENT_STORAGE=s3
# (names as django-storages' own settings, so its documentation applies).
S3_VARIABLES = {
    "endpoint_url": "AWS_S3_ENDPOINT_URL",
    "region_name": "AWS_S3_REGION_NAME",
    "addressing_style": "AWS_S3_ADDRESSING_STYLE",
    "access_key": "AWS_ACCESS_KEY_ID",
    "secret_key": "AWS_SECRET_ACCESS_KEY",
    "location": "AWS_LOCATION",
}


def attachment_storage(kind: str) -> dict[str, Any]:
    """STORAGES["default"]: where attachments live.

    Unset or "filesystem": files under MEDIA_ROOT. "s3": an S3-compatible
    bucket through django-storages, which only this choice imports (install
    requirements-s3.txt); the embedded default never needs boto3.
    """
    if kind in ("", "filesystem"):
        # No explicit location: FileSystemStorage follows MEDIA_ROOT.
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    if kind != "s3":
        raise ValueError("ATTACHMENT_STORAGE must be 'filesystem' or 's3'.")
    bucket = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
    if not bucket:
        raise ValueError("ATTACHMENT_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        # Files are only ever served by the access-checked views: the bucket
        # stays private (no ACL sent: some S3-compatible stores refuse them).
        "default_acl": None,
        # Keys are random and never reused: no existence check per save.
        "file_overwrite": True,
        # A file being served spools to disk past 1 MiB (django-storages'
        # default 0 keeps a whole object in memory).
        "max_memory_size": 1024 * 1024,
    }
    for option, variable in S3_VARIABLES.items():
        if value := os.environ.get(variable, ""):
            options[option] = value
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}
