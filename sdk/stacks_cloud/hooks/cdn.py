"""`invalidate_cloudfront`: clear the CDN cache after a deploy (the guide's `cloudfront.createInvalidation`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from stacks_cloud.hooks._common import ClientFactory, Setting, boto3_client, setting, split
from stacks_cloud.hooks.base import Hook


def invalidate_cloudfront(
    distribution_id: Setting,
    paths: Sequence[str] = ("/*",),
    *,
    wait: bool = False,
    client_factory: ClientFactory | None = None,
    name: str = "invalidate_cloudfront",
) -> Hook:
    """Invalidate `paths` (default `/*`) of the distribution; `wait=True` waits until it completed.

    `distribution_id` may be `from_env("CLOUDFRONT_DISTRIBUTION_ID")`, as in the guide.
    """
    factory = client_factory or boto3_client
    items = list(paths)
    if not items or any(not path.startswith("/") for path in items):
        raise ValueError(f"paths must be non-empty and start with '/', got {items!r}")

    def run(*args: Any) -> None:
        _, context = split(args)
        distribution = setting(distribution_id, context)
        if not distribution:
            raise RuntimeError(
                "no CloudFront distribution id: set it (e.g. CLOUDFRONT_DISTRIBUTION_ID) or remove this hook"
            )
        client = factory("cloudfront", region_name="us-east-1")  # CloudFront's API lives in us-east-1
        created = client.create_invalidation(
            DistributionId=distribution,
            InvalidationBatch={
                "Paths": {"Quantity": len(items), "Items": items},
                "CallerReference": f"{context.deployment_id}-{time.time_ns()}",
            },
        )
        invalidation = created["Invalidation"]["Id"]
        context.logger.info("invalidation %s of %s on %s created", invalidation, ", ".join(items), distribution)
        if wait:
            client.get_waiter("invalidation_completed").wait(DistributionId=distribution, Id=invalidation)
            context.logger.info("invalidation %s completed", invalidation)

    async def hook(*args: Any) -> None:
        await asyncio.to_thread(run, *args)

    return Hook(hook, name=name)
