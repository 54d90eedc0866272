"""Test settings: fast hashing, the embedded defaults unless overridden."""

from .base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Generous limits so that tests exercise behaviour, not throttling, unless a
# test overrides them on purpose.
CHAT_SEND_RATE = (1000.0, 1000)
CHAT_TYPING_RATE = (1000.0, 1000)
