"""System checks for deployment settings the framework does not know about."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.utils.module_loading import import_string

# Keys published in this repository or obviously typed by hand: anyone can
# sign sessions, password reset and unsubscribe links with them.
KNOWN_PLACEHOLDER_KEYS = frozenset(
    {
        "dev-only-insecure-key-change-me-in-production",  # settings/base.py
        "replace-me-with-50-random-characters-replace-me-with-50-random",  # env.example
        "build-only-collectstatic-not-a-secret",  # Dockerfile
    }
)
PLACEHOLDER_WORDS = (
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "replace_me",
    "placeholder",
    "insecure",
    "not-a-secret",
    "not-for-production",
    "your-secret",
    "secret-key",
    "secretkey",
)


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
                id="conversations.E002",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def secret_key_is_not_a_placeholder(
    app_configs: Any, **kwargs: Any
) -> list[CheckMessage]:
    """A placeholder SECRET_KEY is an error, not a warning: `check --deploy`
    (the compose `migrate` service) must stop the deployment."""
    key = str(settings.SECRET_KEY)
    lowered = key.casefold()
    if key in KNOWN_PLACEHOLDER_KEYS or any(w in lowered for w in PLACEHOLDER_WORDS):
        return [
            Error(
                "SECRET_KEY is a placeholder: anyone could forge sessions, "
                "password reset and unsubscribe links.",
                hint='Generate one: python3 -c "import secrets; '
                'print(secrets.token_urlsafe(50))"',
                id="conversations.E001",
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
            id="conversations.E003",
        )
    ]
