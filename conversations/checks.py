"""System checks for deployment settings the framework does not know about."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register


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


@register(Tags.compatibility)
def dkim_is_whole(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """DKIM signing needs its three settings and a usable RSA key: a half
    set-up would silently send unsigned mail."""
    from .notifications.dkim import key_problem

    names = ("DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY")
    missing = [name for name in names if not getattr(settings, name)]
    if len(missing) == len(names):
        return []
    if missing:
        problem = "missing " + ", ".join(missing)
    else:
        problem = key_problem(settings.DKIM_PRIVATE_KEY) or ""
    if not problem:
        return []
    return [
        Error(
            f"DKIM signing is not usable: {problem}.",
            hint="Set DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY (or "
            "DKIM_PRIVATE_KEY_FILE, an RSA key in PEM), or none of them.",
            id="conversations.E001",
        )
    ]
