"""Small helpers to read configuration from the environment."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> tuple[float, int]:
    """A token-bucket rate written "per_second/burst", e.g. "10/30"."""
    value = os.environ.get(name) or default
    per_second, _, burst = value.partition("/")
    return float(per_second), int(burst or per_second)


def email_config(url: str, host: str) -> dict[str, Any] | None:
    """SMTP settings from EMAIL_URL (or a bare EMAIL_HOST); None for neither."""
    if not url:
        if not host:
            return None
        return {
            "host": host,
            "port": 25,
            "user": "",
            "password": "",
            "starttls": False,
            "ssl": False,
        }
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps", "smtp+tls"):
        raise ValueError("EMAIL_URL must start with smtp://, smtps:// or smtp+tls://")
    query = parse_qs(parts.query)
    ssl = parts.scheme == "smtps"
    starttls = parts.scheme == "smtp+tls" or "starttls" in query
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or (465 if ssl else 587 if starttls else 25),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "starttls": starttls,
        "ssl": ssl,
    }
