"""Production: everything secret or site-specific must come from the environment."""

import os

from .base import *  # noqa: F403
from .base import SITE_URL
from .env import env_bool, env_int

SECRET_KEY = os.environ["SECRET_KEY"]
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
CSRF_TRUSTED_ORIGINS = [SITE_URL]

EMAIL_BACKEND = "conversations.notifications.dkim.SigningSmtpBackend"
