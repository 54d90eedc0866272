"""Settings shared by every environment; values come from the environment."""

from __future__ import annotations

from pathlib import Path

from ..origins import allowed_origins
from .env import (
    attachment_storage,
    email_config,
    env_bool,
    env_int,
    env_list,
    env_rate,
    env_str,
)
from .stores import channel_layers, database_config

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-change-me-in-production")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
# "*" would let any Host header through, and Django builds some absolute URLs
# from it: refuse it rather than open host-header poisoning.
if "*" in ALLOWED_HOSTS:
    raise ValueError("ALLOWED_HOSTS must list host names; '*' is refused.")

SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# WebSocket handshakes are accepted from the origin of SITE_URL and from
# these exact origins (scheme://host[:port]); see chatsite/origins.py.
ALLOWED_ORIGINS = env_list("ALLOWED_ORIGINS", [])
allowed_origins(SITE_URL, ALLOWED_ORIGINS)  # "*" or a typo stops start-up here

INSTALLED_APPS = [
    "daphne",  # first, so that runserver serves ASGI
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_tasks",
    "django_tasks_db",
    "conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "conversations.middleware.DefaultLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "conversations.accounts.actor.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "conversations.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "chatsite.urls"
ASGI_APPLICATION = "chatsite.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


DATABASES = {"default": database_config(env_str("DATABASE_URL"), VAR_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "conversations.User"

REDIS_URL = env_str("REDIS_URL")


CHANNEL_LAYERS = channel_layers(REDIS_URL)

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation"
        ".UserAttributeSimilarityValidator",
        # The display name is public: neighbours see it next to messages.
        "OPTIONS": {
            "user_attributes": ("username", "display_name", "email"),
        },
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", "Français"), ("en", "English")]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# `collectstatic` writes here (outside the checkout when a deployment says so);
# local and test settings serve from the sources instead (None).
STATIC_ROOT: Path | None = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [("app", BASE_DIR / "frontend")]
STORAGES = {
    "default": attachment_storage(env_str("ATTACHMENT_STORAGE")),
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Photos and documents (conversations/uploads.py, services/attachments.py).
# MEDIA_URL stays unset: no file is ever served by URL, only by the
# access-checked views of conversations/api/attachments.py.
MEDIA_ROOT = VAR_DIR / "media"
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
# Decoding an image takes about 4 bytes per pixel, whatever the file's size:
# a 40-megapixel photo needs some 160 MB while it is re-encoded. 40 MP is
# above what phones save by default (12 to 24 MP; 48 and 50 MP sensors bin
# to 12) and below a compressed "decompression bomb" (a small PNG of 60 MP
# or more), which is refused from its header before any pixel is decoded.
ATTACHMENT_MAX_PIXELS = env_int("ATTACHMENT_MAX_PIXELS", 40_000_000)
# Django's DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) counts form fields, not file
# parts, and FILE_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) only decides when an upload
# moves from memory to a temporary file: both keep their defaults and a
# 10 MiB upload goes through. A body declared larger than the limit is
# answered 413 before Django reads it (conversations/upload_guard.py).

# How many proxies in front of daphne append to X-Forwarded-For (production
# behind Caddy: 1). 0 believes only REMOTE_ADDR. Login throttling counts
# attempts per client address: see conversations/accounts/address.py.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Email: EMAIL_URL (smtp://user:pw@host:port, smtps:// for TLS, or with
# ?starttls), else Django's EMAIL_HOST/EMAIL_PORT, else files in var/emails
# for a developer to read (set in local.py).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20)  # Django's default None hangs forever
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Voisins <no-reply@localhost>")
EMAIL_SMTP = email_config(env_str("EMAIL_URL"), env_str("EMAIL_HOST"))
if EMAIL_SMTP:
    # Django's SMTP backend, plus DKIM signing when DKIM_* is set.
    EMAIL_BACKEND = "conversations.notifications.dkim.SigningSmtpBackend"
    EMAIL_HOST = EMAIL_SMTP["host"]
    EMAIL_PORT = env_int("EMAIL_PORT", EMAIL_SMTP["port"])
    EMAIL_HOST_USER = EMAIL_SMTP["user"]
    EMAIL_HOST_PASSWORD = EMAIL_SMTP["password"]
    EMAIL_USE_TLS = EMAIL_SMTP["starttls"]
    EMAIL_USE_SSL = EMAIL_SMTP["ssl"]

# Reply by email and bounce handling (docs/email.md): notification emails
# carry Reply-To reply+<token>@ and the envelope sender bounce+<token>@ this
# domain, whose mail `manage.py inbound_mail` receives. Unset: neither.
REPLY_EMAIL_DOMAIN = env_str("REPLY_EMAIL_DOMAIN").strip().lower()

# DKIM signature of outgoing mail, for relays that do not sign: all three,
# or none. The key is an RSA private key in PEM, inline or in a file.
DKIM_DOMAIN = env_str("DKIM_DOMAIN")
DKIM_SELECTOR = env_str("DKIM_SELECTOR")
DKIM_PRIVATE_KEY = env_str("DKIM_PRIVATE_KEY") or (
    Path(env_str("DKIM_PRIVATE_KEY_FILE")).read_text()
    if env_str("DKIM_PRIVATE_KEY_FILE")
    else ""
)

NOTIFY_EMAIL_DELAY_SECONDS = env_int("NOTIFY_EMAIL_DELAY_SECONDS", 120)
# A worker whose heartbeat is older than this is dead: its running tasks are
# queued again (a SIGKILL leaves django-tasks-db rows RUNNING forever).
NOTIFY_WORKER_STALE_SECONDS = env_int("NOTIFY_WORKER_STALE_SECONDS", 30)
NOTIFY_MAX_ATTEMPTS = env_int("NOTIFY_MAX_ATTEMPTS", 12)
# Threads of one notify_worker, per queue: emails and pushes never wait for
# each other, and a slow push endpoint holds one push thread at a time.
NOTIFY_EMAIL_THREADS = env_int("NOTIFY_EMAIL_THREADS", 2)
NOTIFY_PUSH_THREADS = env_int("NOTIFY_PUSH_THREADS", 4)
# Messages delivered live this long before a socket dropped, still unread and
# with no other socket left, are notified as if the resident were offline.
NOTIFY_DISCONNECT_GRACE_SECONDS = env_int("NOTIFY_DISCONNECT_GRACE_SECONDS", 120)

TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["notifications", "push"],
    }
}

VAPID_PRIVATE_KEY = env_str("VAPID_PRIVATE_KEY")
VAPID_PUBLIC_KEY = env_str("VAPID_PUBLIC_KEY")
VAPID_SUBJECT = env_str("VAPID_SUBJECT", "mailto:admin@localhost")
PUSH_ALLOW_PRIVATE_ENDPOINTS = env_bool("PUSH_ALLOW_PRIVATE_ENDPOINTS", False)
PUSH_TTL_SECONDS = env_int("PUSH_TTL_SECONDS", 3600)
# The whole request to a push service, name lookup to last byte.
PUSH_TIMEOUT_SECONDS = env_int("PUSH_TIMEOUT_SECONDS", 10)

# Limits of the wire contract and of abuse control (documented in README).
CHAT_MAX_FRAME_BYTES = 64 * 1024
# How long after sending a sender may still edit a message.
MESSAGE_EDIT_WINDOW_SECONDS = env_int("MESSAGE_EDIT_WINDOW_SECONDS", 900)
# Rates are "per second/burst" token buckets, overridable from the
# environment. Send, typing and connect count per resident across all their
# sockets and HTTP requests in one server process; errors count per socket.
CHAT_SEND_RATE = env_rate("CHAT_SEND_RATE", "5/30")
CHAT_TYPING_RATE = env_rate("CHAT_TYPING_RATE", "2/10")
CHAT_CONNECT_RATE = env_rate("CHAT_CONNECT_RATE", "1/30")
# `sync` answers up to 512 KiB per frame: limited like sends, so that a few
# bytes in cannot make megabytes out without bound.
CHAT_SYNC_RATE = env_rate("CHAT_SYNC_RATE", "5/30")
# GET /metrics (Prometheus): with a token, to `Authorization: Bearer <token>`;
# without, to loopback and private addresses only.
METRICS_TOKEN = env_str("METRICS_TOKEN")
# notify_worker serves its own metrics on this port (0: not at all).
NOTIFY_METRICS_PORT = env_int("NOTIFY_METRICS_PORT", 0)

# Server processes' garbage collector (chatsite/collector.py): every
# GC_FREEZE_SECONDS what survived a collection is frozen (never walked
# again), and every GC_FULL_SECONDS everything is thawed and collected once.
# GC_FREEZE_SECONDS=0 keeps CPython's own schedule.
GC_FREEZE_SECONDS = env_int("GC_FREEZE_SECONDS", 10)
GC_FULL_SECONDS = env_int("GC_FULL_SECONDS", 3600)

# On PostgreSQL, how many batches of sends one server process writes side by
# side (each lane a thread with its own connection; a community always uses
# the same lane). SQLite always uses one.
CHAT_SEND_LANES = env_int("CHAT_SEND_LANES", 4)

# Sockets one resident may hold on one server process (tabs, devices).
CHAT_MAX_SOCKETS_PER_RESIDENT = env_int("CHAT_MAX_SOCKETS_PER_RESIDENT", 20)
# Bytes that may wait for a client that stopped reading, then close 4408; it
# then has CHAT_SLOW_CLOSE_SECONDS to read them before the connection drops.
CHAT_OUTBOUND_BUDGET_BYTES = env_int("CHAT_OUTBOUND_BUDGET_BYTES", 1024 * 1024)
CHAT_SLOW_CLOSE_SECONDS = env_int("CHAT_SLOW_CLOSE_SECONDS", 30)
CHAT_ERROR_RATE = env_rate("CHAT_ERROR_RATE", "5/50")  # then close 4429

# One handler, with the filter that redacts tokens in URL paths. Django's
# own "django" logger is sent to it too (its default handlers would print
# unfiltered in DEBUG). daphne's access log bypasses logging altogether: it
# is off (`daphne --verbosity 0`, see README).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secret_paths": {"()": "chatsite.logfilters.RedactSecretPaths"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "chatsite.logfilters.JsonLines"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            # LOG_FORMAT=json: one JSON object per line, for a log shipper.
            "formatter": "json" if env_str("LOG_FORMAT") == "json" else "plain",
            "filters": ["redact_secret_paths"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        "django.channels.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # aiosmtpd (inbound_mail) logs each SMTP command at INFO, reply and
        # bounce addresses included: their tokens must not reach the logs.
        "mail.log": {"level": "WARNING"},
    },
}
