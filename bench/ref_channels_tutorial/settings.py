"""Settings of the tutorial peer: DATABASE_URL and REDIS_URL as the project reads
them (SQLite file and in-memory layer when unset)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

WORKDIR = Path(os.environ.get("VAR_DIR", "/tmp/ref-channels-tutorial"))  # noqa: S108

SECRET_KEY = "bench-only-tutorial-peer"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["daphne", "channels", "bench.ref_channels_tutorial"]
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "bench.ref_channels_tutorial.urls"
ASGI_APPLICATION = "bench.ref_channels_tutorial.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True

_url = os.environ.get("DATABASE_URL") or f"sqlite:///{WORKDIR / 'tutorial.sqlite3'}"
_database: dict[str, Any] = dict(dj_database_url.parse(_url, conn_max_age=0))
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # The project's SQLite pragmas, so that the comparison is of designs.
    _database["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;",
        "timeout": 20,
    }
DATABASES = {"default": _database}

_redis = os.environ.get("REDIS_URL", "")
if _redis:
    # The tutorial's layer; capacity raised as the project's is, so that the
    # layer's silent drops at 100 queued messages are not what is measured.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_redis], "capacity": 10_000, "prefix": "tut"},
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 10_000},
        }
    }
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "root": {"level": "WARNING"},
}
