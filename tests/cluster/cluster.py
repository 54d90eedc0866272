"""The production shape on one machine: hosts as network namespaces on a
bridge, each running what a server of a real deployment would.

    10.77.0.1   the bridge: this test (the clients) and the SMTP sink
    10.77.0.2   db      private PostgreSQL cluster and redis-server
    10.77.0.10  proxy   HAProxy (deploy/haproxy.cfg.example), TLS on 443
    10.77.0.11  app1    daphne (chatsite.settings.production)
    10.77.0.12  app2    daphne
    10.77.0.21  work1   manage.py notify_worker
    10.77.0.22  work2   manage.py notify_worker

The site is https://10.77.0.10 (an IP address, so that no name resolution
is needed: the test certificate, made with trustme, names that address).
`Cluster.start()` builds it; `Cluster.destroy()` removes every namespace,
cable, process and folder, and runs however far the build went.
"""

from __future__ import annotations

import secrets
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from tests.notifications.doubles import SmtpServer
from tests.reliability.conftest import Hood
from tests.reliability.pgcluster import PrivatePostgres
from tests.support.client import login
from tests.support.servers import PYTHON, REPO_ROOT, RedisServer, Site, rss_kib

from . import network
from .hosts import Daphne, HAProxy, Worker
from .network import GATEWAY, SUBNET, Host, Impairment

DB = Host("db", "10.77.0.2")
PROXY = Host("proxy", "10.77.0.10")
APPS = (Host("app1", "10.77.0.11"), Host("app2", "10.77.0.12"))
WORKERS = (Host("work1", "10.77.0.21"), Host("work2", "10.77.0.22"))
HOSTS = (DB, PROXY, *APPS, *WORKERS)
SITE_URL = f"https://{PROXY.address}"
SMTP_PORT = 2525
# A short batching window and stale limit, so that the worker scenario
# takes seconds; heartbeats come every third of the stale limit.
EMAIL_DELAY_SECONDS = 4
WORKER_STALE_SECONDS = 9


@dataclass
class Entry:
    """Where clients reach the site: the proxy, over TLS with the test CA.
    Has what tests/reliability/load.py's `Tab` asks of a server."""

    base_url: str
    ca_path: Path
    ssl_context: ssl.SSLContext

    @property
    def origin(self) -> str:
        return self.base_url

    def ws_url(self, slug: str) -> str:
        return f"wss://{self.base_url.removeprefix('https://')}/ws/communities/{slug}/"


# The counters each daphne's /metrics gives a phase's record
# (conversations/metrics.py).
SCRAPED_METRICS = (
    "voisins_acks_total",
    "voisins_messages_stored_total",
    "voisins_layer_errors_total",
    "voisins_sockets_open",
)


@dataclass
class ClusterHood(Hood):
    """A community of the cluster's site; residents log in through the proxy."""

    entry: Entry | None = None

    def cookies(self, name: str, server: Any) -> dict[str, str]:
        assert self.entry is not None
        key = (name, "proxy")
        if key not in self._cookies:
            self._cookies[key] = login(
                self.entry.base_url, self.users[name], verify=str(self.entry.ca_path)
            )
        return dict(self._cookies[key])


class ProductionSite(Site):
    """The site's operator commands run with the servers' production
    environment (from the root namespace, as from an admin host)."""

    def __init__(self, *, production: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.production = production

    def env(self, **extra: str) -> dict[str, str]:
        return super().env(**{**self.production, **extra})


class Cluster:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"{network.PREFIX}run-"))
        self.smtp: SmtpServer | None = None
        self.postgres: PrivatePostgres | None = None
        self.redis: RedisServer | None = None
        self.site: ProductionSite | None = None
        self.daphnes: list[Daphne] = []
        self.workers: list[Worker] = []
        self.proxy: HAProxy | None = None
        self.impairment: Impairment | None = None
        self.entry: Entry | None = None
        self.timings: dict[str, float] = {}

    # Building

    def start(self) -> None:
        network.create_bridge()
        for host in HOSTS:
            network.create_host(host)
        self.smtp = SmtpServer(port=SMTP_PORT, host=GATEWAY).start()
        self._start_database_host()
        self.site = self._prepare_site()
        for host in APPS:
            daphne = Daphne(host, env=self.site.env(), root=self.root)
            daphne.start()
            self.daphnes.append(daphne)
        for host in WORKERS:
            # INFO: the worker says when it has started.
            worker = Worker(host, env=self.site.env(LOG_LEVEL="INFO"), root=self.root)
            worker.start()
            self.workers.append(worker)
        self._start_proxy()

    def _start_database_host(self) -> None:
        self.postgres = PrivatePostgres(
            host=DB.address,
            port=5432,
            wrap=DB.command(),
            trusted=str(SUBNET),
            prefix=f"{network.PREFIX}pg-",
        )
        self.postgres.init()
        self.postgres.start()
        self.postgres.create_database("voisins")
        self.redis = RedisServer(
            self.root / "redis",
            port=6379,
            host=DB.address,
            wrap=DB.command(),
            password=secrets.token_hex(16),
        )
        self.redis.start()

    def _prepare_site(self) -> ProductionSite:
        """The environment every process gets, then what docker-compose's
        `migrate` service does: migrations, static files, the deploy checks."""
        assert self.postgres is not None
        assert self.redis is not None
        production = {
            "DJANGO_SETTINGS_MODULE": "chatsite.settings.production",
            "SECRET_KEY": secrets.token_urlsafe(60),
            "SITE_URL": SITE_URL,
            "ALLOWED_HOSTS": PROXY.address,
            "TRUSTED_PROXY_COUNT": "1",
            "STATIC_ROOT": str(self.root / "static"),
            "EMAIL_URL": f"smtp://{GATEWAY}:{SMTP_PORT}",
            "EMAIL_TIMEOUT": "10",
            "NOTIFY_EMAIL_DELAY_SECONDS": str(EMAIL_DELAY_SECONDS),
            "NOTIFY_WORKER_STALE_SECONDS": str(WORKER_STALE_SECONDS),
            "LOG_LEVEL": "WARNING",
            "DEBUG": "",
        }
        site = ProductionSite(
            production=production,
            root=self.root / "site",
            database_url=self.postgres.url("voisins"),
            backend="postgres",
            redis_url=self.redis.url,
        )
        keys = site.manage("generate_vapid_keys")
        for line in keys.splitlines():
            name, _, value = line.partition("=")
            if name.startswith("VAPID_"):
                production[name] = value.strip()
        site.manage("migrate", "--no-input", "-v", "0", timeout=300)
        site.manage("collectstatic", "--no-input", "-v", "0", timeout=300)
        site.manage("check", "--deploy", "--fail-level", "ERROR")
        return site

    def _start_proxy(self) -> None:
        authority = trustme.CA()
        certificate = authority.issue_cert(PROXY.address)
        pem = self.root / "proxy.pem"
        certificate.private_key_and_cert_chain_pem.write_to_path(str(pem))
        ca_path = self.root / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_path))
        context = ssl.create_default_context(cafile=str(ca_path))
        self.entry = Entry(SITE_URL, ca_path, context)
        run_dir = self.root / "haproxy"
        run_dir.mkdir()
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "VOISINS_BIND": ":443",
            "VOISINS_HTTP_BIND": ":80",
            "VOISINS_CERT": str(pem),
            "VOISINS_HOST": PROXY.address,
            "VOISINS_RUN_DIR": str(run_dir),
            "VOISINS_WEB1": self.daphnes[0].address,
            "VOISINS_WEB2": self.daphnes[1].address,
        }
        self.proxy = HAProxy(PROXY, env=env, root=self.root)
        self.proxy.check_config()
        self.proxy.start()

    def hood(self, names: list[str], slug: str) -> ClusterHood:
        """A community and its residents, made with the operator commands."""
        assert self.site is not None
        users = {name: f"{name}_{slug}" for name in names}
        self.site.populate({slug: list(users.values())})
        return ClusterHood(site=self.site, slug=slug, users=users, entry=self.entry)

    def impair(self, *, delay_ms: float, loss: float) -> Impairment:
        self.impairment = Impairment(
            HOSTS,
            delay_ms=delay_ms,
            loss=loss,
            python=PYTHON,
            root=self.root,
            cwd=REPO_ROOT,
        )
        self.impairment.start()
        return self.impairment

    def database(self) -> Any:
        """A connection to the site's database (for counts no client sees)."""
        import psycopg

        assert self.postgres is not None
        return psycopg.connect(self.postgres.url("voisins"), connect_timeout=10)

    def server_figures(self) -> dict[str, int | str]:
        """What the servers tell about themselves, recorded with each phase:
        the resident memory of each process, and each daphne's own counters
        from its /metrics (since that process started: a phase that kills
        a daphne resets its counters)."""
        figures: dict[str, int | str] = {
            f"rss_kib_{process.host.name}": rss_kib(process.pid)
            for process in [*self.daphnes, *self.workers]
            if process.alive
        }
        for daphne in self.daphnes:
            if not daphne.alive:
                continue
            try:
                scraped = daphne.metrics(SCRAPED_METRICS)
            except OSError as error:
                figures[f"metrics_{daphne.host.name}_error"] = str(error)
                continue
            for name, value in scraped.items():
                key = f"{name.removeprefix('voisins_')}_{daphne.host.name}"
                figures[key] = int(value)
        return figures

    def messages_counted(self) -> int:
        """Messages the running daphnes say they stored (their /metrics), in
        all: the difference across a phase must be what the phase stored."""
        return sum(
            int(
                daphne.metrics(("voisins_messages_stored_total",))[
                    "voisins_messages_stored_total"
                ]
            )
            for daphne in self.daphnes
            if daphne.alive
        )

    def send_locks(self, address: str) -> dict[str, int]:
        """The per-community send locks (PostgreSQL advisory locks in the
        namespace of conversations/services/send/write.py): how many the
        sessions of the host at `address` hold, how many sessions wait."""
        from conversations.services.send.write import SEND_LOCK_NAMESPACE

        with self.database() as connection:
            row = connection.execute(
                "SELECT count(*) FILTER (WHERE l.granted AND a.client_addr = %s),"
                " count(*) FILTER (WHERE NOT l.granted)"
                " FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
                " WHERE l.locktype = 'advisory' AND l.classid = %s",
                [address, SEND_LOCK_NAMESPACE],
            ).fetchone()
        return {"held_by_host": int(row[0]), "sessions_waiting": int(row[1])}

    def unfinished_jobs(self, task: str) -> int:
        """Jobs of `task` ("send_email_batch") queued, due later or running."""
        with self.database() as connection:
            row = connection.execute(
                "SELECT count(*) FROM django_tasks_database_dbtaskresult "
                "WHERE status IN ('READY', 'RUNNING') AND task_path LIKE %s",
                [f"%.{task}"],
            ).fetchone()
        return int(row[0])

    # Removing

    def destroy(self, keep_logs: Path | None = None) -> None:
        """Everything goes, whatever state the build or a fault left; the
        logs are copied to `keep_logs` first."""
        if keep_logs is not None:
            keep_logs.mkdir(parents=True, exist_ok=True)
            logs = list(self.root.rglob("*.log"))
            if self.postgres is not None and self.postgres.log_path.exists():
                logs.append(self.postgres.log_path)
            for log in logs:
                shutil.copy(log, keep_logs / log.name)
        if self.impairment is not None:
            self.impairment.stop()
        for process in [self.proxy, *self.workers, *self.daphnes]:
            if process is not None:
                process.kill()
        if self.redis is not None:
            self.redis.kill()
        if self.postgres is not None:
            self.postgres.destroy()
        if self.smtp is not None:
            self.smtp.stop()
        for host in HOSTS:
            network.kill_namespace(host.namespace)
        network.sweep()
