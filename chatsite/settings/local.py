"""Embedded development defaults: SQLite, in-process layer, emails in files."""

from .base import *  # noqa: F403
from .base import EMAIL_SMTP, VAR_DIR
from .env import env_bool

DEBUG = env_bool("DEBUG", True)

if not EMAIL_SMTP:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "emails"

# Development serves static files straight from the sources (whitenoise's
# finders), with or without DEBUG: no collectstatic step, no manifest.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
