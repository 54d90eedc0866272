"""End-to-end fixtures: real daphne processes on real databases and Redis.

A site (database + environment) is prepared once per backend and session with
`manage.py migrate`; each test module creates its own communities and
residents with the operator commands (`world`), so modules never see each
other's data. One daphne process per site serves the tests that need nothing
special; tests that need a special server start their own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import require_service
from tests.support.client import ChatSocket, HttpClient, login, open_socket
from tests.support.servers import (
    DaphneServer,
    PostgresServer,
    RedisServer,
    Site,
    redis_available,
)


class Deployments:
    """Sites and their default servers, made on first use, removed at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sites: dict[str, Site] = {}
        self.servers: dict[str, DaphneServer] = {}
        self.pg_databases: list[str] = []
        self.postgres = PostgresServer()
        self.errors: dict[str, str] = {}

    def site(self, backend: str) -> Site:
        if backend in self.errors:
            require_service(False, self.errors[backend])
        if backend not in self.sites:
            self.sites[backend] = self._make_site(backend)
        return self.sites[backend]

    def _make_site(self, backend: str) -> Site:
        root = self.root / backend
        if backend == "sqlite":
            url = f"sqlite:///{root / 'db.sqlite3'}"
        else:
            available, why = self.postgres.available()
            if not available:
                self.errors[backend] = f"PostgreSQL at 127.0.0.1:5432: {why}"
                require_service(False, self.errors[backend])
            name = f"voisins_e2e_{os.getpid()}_{secrets.token_hex(4)}"
            self.postgres.create_database(name)
            self.pg_databases.append(name)
            url = self.postgres.url(name)
        site = Site(root=root, database_url=url, backend=backend)
        site.prepare()
        return site

    def server(self, backend: str) -> DaphneServer:
        if backend not in self.servers:
            self.servers[backend] = self.site(backend).server(f"daphne-{backend}-")
        return self.servers[backend]

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()
        for name in self.pg_databases:
            self.postgres.drop_database(name)


@pytest.fixture(scope="session")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployments]:
    registry = Deployments(tmp_path_factory.mktemp("e2e"))
    yield registry
    registry.close()


@pytest.fixture(
    scope="session",
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def backend(request: pytest.FixtureRequest) -> str:
    """Each test that uses `site` runs on SQLite and on PostgreSQL."""
    return str(request.param)


@pytest.fixture(scope="session")
def site(deployments: Deployments, backend: str) -> Site:
    return deployments.site(backend)


@pytest.fixture(scope="session")
def server(deployments: Deployments, backend: str) -> DaphneServer:
    """The site's shared server (in-process channel layer)."""
    return deployments.server(backend)


@pytest.fixture(scope="session")
def sqlite_site(deployments: Deployments) -> Site:
    return deployments.site("sqlite")


@pytest.fixture(scope="session")
def sqlite_server(deployments: Deployments) -> DaphneServer:
    return deployments.server("sqlite")


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for one module (tests may kill and restart it)."""
    require_service(redis_available(), "redis-server is not installed")
    redis = RedisServer(tmp_path_factory.mktemp("redis"))
    redis.start()
    yield redis
    redis.stop()


@dataclass
class World:
    """Communities and residents created for one test module.

    Tests use logical names ("alice", "nord"); the real names carry a tag so
    that modules sharing a site never share residents or communities.
    """

    site: Site
    server: DaphneServer
    slugs: dict[str, str]
    users: dict[str, str]
    _cookies: dict[str, dict[str, str]] = field(default_factory=dict)

    def slug(self, community: str) -> str:
        return self.slugs[community]

    def user(self, resident: str) -> str:
        return self.users[resident]

    def cookies(self, resident: str, *, fresh: bool = False) -> dict[str, str]:
        """A logged-in session of the resident (a new one when `fresh`)."""
        if fresh:
            return login(self.server.base_url, self.users[resident])
        if resident not in self._cookies:
            self._cookies[resident] = login(self.server.base_url, self.users[resident])
        return dict(self._cookies[resident])

    def http(
        self, resident: str, *, fresh: bool = False, server: DaphneServer | None = None
    ) -> HttpClient:
        return HttpClient(
            (server or self.server).base_url, self.cookies(resident, fresh=fresh)
        )


def create_world(
    site: Site, server: DaphneServer, spec: Mapping[str, list[str]]
) -> World:
    """Create communities (logical name -> residents) with the operator commands."""
    tag = site.unique("w")
    slugs = {community: f"{community}-{tag}" for community in spec}
    users = {
        resident: f"{resident}_{tag}"
        for residents in spec.values()
        for resident in residents
    }
    site.populate(
        {
            slugs[community]: [users[r] for r in residents]
            for community, residents in spec.items()
        }
    )
    return World(site=site, server=server, slugs=slugs, users=users)


Connect = Callable[..., Awaitable[ChatSocket]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Open sockets as residents' tabs; all are closed after the test."""
    opened: list[ChatSocket] = []

    async def _connect(
        world: World,
        resident: str,
        community: str,
        *,
        server: DaphneServer | None = None,
        cookies: dict[str, str] | None = None,
        label: str = "",
    ) -> ChatSocket:
        target = server or world.server
        socket = await open_socket(
            target.ws_url(world.slug(community)),
            cookies if cookies is not None else world.cookies(resident),
            origin=target.origin,
            label=label or f"{resident}@{community}",
        )
        opened.append(socket)
        return socket

    yield _connect
    for socket in opened:
        await socket.close()
