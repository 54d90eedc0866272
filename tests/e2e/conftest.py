"""End-to-end fixtures: real daphne processes on real databases and Redis.

A site (database + environment) is prepared once per backend and session with
`manage.py migrate`, then populated with the operator commands: the shared
communities ("nord", "sud") and, for each test module, the residents its
`WORLD` names, tagged with the module's name so that no two modules share a
resident or a conversation. Doing it in one go keeps process start-ups (and
password hashing) to a handful per session. One daphne process per site
serves the tests that need nothing special; tests that need a special server
start their own.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

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

Spec = Mapping[str, list[str]]  # community -> residents (logical names)


class Deployments:
    """Sites and their default servers, made on first use, removed at the end."""

    def __init__(self, root: Path, specs: dict[str, Spec]) -> None:
        self.root = root
        self.specs = specs
        self.sites: dict[str, Site] = {}
        self.servers: dict[str, DaphneServer] = {}
        self.worlds: dict[tuple[str, str], World] = {}
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
        residents: dict[str, list[str]] = {}
        for module, spec in self.specs.items():
            for community, names in spec.items():
                residents.setdefault(community, []).extend(
                    resident_name(name, module) for name in names
                )
        if residents:
            site.populate(residents)
        return site

    def server(self, backend: str) -> DaphneServer:
        if backend not in self.servers:
            self.servers[backend] = self.site(backend).server(f"daphne-{backend}-")
        return self.servers[backend]

    def world(self, backend: str, module: ModuleType, server: DaphneServer) -> World:
        """The residents of a module's `WORLD`, as that module sees them."""
        tag = module_tag(module)
        key = (backend, tag)
        if key not in self.worlds:
            spec: Spec = module.WORLD
            site = self.site(backend)
            if tag not in self.specs:
                # A module outside the collected session: populate it now.
                self.specs[tag] = spec
                site.populate(
                    {
                        c: [resident_name(n, tag) for n in names]
                        for c, names in spec.items()
                    }
                )
            self.worlds[key] = World(
                site=site,
                server=server,
                slugs={community: community for community in spec},
                users={
                    name: resident_name(name, tag)
                    for names in spec.values()
                    for name in names
                },
            )
        return self.worlds[key]

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()
        for name in self.pg_databases:
            self.postgres.drop_database(name)


def module_tag(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1].removeprefix("test_")


def resident_name(name: str, tag: str) -> str:
    """alice of test_delivery.py is the username alice.delivery."""
    return f"{name}.{tag}"


@pytest.fixture(scope="session")
def deployments(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployments]:
    specs: dict[str, Spec] = {}
    for item in request.session.items:
        module = getattr(item, "module", None)
        if module is not None and hasattr(module, "WORLD"):
            specs.setdefault(module_tag(module), module.WORLD)
    registry = Deployments(tmp_path_factory.mktemp("e2e"), specs)
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
def world(
    request: pytest.FixtureRequest,
    deployments: Deployments,
    site: Site,
    server: DaphneServer,
) -> World:
    """The residents the test module's `WORLD` names, on this site."""
    return deployments.world(site.backend, request.module, server)


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
