"""Per-token request limits for the HTTP API, counted in Django's cache.

A fixed one-minute window per key, counted with ``cache.incr``: atomic in Redis and
Memcached, and within one process for the default local-memory cache. With that default
and several gunicorn workers, each worker counts on its own, so a client may make up to
the limit times the number of workers; configure a shared cache (``CACHES``, e.g.
Redis) to make the limit exact. The limit is ``FOLLOWUP_API_RATE_PER_MINUTE`` in
settings (600 by default; 0 turns limiting off).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

DEFAULT_RATE_PER_MINUTE = 600
WINDOW_SECONDS = 60


def rate_per_minute() -> int:
    return int(getattr(settings, "FOLLOWUP_API_RATE_PER_MINUTE", DEFAULT_RATE_PER_MINUTE))


def rate_limit_hit(*, key: str, limit: int, now: float) -> float | None:
    """Count one request for ``key``: None when allowed, else seconds until it may retry."""
    if limit <= 0:
        return None
    window = int(now // WINDOW_SECONDS)
    cache_key = f"followup-api-rate:{key}:{window}"
    # add() creates the counter only when absent, so two workers never reset each other.
    cache.add(cache_key, 0, timeout=WINDOW_SECONDS * 2)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # evicted between add() and incr(): this request starts the count
        cache.set(cache_key, 1, timeout=WINDOW_SECONDS * 2)
        count = 1
    if count <= limit:
        return None
    return (window + 1) * WINDOW_SECONDS - now
