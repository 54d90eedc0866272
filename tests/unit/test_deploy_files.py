"""The deployment files keep secrets where they belong: daphne's access log
off (it prints link tokens), Redis behind a password."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def daphne_commands(text: str) -> list[str]:
    """Each daphne command in a file, joined across the lines it spans (a
    YAML folded block, a JSON CMD, a Python list)."""
    flat = re.sub(r"[\s\",\[\]]+", " ", text)
    return re.findall(r"daphne (?:(?!daphne ).)*?chatsite\.asgi:application", flat)


@pytest.mark.parametrize(
    "name", ["Dockerfile", "docker-compose.yml", "README.md", "scripts/run_local.py"]
)
def test_every_served_daphne_has_no_access_log(name: str) -> None:
    """daphne's access log writes full paths (unsubscribe, invitation and
    reset tokens) past Python logging and its redaction: every command that
    serves the site turns it off."""
    commands = daphne_commands((ROOT / name).read_text(encoding="utf-8"))
    assert commands, f"no daphne command found in {name}"
    for command in commands:
        assert "--verbosity 0" in command, command


def test_compose_redis_requires_a_password() -> None:
    """The compose Redis runs with requirepass from the env file, and the
    application's REDIS_URL carries that password."""
    compose = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert '--requirepass "$$REDIS_PASSWORD"' in compose
    assert "REDIS_URL: redis://:${REDIS_PASSWORD:?" in compose
    example = (ROOT / "deploy" / "env.example").read_text(encoding="utf-8")
    assert re.search(r"^REDIS_PASSWORD=", example, re.MULTILINE)
