"""System checks for deployment settings the framework does not know about."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


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
