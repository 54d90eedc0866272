"""Test settings: fast hashing, the embedded defaults unless overridden."""

import os

from .base import *  # noqa: F403
from .base import VAR_DIR
from .env import env_rate, env_str
from .stores import database_config

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Generous limits so that tests exercise behaviour, not throttling, unless a
# test overrides them on purpose.
CHAT_SEND_RATE = env_rate("CHAT_SEND_RATE", "1000/1000")
CHAT_TYPING_RATE = env_rate("CHAT_TYPING_RATE", "1000/1000")
CHAT_CONNECT_RATE = env_rate("CHAT_CONNECT_RATE", "1000/1000")
CHAT_SYNC_RATE = env_rate("CHAT_SYNC_RATE", "1000/1000")

# `make test` runs the database-backed suites a second time on PostgreSQL
# (scripts/with_postgres.py sets this); pytest-django creates and drops
# test_<name> itself.
if env_str("TEST_POSTGRES_URL"):
    DATABASES = {"default": database_config(env_str("TEST_POSTGRES_URL"), VAR_DIR)}

# The test process keeps CPython's collector: freezing it would keep every
# test's garbage cycles.
GC_FREEZE_SECONDS = 0

# Tests serve static files through the finders; no collectstatic output.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# A file, not SQLite's shared-cache memory database: there concurrent writers
# fail at once ("table is locked") instead of queueing as in production, and
# the race tests must see production's locking.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")
    }

# No persistent connections in tests: a connection kept by a thread (the
# consumers' database thread) would stop pytest-django dropping the database.
DATABASES["default"]["CONN_MAX_AGE"] = 0
