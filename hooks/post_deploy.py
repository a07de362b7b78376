"""The guide's `postDeployHook`: clear the CDN and Redis caches, warm up endpoints, notify the team."""

from __future__ import annotations

from hooks.notify import notify_deployment
from stacks_cloud import DeploymentContext, Phase, from_env, hook
from stacks_cloud.hooks import flush_redis, invalidate_cloudfront, run_phase, warm_up

clear_cdn = invalidate_cloudfront(from_env("CLOUDFRONT_DISTRIBUTION_ID"), paths=["/*"])
clear_redis = flush_redis(from_env("REDIS_URL"))  # the password in the URL is never logged
warm_endpoints = warm_up(["/api/health", "/api/products", "/api/categories"], base_url=from_env("APP_URL"))


@hook(timeout=None)  # each step below has its own timeout
async def post_deploy_hook(context: DeploymentContext) -> None:
    context.logger.info("Running post-deployment tasks...")
    await run_phase(
        Phase.POST_DEPLOY,
        [clear_cdn, clear_redis, warm_endpoints, notify_deployment],
        context,
        environment=context.environment,
        logger=context.logger,
    )
    context.logger.info("Post-deployment tasks complete")
