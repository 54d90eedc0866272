"""Fixtures for offline notification: a deployment with its SMTP server, push
service and notification workers, all real processes or real servers.

One SQLite site is migrated once per session; every deployment starts from a
copy of it, so that each has its own outbox and task queue and a test's
workers never pick up another test's jobs.
"""

from __future__ import annotations

import itertools
import os
import secrets
import shutil
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_service
from tests.support.client import ChatSocket, HttpClient, login, open_socket
from tests.support.servers import DaphneServer, PostgresServer, Site, wait_until

from .doubles import PushService, SmtpServer, WorkerProcess

# The public address of the site: links in emails and pushes must use it,
# whatever address the server process listens on.
SITE_URL = "https://voisins.example.test"
EMAIL_DELAY_SECONDS = 3
# Heartbeats every STALE_SECONDS / 3: a loaded machine may delay a few of
# them without a live worker's job being taken over (and sent twice).
STALE_SECONDS = 10
# How long a job may take to be picked up and run on a loaded 2-core machine.
JOB_WITHIN = 60


def notify_env(**extra: str) -> dict[str, str]:
    """What every process of a notification test deployment runs with."""
    env = {
        "SITE_URL": SITE_URL,
        "NOTIFY_EMAIL_DELAY_SECONDS": str(EMAIL_DELAY_SECONDS),
        "NOTIFY_WORKER_STALE_SECONDS": str(STALE_SECONDS),
        "PUSH_ALLOW_PRIVATE_ENDPOINTS": "1",
        "EMAIL_TIMEOUT": "5",
        "LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def template_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A migrated SQLite site with collected static files, copied by tests."""
    root = tmp_path_factory.mktemp("notify-template")
    site = Site(
        root=root, database_url=f"sqlite:///{root / 'db.sqlite3'}", backend="sqlite"
    )
    site.prepare()
    return site


class Deployment:
    """One site (a copy of the template), one daphne, and its workers."""

    _numbers = itertools.count(1)

    def __init__(
        self,
        template: Site,
        root: Path,
        smtp_url: str,
        push: PushService,
        redis_url: str = "",
        database_url: str = "",
        **extra_env: str,
    ) -> None:
        self.root = root
        self.extra_env = extra_env
        root.mkdir(parents=True)
        if not database_url:
            for suffix in ("", "-wal", "-shm"):
                source = template.root / f"db.sqlite3{suffix}"
                if source.exists():
                    shutil.copy(source, root / source.name)
            (root / "static").symlink_to(template.root / "static")
        self.site = Site(
            root=root,
            database_url=database_url or f"sqlite:///{root / 'db.sqlite3'}",
            backend="postgres" if database_url else "sqlite",
            redis_url=redis_url,
        )
        if database_url:
            self.site.prepare()
        self.smtp_url = smtp_url
        self.push = push
        self.servers: list[DaphneServer] = []
        self.workers: list[WorkerProcess] = []
        self._push_key: str | None = None
        self.server = self.start_server()

    def env(self, **extra: str) -> dict[str, str]:
        return self.site.env(
            **notify_env(EMAIL_URL=self.smtp_url, **{**self.extra_env, **extra})
        )

    def start_server(self, **extra: str) -> DaphneServer:
        server = DaphneServer(
            env=self.env(**extra),
            log_path=self.root / f"daphne-{next(self._numbers)}.log",
        )
        server.start()
        self.servers.append(server)
        return server

    def start_worker(self, **extra: str) -> WorkerProcess:
        worker = WorkerProcess(
            env=self.env(**extra),
            log_path=self.root / f"worker-{next(self._numbers)}.log",
        )
        self.workers.append(worker)
        return worker.start()

    def push_key(self) -> str:
        """The server's VAPID public key, as a browser reads it."""
        if self._push_key is None:
            world = self.world({"keys": ["keyreader"]})
            answer = world.http("keyreader").get("/api/push/key/")
            assert answer.status_code == 200, answer.text
            self._push_key = answer.json()["public_key"]
        return self._push_key

    def unfinished_jobs(self, task: str) -> int:
        """Jobs of `task` ("send_push", "send_email_batch") queued, due
        later or running: none left means none of them can send any more."""
        query = (
            "SELECT count(*) FROM django_tasks_database_dbtaskresult "
            "WHERE status IN ('READY', 'RUNNING') AND task_path LIKE %s"
        )
        pattern = f"%.{task}"
        if self.site.backend == "sqlite":
            path = self.site.database_url.removeprefix("sqlite:///")
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
                row = connection.execute(query.replace("%s", "?"), [pattern])
                return int(row.fetchone()[0])
        import psycopg

        with psycopg.connect(self.site.database_url) as connection:
            found = connection.execute(query, [pattern]).fetchone()
            assert found is not None
            return int(found[0])

    def wait_jobs_done(self, task: str, timeout: float = JOB_WITHIN) -> None:
        """Wait until every `task` job has finished: what has not been
        sent by then never will be (the positive event "nothing more" checks
        wait for, instead of sleeping)."""
        wait_until(
            lambda: self.unfinished_jobs(task) == 0,
            timeout=timeout,
            what=f"every {task} job to finish",
            interval=0.2,
        )

    def world(self, spec: dict[str, list[str]]) -> World:
        """Communities (logical name -> residents) made with the operator commands."""
        tag = self.site.unique("n")
        slugs = {community: f"{community}-{tag}" for community in spec}
        users = {r: f"{r}_{tag}" for residents in spec.values() for r in residents}
        self.site.populate(
            {slugs[c]: [users[r] for r in residents] for c, residents in spec.items()}
        )
        return World(self, slugs, users)

    def shell(self, code: str) -> str:
        """`manage.py shell -c`, as an operator would change a setting."""
        return self.site.manage("shell", "-c", code)

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        for server in self.servers:
            server.stop()


@dataclass
class World:
    """Residents and communities of one test, under unique real names."""

    deployment: Deployment
    slugs: dict[str, str]
    users: dict[str, str]
    _cookies: dict[str, dict[str, str]] = field(default_factory=dict)
    _client_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def email(self, resident: str) -> str:
        return f"{self.users[resident]}@example.org"

    def cookies(self, resident: str) -> dict[str, str]:
        if resident not in self._cookies:
            base = self.deployment.server.base_url
            self._cookies[resident] = login(base, self.users[resident])
        return dict(self._cookies[resident])

    def http(self, resident: str, server: DaphneServer | None = None) -> HttpClient:
        base = (server or self.deployment.server).base_url
        return HttpClient(base, self.cookies(resident))

    def send(
        self,
        sender: str,
        to: list[str],
        body: str,
        community: str,
        server: DaphneServer | None = None,
    ) -> dict[str, Any]:
        """POST a message as `sender`; return the committed message object."""
        answer = self.http(sender, server).post(
            f"/api/communities/{self.slugs[community]}/messages/",
            {
                "client_id": f"c{next(self._client_ids)}",
                "body": body,
                "to": [self.users[r] for r in to],
            },
        )
        assert answer.status_code == 201, (answer.status_code, answer.text)
        message: dict[str, Any] = answer.json()
        return message

    def preferences(self, resident: str, **changes: Any) -> dict[str, Any]:
        client = self.http(resident)
        answer = (
            client.write("PATCH", "/api/me/preferences/", changes)
            if changes
            else client.get("/api/me/preferences/")
        )
        assert answer.status_code == 200, (answer.status_code, answer.text)
        result: dict[str, Any] = answer.json()
        return result

    def subscribe(self, resident: str, label: str = "browser") -> str:
        """Register a new browser of `resident` with the push service, made
        with the site's VAPID key as a browser's pushManager.subscribe is."""
        name, subscription = self.deployment.push.subscribe(
            label, server_key=self.deployment.push_key()
        )
        answer = self.http(resident).post("/api/push/subscriptions/", subscription)
        assert answer.status_code == 201, (answer.status_code, answer.text)
        return name


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    """An SMTP server that accepts everything (tests may make it misbehave)."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def push_service() -> Iterator[PushService]:
    service = PushService().start()
    yield service
    service.stop()


@pytest.fixture(scope="session")
def deployment(
    template_site: Site,
    tmp_path_factory: pytest.TempPathFactory,
    smtp: SmtpServer,
    push_service: PushService,
) -> Iterator[Deployment]:
    """A deployment with one running worker, shared by the tests that need
    nothing special (each makes its own residents)."""
    deployment = Deployment(
        template_site,
        tmp_path_factory.mktemp("notify") / "site",
        smtp.url,
        push_service,
    )
    try:
        deployment.start_worker()
        yield deployment
    finally:
        deployment.close()


@pytest.fixture
def new_deployment(
    template_site: Site, tmp_path: Path, push_service: PushService
) -> Iterator[Any]:
    """Make deployments of one test, with no worker yet; closed after it.

    backend="postgres" makes a new database on the machine's PostgreSQL;
    keyword arguments are environment variables of all its processes.
    """
    made: list[Deployment] = []
    postgres = PostgresServer()
    databases: list[str] = []

    def make(
        smtp_url: str, redis_url: str = "", backend: str = "sqlite", **env: str
    ) -> Deployment:
        database_url = ""
        if backend == "postgres":
            available, why = postgres.available()
            require_service(available, f"PostgreSQL at 127.0.0.1:5432: {why}")
            name = f"voisins_notify_{os.getpid()}_{secrets.token_hex(4)}"
            postgres.create_database(name)
            databases.append(name)
            database_url = postgres.url(name)
        deployment = Deployment(
            template_site,
            tmp_path / f"site{len(made)}",
            smtp_url,
            push_service,
            redis_url,
            database_url,
            **env,
        )
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        deployment.close()
    for name in databases:
        postgres.drop_database(name)


@pytest.fixture
async def connect() -> AsyncIterator[Any]:
    """Open sockets as residents' tabs; all are closed after the test."""
    opened: list[ChatSocket] = []

    async def _connect(
        world: World, resident: str, community: str, server: DaphneServer | None = None
    ) -> ChatSocket:
        target = server or world.deployment.server
        socket = await open_socket(
            target.ws_url(world.slugs[community]),
            world.cookies(resident),
            origin=target.origin,
            label=f"{resident}@{community}",
        )
        opened.append(socket)
        await socket.ping()  # the socket is registered (and counted online)
        return socket

    yield _connect
    for socket in opened:
        await socket.close()
