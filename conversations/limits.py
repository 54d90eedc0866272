"""Per-resident rate limits, shared by every socket and HTTP request of a
resident in this server process (each process counts on its own)."""

from __future__ import annotations

import threading
import time

from django.conf import settings

from .ratelimit import TokenBucket

_PRUNE_EVERY = 1000


class ResidentLimits:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, int], TokenBucket] = {}
        self._calls = 0

    def allow(self, kind: str, user_id: int) -> bool:
        """Take a token from the resident's `kind` bucket ("send", "typing",
        "connect"); rates come from settings CHAT_<KIND>_RATE."""
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get((kind, user_id))
            if bucket is None:
                rate, burst = getattr(settings, f"CHAT_{kind.upper()}_RATE")
                bucket = TokenBucket(rate, burst)
                self._buckets[(kind, user_id)] = bucket
            self._calls += 1
            if self._calls % _PRUNE_EVERY == 0:
                self._prune(now)
            return bucket.allow(now)

    def _prune(self, now: float) -> None:
        # A bucket idle long enough to be full again carries no state.
        for key, bucket in list(self._buckets.items()):
            if bucket.updated is not None and now - bucket.updated > 600:
                del self._buckets[key]


resident_limits = ResidentLimits()
