"""Pins for the libraries' private or undocumented behaviour our code relies on.

A minor release may rename a private method, change a tuple's shape or a
default without notice. Each test here checks one such reliance, cheaply, and
fails with the library, the version requirements.txt pins, what changed and
the file of ours to revisit; the application code marks each place with a
comment naming this file.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.metadata
import inspect
import io
import re
import socket
import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from autobahn.exception import Disconnected
from channels.consumer import AsyncConsumer, get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import InMemoryChannelLayer
from channels_redis.core import RedisChannelLayer
from daphne.cli import CommandLineInterface
from daphne.ws_protocol import WebSocketProtocol
from django.http import FileResponse
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

import chatsite.layers
from chatsite.layers import (
    _OUTAGE_ERRORS,
    FastInMemoryChannelLayer,
    ResilientRedisChannelLayer,
)
from chatsite.settings.stores import channel_layers
from conversations.notifications.tasks import QUEUE

REPO = Path(__file__).resolve().parents[2]


def _pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        match = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^]]*\])?==([^\s#;]+)", line)
        if match:
            pins[_canonical(match.group(1))] = match.group(3)
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


PINS = _pins()


def pin(distribution: str, *, via: str | None = None) -> str:
    """'channels==4.3.2' as requirements.txt pins it (and what is installed,
    when that differs: the test then ran against another version)."""
    installed = importlib.metadata.version(distribution)
    pinned = PINS.get(_canonical(distribution))
    if pinned is None:
        origin = f"pulled in by {pin(via)}" if via else "not in requirements.txt"
        return f"{distribution} {installed} ({origin})"
    if pinned != installed:
        return f"{distribution}=={pinned} (installed {installed})"
    return f"{distribution}=={pinned}"


def broke(distribution: str, what: str, ours: str, *, via: str | None = None) -> str:
    return f"{pin(distribution, via=via)}: {what}; {ours} relies on it"


IN_MEMORY = "chatsite/layers.py FastInMemoryChannelLayer"
RESILIENT = "chatsite/layers.py ResilientRedisChannelLayer"
CONSUMER = "conversations/consumers.py CommunityConsumer"
WORKER = "conversations/notifications/worker.py"
PUSH = "conversations/notifications/push.py _send_one"
SAFE_HTTP = "conversations/notifications/safe_http.py _Watched*Connection"


def in_memory_layer(**config: Any) -> FastInMemoryChannelLayer:
    """The layer as settings build it without REDIS_URL."""
    settings_config = channel_layers("")["default"]["CONFIG"]
    return FastInMemoryChannelLayer(**{**settings_config, **config})


# channels: InMemoryChannelLayer, subclassed by FastInMemoryChannelLayer.


async def test_in_memory_layer_calls_the_clean_expired_hook() -> None:
    """FastInMemoryChannelLayer throttles the stock full scan by overriding
    `_clean_expired`; that only works while the stock receive calls it."""
    assert hasattr(InMemoryChannelLayer, "_clean_expired"), broke(
        "channels", "InMemoryChannelLayer._clean_expired is gone", IN_MEMORY
    )
    parameters = inspect.signature(InMemoryChannelLayer._clean_expired).parameters
    assert list(parameters) == ["self"], broke(
        "channels",
        f"InMemoryChannelLayer._clean_expired now takes {list(parameters)}",
        IN_MEMORY,
    )
    layer = in_memory_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "x"})
    calls = []
    layer._clean_expired = lambda: calls.append(1)  # type: ignore[method-assign]
    await InMemoryChannelLayer.receive(layer, channel)
    assert calls, broke(
        "channels",
        "InMemoryChannelLayer.receive no longer calls self._clean_expired()",
        IN_MEMORY,
    )


async def test_in_memory_layer_channels_maps_names_to_queues() -> None:
    layer = in_memory_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "x"})
    queue = getattr(layer, "channels", {}).get(channel)
    assert isinstance(queue, asyncio.Queue), broke(
        "channels",
        "InMemoryChannelLayer.channels no longer maps a channel name to its "
        f"asyncio.Queue (found {queue!r})",
        f"{IN_MEMORY}._put",
    )


async def test_in_memory_layer_groups_maps_names_to_channels() -> None:
    layer = in_memory_layer()
    channel = await layer.new_channel()
    await layer.group_add("residents", channel)
    groups = getattr(layer, "groups", None)
    assert isinstance(groups, dict), broke(
        "channels", "InMemoryChannelLayer.groups is not a dict", IN_MEMORY
    )
    members = groups.get("residents")
    assert isinstance(members, dict), broke(
        "channels",
        "InMemoryChannelLayer.groups[group] is no longer a dict of channel "
        f"names (found {members!r})",
        f"{IN_MEMORY}.group_send",
    )
    assert list(members) == [channel], broke(
        "channels",
        f"InMemoryChannelLayer.groups[group] keys are not the channels: {members}",
        f"{IN_MEMORY}.group_send",
    )


async def test_in_memory_layer_queue_items_are_expiry_message_tuples() -> None:
    """What the stock send puts: (expiry timestamp, message)."""
    layer = in_memory_layer(expiry=60)
    channel = await layer.new_channel()
    message = {"type": "message.new", "id": 7}
    before = time.time()
    await layer.send(channel, message)
    item = layer.channels[channel].get_nowait()
    shape = "InMemoryChannelLayer queue items are no longer (expiry, message)"
    assert isinstance(item, tuple), broke(
        "channels", f"{shape}: {item!r}", f"{IN_MEMORY}._put"
    )
    assert len(item) == 2, broke("channels", f"{shape}: {item!r}", f"{IN_MEMORY}._put")
    expiry, queued = item
    assert queued == message, broke(
        "channels", f"{shape}: {item!r}", f"{IN_MEMORY}._put"
    )
    assert before + 60 <= expiry <= time.time() + 60, broke(
        "channels",
        f"{shape}: the first element {expiry!r} is not time.time() + expiry",
        f"{IN_MEMORY}._put",
    )


async def test_in_memory_layer_reads_the_items_our_put_writes() -> None:
    """The stock receive unpacks and the stock cleaner expires what `_put`
    queues: the same (expiry, message) shape."""
    layer = in_memory_layer()
    channel = await layer.new_channel()
    layer._put(channel, {"type": "typing"})
    received = await asyncio.wait_for(InMemoryChannelLayer.receive(layer, channel), 1)
    assert received == {"type": "typing"}, broke(
        "channels",
        f"InMemoryChannelLayer.receive returned {received!r} for an "
        "(expiry, message) item",
        f"{IN_MEMORY}._put",
    )
    expired = in_memory_layer(expiry=-1)
    channel = await expired.new_channel()
    expired._put(channel, {"type": "typing"})
    InMemoryChannelLayer._clean_expired(expired)
    assert channel not in expired.channels, broke(
        "channels",
        "InMemoryChannelLayer._clean_expired no longer reads item[0] as the "
        "expiry time",
        f"{IN_MEMORY}._put",
    )


def test_in_memory_layer_capacity_and_expiry() -> None:
    """`_put` sizes new queues with get_capacity() and dates items with expiry,
    both set by BaseChannelLayer from the settings' CONFIG."""
    layer = in_memory_layer(capacity=123, expiry=45)
    assert getattr(layer, "expiry", None) == 45, broke(
        "channels", "BaseChannelLayer no longer stores `expiry`", f"{IN_MEMORY}._put"
    )
    capacity = getattr(layer, "get_capacity", lambda channel: None)("specific.a!b")
    assert capacity == 123, broke(
        "channels",
        f"BaseChannelLayer.get_capacity(channel) answered {capacity!r}, not the "
        "configured capacity",
        f"{IN_MEMORY}._put",
    )


def test_in_memory_layer_validates_group_names() -> None:
    layer = in_memory_layer()
    assert callable(getattr(layer, "require_valid_group_name", None)), broke(
        "channels",
        "BaseChannelLayer.require_valid_group_name is gone",
        f"{IN_MEMORY}.group_send",
    )
    try:
        layer.require_valid_group_name("not a valid group name")
    except TypeError:
        return
    pytest.fail(
        broke(
            "channels",
            "require_valid_group_name accepts a name with spaces",
            f"{IN_MEMORY}.group_send",
        )
    )


def test_in_memory_layer_group_send_is_what_ours_replaces() -> None:
    """FastInMemoryChannelLayer.group_send does not call the stock one: it
    copies its work (validate, clean, send to each channel, drop on
    ChannelFull). Anything the stock one starts doing, ours would skip."""
    expected = {
        "ChannelFull",
        "_clean_expired",
        "append",
        "as_completed",
        "asyncio",
        "create_task",
        "dict",
        "groups",
        "isinstance",
        "keys",
        "require_valid_group_name",
        "send",
    }
    names = set(InMemoryChannelLayer.group_send.__code__.co_names)
    assert names == expected, broke(
        "channels",
        "InMemoryChannelLayer.group_send changed (names added: "
        f"{sorted(names - expected)}, gone: {sorted(expected - names)}); re-read "
        "it, then update this list",
        f"{IN_MEMORY}.group_send, which replaces it,",
    )


def _private_names(cls: type) -> set[str]:
    """Private methods, class attributes and self attributes `cls` defines in
    chatsite/layers.py (dunders excepted)."""
    tree = ast.parse(Path(inspect.getsourcefile(chatsite.layers) or "").read_text())
    node = next(
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__
    )
    names = set()
    for child in node.body:
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(child.name)
        elif isinstance(child, ast.Assign | ast.AnnAssign):
            targets = child.targets if isinstance(child, ast.Assign) else [child.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    for child in ast.walk(node):
        if (
            isinstance(child, ast.Attribute)
            and isinstance(child.ctx, ast.Store)
            and isinstance(child.value, ast.Name)
            and child.value.id == "self"
        ):
            names.add(child.attr)
    return {n for n in names if n.startswith("_") and not n.endswith("__")}


@pytest.mark.parametrize(
    ("ours", "stock", "distribution", "overrides"),
    [
        (
            FastInMemoryChannelLayer,
            InMemoryChannelLayer,
            "channels",
            {"_clean_expired"},
        ),
        (ResilientRedisChannelLayer, RedisChannelLayer, "channels-redis", set()),
    ],
)
def test_our_layer_private_names_do_not_shadow_the_stock_layer(
    ours: type, stock: type, distribution: str, overrides: set[str]
) -> None:
    """A private name of ours that the library also uses would silently
    replace its method or attribute."""
    taken = set(dir(stock)) | set(vars(stock()))
    clashes = (_private_names(ours) - overrides) & taken
    assert not clashes, broke(
        distribution,
        f"{stock.__name__} now defines {sorted(clashes)} too",
        f"chatsite/layers.py {ours.__name__} (rename ours)",
    )


# channels-redis: RedisChannelLayer, subclassed by ResilientRedisChannelLayer.


def test_redis_layer_accepts_our_config() -> None:
    config = channel_layers("redis://127.0.0.1:6379/0")["default"]["CONFIG"]
    try:
        inspect.signature(RedisChannelLayer).bind(**config)
    except TypeError as error:
        pytest.fail(
            broke(
                "channels-redis",
                f"RedisChannelLayer({', '.join(config)}) fails: {error}",
                "chatsite/settings/base.py channel_layers",
            )
        )


def test_redis_host_options_reach_the_connection_pool() -> None:
    """socket_timeout None (BZPOPMIN blocks 5 s), a 1,000-connection pool:
    host dict keys go to redis-py's ConnectionPool.from_url unchanged."""
    config = channel_layers("redis://127.0.0.1:6379/0")["default"]["CONFIG"]
    host = config["hosts"][0]
    pool = ResilientRedisChannelLayer(**config).create_pool(0)
    seen = {
        "socket_timeout": pool.connection_kwargs.get("socket_timeout", "unset"),
        "socket_connect_timeout": pool.connection_kwargs.get("socket_connect_timeout"),
        "health_check_interval": pool.connection_kwargs.get("health_check_interval"),
        "max_connections": pool.max_connections,
    }
    wanted = {key: host[key] for key in seen}
    assert seen == wanted, broke(
        "channels-redis",
        f"the hosts' options no longer reach the redis pool ({seen} != {wanted}), "
        f"with {pin('redis')}",
        "chatsite/settings/base.py channel_layers (and requirements.txt's note)",
    )


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _raised(call: Any) -> Exception | None:
    try:
        await asyncio.wait_for(call, 10)
    except Exception as error:
        return error
    return None


async def test_redis_layer_outage_errors_and_retry() -> None:
    """The resilient receive loop catches _OUTAGE_ERRORS and calls the stock
    receive again: it must raise those, and a second call after a failure
    must work like the first (no lock or counter left behind)."""
    address = f"redis://127.0.0.1:{_closed_port()}/0"
    layer = RedisChannelLayer(hosts=[{"address": address, "socket_connect_timeout": 1}])
    channel = await layer.new_channel()
    try:
        for attempt in ("first", "second"):
            error = await _raised(layer.receive(channel))
            assert isinstance(error, _OUTAGE_ERRORS), broke(
                "channels-redis",
                f"the {attempt} receive() with Redis down raised {error!r}, "
                f"not one of {_OUTAGE_ERRORS}",
                f"{RESILIENT}.receive",
            )
        error = await _raised(layer.group_add("residents", channel))
        assert isinstance(error, _OUTAGE_ERRORS), broke(
            "channels-redis",
            f"group_add() with Redis down raised {error!r}",
            f"{RESILIENT}.group_add",
        )
    finally:
        await layer.close_pools()


# channels: the consumer's dispatch (CommunityConsumer.dispatch).


def test_get_handler_name() -> None:
    cases = {"message.new": "message_new", "access.revoked": "access_revoked"}
    for event_type, handler in cases.items():
        name = get_handler_name({"type": event_type})
        assert name == handler, broke(
            "channels",
            f"channels.consumer.get_handler_name({event_type!r}) is {name!r}",
            f"{CONSUMER}.dispatch",
        )
    # The leading-underscore refusal keeps a layer event from naming a
    # private method of the consumer.
    try:
        name = get_handler_name({"type": "_private"})
    except ValueError:
        return
    pytest.fail(
        broke(
            "channels",
            f"get_handler_name('_private') returns {name!r} instead of refusing it",
            f"{CONSUMER}.dispatch",
        )
    )


def test_stock_dispatch_only_closes_old_connections() -> None:
    """CommunityConsumer.dispatch skips the stock dispatch, whose only other
    work is aclose_old_connections(); anything it starts doing, ours skips."""
    assert AsyncWebsocketConsumer.dispatch is AsyncConsumer.dispatch, broke(
        "channels",
        "AsyncWebsocketConsumer now has its own dispatch",
        f"{CONSUMER}.dispatch, which replaces it,",
    )
    expected = {"ValueError", "aclose_old_connections", "get_handler_name", "getattr"}
    names = set(AsyncConsumer.dispatch.__code__.co_names)
    assert names == expected, broke(
        "channels",
        f"AsyncConsumer.dispatch changed (names added: {sorted(names - expected)}, "
        f"gone: {sorted(expected - names)}); re-read it, then update this list",
        f"{CONSUMER}.dispatch, which replaces it,",
    )


async def test_database_sync_to_async_closes_old_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Why skipping the stock dispatch is safe: every database call of the
    consumer goes through database_sync_to_async, which closes stale
    connections before and after the call."""
    from channels import db

    calls = []
    monkeypatch.setattr(db, "close_old_connections", lambda: calls.append(1))
    await db.database_sync_to_async(lambda: None)()
    assert len(calls) == 2, broke(
        "channels",
        f"database_sync_to_async called close_old_connections {len(calls)} "
        "times, not before and after the call",
        f"{CONSUMER}.dispatch (which skips the stock one's call)",
    )


# daphne and autobahn.


def test_send_on_a_closed_daphne_socket_raises_disconnected() -> None:
    """send_frame suppresses autobahn's Disconnected: what daphne raises when
    a consumer sends after the client left."""
    protocol = WebSocketProtocol()
    protocol.state = WebSocketProtocol.STATE_CLOSED
    protocol.client_addr = None
    try:
        protocol.handle_reply({"type": "websocket.send", "text": "{}"})
    except Disconnected:
        return
    except Exception as error:
        pytest.fail(
            broke(
                "autobahn",
                f"a send on a closed socket raised {error!r}, not "
                "autobahn.exception.Disconnected",
                f"{CONSUMER}.send_frame",
                via="daphne",
            )
        )
    pytest.fail(
        broke(
            "autobahn",
            "a send on a closed socket no longer raises "
            "autobahn.exception.Disconnected",
            f"{CONSUMER}.send_frame",
            via="daphne",
        )
    )


def test_daphne_default_frame_cap_is_one_mebibyte() -> None:
    """We start daphne without --websocket-max-*-size."""
    from conversations.wire.limits import SYNC_BATCH_MAX_BYTES

    defaults = CommandLineInterface().parser.parse_args(["chatsite.asgi:application"])
    sizes = (defaults.websocket_max_frame_size, defaults.websocket_max_message_size)
    assert sizes == (2 * SYNC_BATCH_MAX_BYTES, 2 * SYNC_BATCH_MAX_BYTES), broke(
        "daphne",
        f"the default frame and message caps are {sizes}, not 1 MiB",
        "conversations/wire/limits.py SYNC_BATCH_MAX_BYTES (half of it) "
        "and README.md's Limits",
    )


def test_daphne_default_ping_interval_and_timeout() -> None:
    defaults = CommandLineInterface().parser.parse_args(["chatsite.asgi:application"])
    timings = (defaults.ping_interval, defaults.ping_timeout)
    assert timings == (20, 30), broke(
        "daphne",
        f"the default ping interval and timeout are {timings} s, not (20, 30)",
        "README.md (nginx proxy_read_timeout) and "
        "tests/reliability/test_faults.py (slow reader dropped)",
    )


# django-tasks-db: its worker command's Worker and the DBTaskResult row.

WORKER_KWARGS: dict[str, Any] = {
    "queue_names": [QUEUE],
    "interval": 0.5,
    "batch": False,
    "backend_name": "default",
    "startup_delay": False,
    "max_tasks": None,
    "worker_id": "pinned-test",
    "excluded_queue_names": [],
}


def test_db_worker_constructor_takes_our_keyword_arguments() -> None:
    """run_worker builds db_worker.Worker itself (the class is not public)."""
    signature = inspect.signature(Worker)
    try:
        signature.bind(**WORKER_KWARGS)
    except TypeError as error:
        pytest.fail(
            broke(
                "django-tasks-db",
                f"db_worker.Worker{signature} refuses our arguments: {error}",
                f"{WORKER} run_worker",
            )
        )


def test_db_worker_has_run() -> None:
    function = getattr(Worker, "run", None)
    assert callable(function), broke(
        "django-tasks-db", "db_worker.Worker.run is gone", f"{WORKER} _Threads"
    )
    parameters = list(inspect.signature(function).parameters)
    assert parameters == ["self"], broke(
        "django-tasks-db",
        f"db_worker.Worker.run now takes {parameters}",
        f"{WORKER} _Threads",
    )


def test_db_worker_run_stops_when_running_is_cleared() -> None:
    """notify_worker's promise (README, compose's stop_grace_period): SIGTERM
    lets the current tasks finish. Our handler clears each loop's `running`,
    which Worker.run reads before claiming the next task (and after each)."""
    worker = Worker(**WORKER_KWARGS)
    assert worker.running is True, broke(
        "django-tasks-db",
        "a new db_worker.Worker no longer starts with running = True",
        f"{WORKER} _Threads.stop",
    )
    assert "running" in Worker.run.__code__.co_names, broke(
        "django-tasks-db",
        "Worker.run no longer reads self.running",
        f"{WORKER} _Threads.stop",
    )
    worker.running = False
    finished = threading.Event()
    # No database here: a run that claimed anything would raise.
    thread = threading.Thread(target=lambda: (worker.run(), finished.set()))
    thread.start()
    thread.join(5)
    assert finished.is_set(), broke(
        "django-tasks-db",
        "Worker.run does not return at once when `running` is False",
        f"{WORKER} _Threads.stop",
    )


def test_db_task_result_fields_the_reaper_reads() -> None:
    """requeue_orphaned_tasks filters on status and started_at and reads the
    owner from worker_ids."""
    fields = {field.name: field for field in DBTaskResult._meta.get_fields()}
    for name in ("status", "started_at", "worker_ids"):
        assert name in fields, broke(
            "django-tasks-db",
            f"DBTaskResult.{name} is gone",
            f"{WORKER} requeue_orphaned_tasks",
        )
    assert fields["started_at"].null, broke(
        "django-tasks-db",
        "DBTaskResult.started_at is no longer nullable (we reset it to None)",
        f"{WORKER} requeue_orphaned_tasks",
    )
    assert fields["worker_ids"].get_default() == [], broke(
        "django-tasks-db",
        "DBTaskResult.worker_ids no longer defaults to a list",
        f"{WORKER} requeue_orphaned_tasks",
    )


def test_db_task_result_status_values() -> None:
    choices = {value for value, _ in DBTaskResult._meta.get_field("status").choices}
    for status in ("RUNNING", "READY"):
        assert status in choices, broke(
            "django-tasks-db",
            f"DBTaskResult.status has no {status!r} (choices: {sorted(choices)})",
            f"{WORKER} requeue_orphaned_tasks",
        )


def test_db_task_result_claim_records_the_owner_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The reaper takes worker_ids[-1] as the worker running the task."""
    row = DBTaskResult(worker_ids=["earlier-worker"])
    monkeypatch.setattr(row, "save", lambda **kwargs: None)
    row.claim("current-worker")
    claimed = (row.status, row.started_at is not None, row.worker_ids[-1:])
    assert claimed == ("RUNNING", True, ["current-worker"]), broke(
        "django-tasks-db",
        f"DBTaskResult.claim() now leaves (status, started_at set, last worker) "
        f"= {claimed}",
        f"{WORKER} requeue_orphaned_tasks",
    )


def test_db_task_result_ready_means_status_ready() -> None:
    """A requeued row (status READY, started_at None) is picked up again."""

    def lookups(node: Any) -> list[tuple[str, Any]]:
        found = []
        for child in node.children:
            if hasattr(child, "children"):
                found.extend(lookups(child))
            else:
                target = getattr(child.lhs, "target", None)
                found.append((getattr(target, "name", "?"), child.rhs))
        return found

    where = lookups(DBTaskResult.objects.ready().query.where)
    assert ("status", "READY") in where, broke(
        "django-tasks-db",
        f"DBTaskResult.objects.ready() no longer selects status READY ({where})",
        f"{WORKER} requeue_orphaned_tasks",
    )
    assert "started_at" not in {name for name, _ in where}, broke(
        "django-tasks-db",
        "DBTaskResult.objects.ready() now looks at started_at",
        f"{WORKER} requeue_orphaned_tasks (it sets started_at to None)",
    )


# pywebpush (and py-vapid behind it).


def test_webpush_takes_our_keyword_arguments() -> None:
    from pywebpush import webpush

    signature = inspect.signature(webpush)
    ours = (
        "subscription_info",
        "data",
        "vapid_private_key",
        "vapid_claims",
        "ttl",
        "headers",
        "timeout",
        "requests_session",
    )
    try:
        signature.bind(**dict.fromkeys(ours))
    except TypeError as error:
        pytest.fail(broke("pywebpush", f"webpush{signature}: {error}", PUSH))


class _StubPusher:
    """Stands in for pywebpush.WebPusher: no encryption, no HTTP."""

    answer: Any = SimpleNamespace(status_code=201)
    headers: dict[str, str] = {}

    def __init__(self, subscription_info: dict[str, Any], **kwargs: Any) -> None:
        pass

    def send(self, data: Any, headers: dict[str, str], **kwargs: Any) -> Any:
        type(self).headers = dict(headers)
        return self.answer


def _push(monkeypatch: pytest.MonkeyPatch, answer: Any) -> str:
    """Call webpush as _send_one does; return the public key it signs for."""
    import pywebpush

    from conversations.notifications.push import generate_vapid_keys

    private, public = generate_vapid_keys()
    monkeypatch.setattr(_StubPusher, "answer", answer)
    monkeypatch.setattr(pywebpush, "WebPusher", _StubPusher)
    pywebpush.webpush(
        subscription_info={
            "endpoint": "https://push.example.org/send/abc",
            "keys": {"p256dh": "unused", "auth": "unused"},
        },
        data="{}",
        vapid_private_key=private,
        vapid_claims={"sub": "mailto:admin@example.org"},
        ttl=60,
        headers={"Urgency": "high"},
        timeout=1,
    )
    return public


def test_webpush_signs_with_a_raw_base64url_private_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Our VAPID private key is the raw 32-byte scalar in base64url; webpush
    documents a Vapid instance or a PEM file path, and takes ours only through
    py-vapid's Vapid.from_string guessing the format from the length."""
    public = _push(monkeypatch, SimpleNamespace(status_code=201))
    authorization = _StubPusher.headers.get("Authorization", "")
    assert authorization.startswith("vapid t="), broke(
        "pywebpush",
        f"webpush signed with the header {authorization!r}, with {pin('py-vapid')}",
        f"{PUSH} (raw base64url VAPID_PRIVATE_KEY)",
    )
    assert f"k={public}" in authorization, broke(
        "pywebpush",
        "webpush signed with another key than our raw base64url private key, "
        f"with {pin('py-vapid')}",
        f"{PUSH} (raw base64url VAPID_PRIVATE_KEY)",
    )


def test_webpush_exception_carries_the_response(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """_send_one reads the push service's status and Retry-After from the
    exception's `response`."""
    from pywebpush import WebPushException

    from conversations.notifications.push import _retry_after

    answer = SimpleNamespace(
        status_code=429,
        reason="Too Many Requests",
        text="",
        headers={"Retry-After": "7"},
    )
    with pytest.raises(WebPushException) as raised:
        _push(monkeypatch, answer)
    response = getattr(raised.value, "response", None)
    assert response is answer, broke(
        "pywebpush",
        f"WebPushException.response is {response!r}, not the push service's answer",
        PUSH,
    )
    assert _retry_after(response) == 7


# Django: serving a file under ASGI.


def test_django_lists_a_sync_file_iterator_under_asgi() -> None:
    """A FileResponse over a plain file, served by the ASGI handler, is read
    whole into a list (with a warning); conversations/api/attachments.py
    file_response streams from an async iterator instead."""
    response = FileResponse(io.BytesIO(b"x" * 10_000))

    async def consume() -> int:
        return sum([len(part) async for part in response])

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert asyncio.run(consume()) == 10_000
    messages = [str(w.message) for w in caught]
    assert any("must consume synchronous iterators" in m for m in messages), broke(
        "Django",
        "StreamingHttpResponse.__aiter__ no longer lists a sync iterator",
        "conversations/api/attachments.py file_response (its async chunks "
        "may be unnecessary now)",
    )


def test_webpush_posts_through_our_session_with_our_timeout() -> None:
    """_send_one hands webpush a guarded session (safe_http): pywebpush must
    post through it, once, passing `timeout` on, which our adapter takes as
    the whole exchange's deadline."""
    import pywebpush

    from conversations.notifications.push import generate_vapid_keys
    from tests.notifications.doubles import browser_keys

    calls: list[dict[str, Any]] = []

    class Session:
        def post(self, url: str, **kwargs: Any) -> Any:
            calls.append({"url": url, **kwargs})
            return SimpleNamespace(status_code=201, text="", headers={})

    private, _ = generate_vapid_keys()
    _, _, keys = browser_keys()
    pywebpush.webpush(
        subscription_info={"endpoint": "https://push.example.org/x", "keys": keys},
        data="{}",
        vapid_private_key=private,
        vapid_claims={"sub": "mailto:admin@example.org"},
        timeout=7,
        requests_session=Session(),  # type: ignore[arg-type]
    )
    shapes = [(call["url"], call.get("timeout")) for call in calls]
    assert shapes == [("https://push.example.org/x", 7)], broke(
        "pywebpush",
        f"webpush(requests_session=..., timeout=7) posted {shapes}",
        "conversations/notifications/push.py _send_one and safe_http.py",
    )


# urllib3: the connection classes safe_http.py subclasses.


def test_urllib3_connections_open_their_socket_in_new_conn() -> None:
    """safe_http watches each socket (its deadline shuts it down) where
    HTTPConnection._new_conn returns it; HTTPS must open its socket there
    too, before wrapping it in TLS."""
    from urllib3.connection import HTTPConnection, HTTPSConnection

    assert list(inspect.signature(HTTPConnection._new_conn).parameters) == ["self"], (
        broke("urllib3", "HTTPConnection._new_conn takes arguments", SAFE_HTTP)
    )
    for cls in (HTTPConnection, HTTPSConnection):
        assert "_new_conn" in cls.connect.__code__.co_names, broke(
            "urllib3", f"{cls.__name__}.connect no longer calls _new_conn", SAFE_HTTP
        )
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        opened = HTTPConnection("127.0.0.1", port, timeout=2)._new_conn()
        try:
            assert isinstance(opened, socket.socket), broke(
                "urllib3", f"_new_conn returned {opened!r}", SAFE_HTTP
            )
            assert opened.getpeername()[1] == port, broke(
                "urllib3", "_new_conn no longer returns a connected socket", SAFE_HTTP
            )
        finally:
            opened.close()


# Django: the SMTP backend's connection class (SigningSmtpBackend).

DKIM = "conversations/notifications/dkim.py SigningSmtpBackend"


def test_smtp_backend_sends_bytes_through_its_connection_class() -> None:
    """Django's SMTP backend opens `self.connection_class(...)` and hands
    each message to that object's sendmail as bytes: the DKIM signature is
    added there."""
    from django.core.mail import EmailMessage
    from django.core.mail.backends.smtp import EmailBackend

    seen: list[object] = []

    class Recorder:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append("opened")

        def sendmail(self, from_addr: str, to_addrs: Any, msg: Any) -> dict[str, Any]:
            seen.append(msg)
            return {}

        def quit(self) -> None:
            pass

    class Probe(EmailBackend):
        @property
        def connection_class(self) -> Any:
            return Recorder

    backend = Probe(host="127.0.0.1", port=9, username="", password="", use_tls=False)
    message = EmailMessage("Sujet", "Corps", "a@example.org", ["b@example.org"])
    assert backend.send_messages([message]) == 1
    opened, *sent = seen
    assert (opened, len(sent)) == ("opened", 1), broke(
        "Django", f"the SMTP backend did {seen!r} with its connection_class", DKIM
    )
    assert isinstance(sent[0], bytes), broke(
        "Django", f"sendmail got {type(sent[0]).__name__}, not the message bytes", DKIM
    )
    assert b"Subject: Sujet" in sent[0]


def test_django_tasks_db_stores_no_run_after_as_the_maximal_date() -> None:
    """notify_worker's queue gauges (conversations/notifications/
    worker_metrics.py) read a job without run_after as due since enqueued:
    django-tasks-db must still store it with get_date_max() and count it in
    ready()."""
    from django_tasks_db.models import DBTaskResult, get_date_max

    assert get_date_max().year == 9999, broke(
        "django-tasks-db",
        "get_date_max() is no longer year 9999",
        "conversations/notifications/worker_metrics.py QueueCollector",
    )
    assert hasattr(DBTaskResult.objects, "ready"), broke(
        "django-tasks-db",
        "DBTaskResult.objects.ready() is gone",
        "conversations/notifications/worker_metrics.py QueueCollector",
    )
