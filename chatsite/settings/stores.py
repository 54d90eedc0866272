"""Where the data lives: the database and the channel layers, built from
the environment (DATABASE_URL and its companions, REDIS_URL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .env import env_int, env_str


def database_config(url: str | None, var_dir: Path) -> dict[str, Any]:
    """Build the default database from DATABASE_URL, or the embedded SQLite
    file in `var_dir`."""
    if not url:
        var_dir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{var_dir / 'db.sqlite3'}"
    # Persistent connections: the send path runs one database call per batch,
    # and reconnecting (PostgreSQL forks a backend; SQLite re-runs its PRAGMAs)
    # cost a fifth of it in the bench profile. Health checks notice a
    # restarted server before a request uses the dead connection.
    config: dict[str, Any] = dict(
        dj_database_url.parse(url, conn_max_age=600, conn_health_checks=True)
    )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # WAL lets readers run beside the single writer; IMMEDIATE takes the write
        # lock at BEGIN so that message ids are assigned in commit order and
        # concurrent writers queue (busy timeout) instead of failing to upgrade.
        config["OPTIONS"] = {
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    elif config["ENGINE"] == "django.db.backends.postgresql":
        pooled = transaction_pooler(env_str("DATABASE_POOLER"))
        # PgBouncer in transaction mode refuses the `options` start-up
        # parameter and may hand each transaction another server session,
        # where a named (server-side) cursor opened by an earlier one does not
        # exist. The send lock is transaction-scoped (pg_advisory_xact_lock),
        # so it holds under such a pooler.
        config["OPTIONS"] = postgres_session_options(
            0 if pooled else env_int("DATABASE_IDLE_TRANSACTION_TIMEOUT", 15)
        )
        config["DISABLE_SERVER_SIDE_CURSORS"] = pooled
    return config


def transaction_pooler(name: str) -> bool:
    """DATABASE_POOLER: "" (direct to PostgreSQL) or "pgbouncer" (its
    transaction mode, docs/capacity.md)."""
    if name not in ("", "pgbouncer"):
        raise ImproperlyConfigured(
            f"DATABASE_POOLER={name!r}: expected 'pgbouncer' or nothing"
        )
    return name == "pgbouncer"


def postgres_session_options(idle_transaction_timeout: int) -> dict[str, Any]:
    """libpq options bounding what a vanished application host can hold.

    A host cut off between a send's lock and its COMMIT leaves its session
    "idle in transaction", holding the community's send lock: every send of
    that community, from every host, waits (the cluster test saw it). The
    server ends such a session after `idle_transaction_timeout` seconds (0:
    never; our transactions do no network work between statements, so a
    healthy one is never idle that long). The keepalives let this side
    notice a database host that vanished in about 25 s rather than the
    kernel's two hours. Behind PgBouncer in transaction mode, which refuses
    the `options` start-up parameter, set 0 here and put the timeout on the
    role instead (docs/capacity.md).
    """
    options: dict[str, Any] = {
        "keepalives": 1,
        "keepalives_idle": 10,
        "keepalives_interval": 5,
        "keepalives_count": 3,
    }
    if idle_transaction_timeout > 0:
        options["options"] = (
            f"-c idle_in_transaction_session_timeout={idle_transaction_timeout}s"
        )
    return options


def channel_layers(redis_url: str) -> dict[str, Any]:
    """The channel layer: channels-redis when REDIS_URL is set, else in-process."""
    if not redis_url:
        return {
            "default": {
                "BACKEND": "chatsite.layers.FastInMemoryChannelLayer",
                "CONFIG": {"capacity": 10_000, "expiry": 60},
            }
        }
    return {
        "default": {
            "BACKEND": "chatsite.layers.ResilientRedisChannelLayer",
            "CONFIG": {
                # socket_timeout None: the layer blocks in BZPOPMIN for 5 s, so
                # a finite socket timeout (redis-py 8's default is 5 s) makes
                # receive() raise and kills idle consumers.
                # max_connections: the pool cap otherwise answers 500 past 100
                # concurrent handshakes. capacity: every consumer of a process
                # shares one receive channel; 100 drops messages under load.
                # The host options reach redis-py's pool unchanged: pinned by
                # tests/integration/test_library_internals.py.
                "hosts": [
                    {
                        "address": redis_url,
                        "socket_timeout": None,
                        "socket_connect_timeout": 2,
                        "max_connections": 1000,
                        "health_check_interval": 30,
                    }
                ],
                "capacity": 10_000,
                "expiry": 60,
                "group_expiry": 86_400,
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "chat"),
            },
        },
        # The router's layer (conversations/router.py): Redis pub/sub pushes
        # each batch of events to every process as it is published. The core
        # layer pops one message per round trip (BZPOPMIN), which capped a
        # process at one batch per round trip between hosts: with 50 ms
        # between hosts, live delivery fell seconds behind (tests/cluster).
        # At most once, as every layer: `sync` fills what an outage loses.
        "router": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [{"address": redis_url, "socket_connect_timeout": 2}],
                "prefix": env_str("CHANNEL_LAYER_PREFIX", "chat") + ":router",
            },
        },
    }
