"""`flush_redis`: empty the app's Redis cache after a deploy (the guide's `redis.flushall()`).

The URL may carry a password (`redis://:secret@host:6379/0`, or `rediss://` for TLS); it is never
logged and never part of an error message. Pass it as `from_env("REDIS_URL")`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal
from urllib.parse import urlsplit

from stacks_cloud.core.secrets import redact_text
from stacks_cloud.hooks._common import Secret, reveal, split
from stacks_cloud.hooks.base import Hook


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def flush_redis(
    url: Secret, *, scope: Literal["all", "db"] = "all", timeout: float = 10, name: str = "flush_redis"
) -> Hook:
    """FLUSHALL (`scope="all"`, the guide's) or FLUSHDB (`scope="db"`: only the URL's database)."""

    def run(*args: Any) -> None:
        import redis

        _, context = split(args)
        address = reveal(url)
        if not address:
            raise RuntimeError("no Redis URL: set it (e.g. REDIS_URL) or remove this hook")
        where = _where(address)
        client = redis.Redis.from_url(address, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            flushed = client.flushall() if scope == "all" else client.flushdb()
        except redis.RedisError as error:
            # redis-py's messages do not contain the URL, but mask anything secret-looking all the same.
            reason = redact_text(f"{type(error).__name__}: {error}", [address])
            raise RuntimeError(f"could not flush Redis at {where}: {reason}") from None
        finally:
            client.close()
        if not flushed:
            raise RuntimeError(f"Redis at {where} refused to flush")
        context.logger.info("flushed Redis at %s (%s)", where, "all databases" if scope == "all" else "its database")

    async def hook(*args: Any) -> None:
        await asyncio.to_thread(run, *args)

    return Hook(hook, name=name, timeout=timeout * 3, secrets=(url,))
