"""Redis clients with bounded waits, for everything the hub asks of Redis.

redis-py waits as long as the kernel lets it for a connection to an
unreachable host, and retries with backoff: a handler that touched Redis
could hang for minutes while it was away. These clients give up after a few
seconds, so callers can say "Redis is unavailable" and go on.
"""
from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 2.0


def bounded_redis(url: str, *, read_timeout: float | None = COMMAND_TIMEOUT_S, **options: Any) -> aioredis.Redis:
    """A client that connects within CONNECT_TIMEOUT_S and retries once.
    `read_timeout=None` for a subscriber: its channel may be quiet for hours."""
    return aioredis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=read_timeout, socket_keepalive=True,
        retry=Retry(NoBackoff(), 1), **options,
    )
