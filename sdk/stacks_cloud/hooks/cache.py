"""`flush_redis`: empty the app's Redis cache after a deploy (the guide's `redis.flushall()`).

The URL may carry a password (`redis://:secret@host:6379/0`, or `rediss://` for TLS); it is never
logged and never part of an error message. Pass it as `from_env("REDIS_URL")`.

For the SDK's `RedisCluster` (IAM authentication, no password): `flush_redis("rediss://<user>@<host>:6379/0",
iam=IamAuth(cache_name=..., region=...))` signs a 15-minute token with the deploying machine's AWS
credentials (`elasticache:Connect` on the group and the user) and sends it as the user's password.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from stacks_cloud.core.secrets import redact_text, register_secret
from stacks_cloud.hooks._common import Secret, reveal, split
from stacks_cloud.hooks.base import Hook


@dataclass(frozen=True)
class IamAuth:
    """ElastiCache IAM authentication: the replication group's id (`cache_name`) and its region."""

    cache_name: str
    region: str


def iam_auth_token(user_id: str, auth: IamAuth, *, credentials: Any = None, expires: int = 900) -> str:
    """The token ElastiCache takes as `user_id`'s password under IAM authentication: a SigV4 presigned
    `connect` request for the cache, without its scheme (AWS's documented recipe), valid `expires` s."""
    import botocore.session
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    credentials = credentials or botocore.session.get_session().get_credentials()
    if credentials is None:
        raise RuntimeError("no AWS credentials to sign the cache's IAM authentication token with")
    request = AWSRequest(method="GET", url=f"https://{auth.cache_name}/", params={"Action": "connect", "User": user_id})
    SigV4QueryAuth(credentials, "elasticache", auth.region, expires=expires).add_auth(request)
    return str(request.url).removeprefix("https://")


def _where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path or ''}"


def flush_redis(
    url: Secret,
    *,
    scope: Literal["all", "db"] = "all",
    iam: IamAuth | None = None,
    timeout: float = 10,
    name: str = "flush_redis",
) -> Hook:
    """FLUSHALL (`scope="all"`, the guide's) or FLUSHDB (`scope="db"`: only the URL's database). `iam`:
    authenticate as the URL's user with an IAM token (the SDK's `RedisCluster`). Default: the URL's
    password, if any."""

    def run(*args: Any) -> None:
        import redis

        _, context = split(args)
        address = reveal(url)
        if not address:
            raise RuntimeError("no Redis URL: set it (e.g. REDIS_URL) or remove this hook")
        where = _where(address)
        options: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        if iam is not None:
            user = urlsplit(address).username
            if not user:
                raise RuntimeError("IAM authentication needs the user in the URL: rediss://<user>@<host>:6379/0")
            options |= {"username": user, "password": iam_auth_token(user, iam)}
            register_secret(options["password"])
        client = redis.Redis.from_url(address, **options)
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
