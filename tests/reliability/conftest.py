"""Fixtures of the fault, abuse and security scenarios (docs/reliability.md).

Scenarios marked `slow` (load, outages, memory) run only with RELIABILITY=1,
as `make reliability` sets; `make test` runs the rest.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.support.client import login
from tests.support.servers import (
    DaphneServer,
    RedisServer,
    Site,
    redis_available,
)

from .pgcluster import PrivatePostgres, cluster_tools_available

RELIABILITY = os.environ.get("RELIABILITY") == "1"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    if RELIABILITY:
        return
    skip = pytest.mark.skip(
        reason="long scenario: run with RELIABILITY=1 (make reliability)"
    )
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


_tags = itertools.count(1)


@dataclass
class Hood:
    """One community of a site and its residents (real names carry a tag)."""

    site: Site
    slug: str
    users: dict[str, str]
    _cookies: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def user(self, name: str) -> str:
        return self.users[name]

    def cookies(self, name: str, server: DaphneServer) -> dict[str, str]:
        """A session of the resident (sessions live in the shared database,
        so one login serves every server process of the site)."""
        key = (name, "any")
        if key not in self._cookies:
            self._cookies[key] = login(server.base_url, self.users[name])
        return dict(self._cookies[key])


def make_hood(site: Site, names: list[str], prefix: str = "rel") -> Hood:
    tag = f"{prefix}{next(_tags)}{os.getpid()}"
    slug = f"{prefix}-{tag}"
    users = {name: f"{name}_{tag}" for name in names}
    site.populate({slug: list(users.values())})
    return Hood(site=site, slug=slug, users=users)


@pytest.fixture(scope="session")
def rel_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="session")
def sqlite_site(rel_root: Path) -> Site:
    """A SQLite deployment shared by the scenarios that do not break it."""
    root = rel_root / "sqlite"
    site = Site(
        root=root, database_url=f"sqlite:///{root / 'db.sqlite3'}", backend="sqlite"
    )
    site.prepare()
    return site


@pytest.fixture(scope="session")
def sqlite_server(sqlite_site: Site) -> Iterator[DaphneServer]:
    server = sqlite_site.server("daphne-rel-")
    yield server
    server.stop()


@pytest.fixture
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for one test (it may kill and restart it)."""
    require_service(redis_available(), "redis-server is not installed")
    redis = RedisServer(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    """Our own PostgreSQL cluster on a free port, which tests may stop."""
    available, why = cluster_tools_available()
    require_service(available, why)
    cluster = PrivatePostgres()
    try:
        cluster.init()
        cluster.start()
    except Exception as error:
        cluster.destroy()
        require_service(False, f"private PostgreSQL cluster: {error!r}")
    yield cluster
    cluster.destroy()


def postgres_site(
    cluster: PrivatePostgres, root: Path, name: str, redis_url: str = ""
) -> Site:
    cluster.create_database(name)
    site = Site(
        root=root,
        database_url=cluster.url(name),
        backend="postgres",
        redis_url=redis_url,
    )
    site.prepare()
    return site
