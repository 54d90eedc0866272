"""Per-resident rate limits, shared by every socket and HTTP request of a
resident: across every server process through Redis when REDIS_URL is set
(N processes must not give a resident N budgets), in this process otherwise
(the embedded default runs one).

Rates come from settings CHAT_<KIND>_RATE ("per second/burst" token buckets).
When Redis does not answer, the process's own buckets decide: an outage must
neither refuse every send nor lift the limits.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings

from .ratelimit import TokenBucket

logger = logging.getLogger(__name__)

_PRUNE_EVERY = 1000

# A token bucket in one Redis hash, updated atomically: KEYS[1] the bucket,
# ARGV rate per second, burst, now (seconds). Returns 1 when a token was taken.
_TAKE = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 't'))
local updated = tonumber(redis.call('HGET', KEYS[1], 'u'))
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if tokens == nil then tokens = burst; updated = now end
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'u', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return allowed
"""


def _rate(kind: str) -> tuple[float, int]:
    rate, burst = getattr(settings, f"CHAT_{kind.upper()}_RATE")
    return float(rate), int(burst)


class LocalLimits:
    """This process's buckets."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, int], TokenBucket] = {}
        self._calls = 0

    def allow(self, kind: str, user_id: int) -> bool:
        """Take a token from the resident's `kind` bucket ("send", "typing",
        "connect", "sync")."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get((kind, user_id))
            if bucket is None:
                bucket = TokenBucket(*_rate(kind))
                self._buckets[(kind, user_id)] = bucket
            self._calls += 1
            if self._calls % _PRUNE_EVERY == 0:
                self._prune(now)
            return bucket.allow(now)

    async def allow_async(self, kind: str, user_id: int) -> bool:
        return self.allow(kind, user_id)

    def _prune(self, now: float) -> None:
        # A bucket idle long enough to be full again carries no state.
        for key, bucket in list(self._buckets.items()):
            if bucket.updated is not None and now - bucket.updated > 600:
                del self._buckets[key]


class RedisLimits:
    """One bucket per resident and kind in Redis, for every process."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis
        import redis.asyncio

        self._prefix = prefix
        self._sync = redis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1
        )
        self._async = redis.asyncio.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1
        )
        self._take_sync = self._sync.register_script(_TAKE)
        self._take_async = self._async.register_script(_TAKE)
        self._fallback = LocalLimits()

    def _args(self, kind: str, user_id: int) -> tuple[list[str], list[Any]]:
        rate, burst = _rate(kind)
        # Redis's clock, not ours: the processes' clocks may differ.
        return [f"{self._prefix}:rate:{kind}:{user_id}"], [rate, burst]

    def allow(self, kind: str, user_id: int) -> bool:
        keys, args = self._args(kind, user_id)
        try:
            now: tuple[int, int] = self._sync.time()  # type: ignore[assignment]
            return bool(self._take_sync(keys=keys, args=[*args, _seconds(now)]))
        except Exception as error:
            logger.warning("rate limits: Redis unavailable, counting here: %r", error)
            return self._fallback.allow(kind, user_id)

    async def allow_async(self, kind: str, user_id: int) -> bool:
        keys, args = self._args(kind, user_id)
        try:
            now = await self._async.time()
            return bool(await self._take_async(keys=keys, args=[*args, _seconds(now)]))
        except Exception as error:
            logger.warning("rate limits: Redis unavailable, counting here: %r", error)
            return self._fallback.allow(kind, user_id)


def _seconds(redis_time: tuple[int, int]) -> float:
    seconds, microseconds = redis_time
    return seconds + microseconds / 1_000_000


class ResidentLimits:
    """The limits of this deployment, chosen from settings on first use."""

    def __init__(self) -> None:
        self._backend: LocalLimits | RedisLimits | None = None
        self._lock = threading.Lock()

    def _chosen(self) -> LocalLimits | RedisLimits:
        with self._lock:
            if self._backend is None:
                if settings.REDIS_URL:
                    prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
                    self._backend = RedisLimits(settings.REDIS_URL, prefix)
                else:
                    self._backend = LocalLimits()
            return self._backend

    def allow(self, kind: str, user_id: int) -> bool:
        """Take a token from the resident's `kind` bucket (sync callers)."""
        return self._chosen().allow(kind, user_id)

    async def allow_async(self, kind: str, user_id: int) -> bool:
        """The same from the event loop (a socket)."""
        return await self._chosen().allow_async(kind, user_id)


resident_limits = ResidentLimits()
