"""System checks for deployment settings the framework does not know about."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string


@register(Tags.security, deploy=True)
def site_url_is_https(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """Links in emails and pushes must not send residents to plain http."""
    if not settings.SITE_URL.startswith("https://"):
        return [
            Warning(
                "SITE_URL is not https: links in notification emails and pushes "
                "would send residents to an unencrypted address.",
                hint="Set SITE_URL=https://your.domain in production.",
                id="conversations.W001",
            )
        ]
    return []


@register(Tags.files)
def attachment_storage_importable(
    app_configs: Any, **kwargs: Any
) -> list[CheckMessage]:
    """ATTACHMENT_STORAGE=s3 needs the optional requirements-s3.txt: say so
    at start-up rather than at a resident's first upload."""
    backend = settings.STORAGES["default"]["BACKEND"]
    try:
        import_string(backend)
    except ImportError as exc:
        return [
            Error(
                f"The attachment storage {backend} cannot be imported: {exc}",
                hint="ATTACHMENT_STORAGE=s3 needs: pip install -r requirements-s3.txt",
                id="conversations.E001",
            )
        ]
    return []
