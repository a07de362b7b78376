"""The reference app's cloud configuration: the Python twin of the guide's `config/cloud.ts`.

Edit `CLOUD` the way you would edit `config/cloud.ts`; camelCase keys from a Stacks config are
accepted as they are. `load_config()` validates it (one error listing every problem) and applies
the environment chosen on the command line.
"""

from __future__ import annotations

from typing import Any

from config.schema import CloudConfig, from_env
from hooks import (
    Migration,
    create_backup,
    flush_redis,
    invalidate_cloudfront,
    notify_slack,
    rollback_and_notify,
    run_migrations,
    validate_env,
    warm_up,
)

# The guide's "Custom Deployment Hooks", ready-made. Endpoints, URLs and secrets come from the
# environment of the deploying machine, read when the hook runs (never stored in the config).


def get_pending_migrations() -> list[Migration]:
    """The guide's `getPendingMigrations()`: the reference app has no database schema yet.

    Return your migrations here (`Migration(name, up)`), or use `run_migrations(command=[...])`
    with your framework's migrate command.
    """
    return []


slack = notify_slack(from_env("SLACK_WEBHOOK_URL"), channel="#deployments")

HOOKS: dict[str, Any] = {
    # Pre-deployment: validate configuration, run migrations, back up the current data.
    "preDeploy": [
        validate_env(["DATABASE_URL", "REDIS_URL", "AWS_ACCESS_KEY_ID"]),
        run_migrations(migrations=get_pending_migrations),
        create_backup(),  # the app's DynamoDB table in every region, named after the deployment
    ],
    # Post-deployment: clear the CDN and Redis caches, warm up endpoints, notify the team.
    "postDeploy": [
        invalidate_cloudfront(from_env("CLOUDFRONT_DISTRIBUTION_ID"), paths=["/*"]),
        flush_redis(from_env("REDIS_URL")),
        warm_up(["/api/health", "/api/products", "/api/categories"], base_url=from_env("APP_URL")),
        slack,  # "Deployed 1.4.0 to production"
    ],
    # On error: roll back to the last good deployment, then notify.
    "onError": rollback_and_notify(slack),
}

CLOUD: dict[str, Any] = {
    "appName": "my-app",
    "driver": "aws",
    "region": "us-east-1",
    # The guide's "Multi-Region Deployment": one stack per region, and a global stack that routes
    # api.myapp.com to the nearest healthy region (latency records + health checks on /api/health).
    "multiRegion": {
        "enabled": True,
        "primaryRegion": "us-east-1",
        "replicaRegions": ["eu-west-1", "ap-southeast-1"],
        "routing": "latency",  # 'latency' | 'geolocation' | 'weighted'
        "domainName": "api.myapp.com",
        "hostedZone": "myapp.com",  # an existing public zone, looked up by name
    },
    # Where each stack keeps its state. The default is local files in .state/; for a team use S3:
    #   "state": {"backend": "s3", "s3": {"bucket": "acme-tfstate", "region": "us-east-1"}},
    # Provider-specific configuration, as in the guide's `custom: { apiKey, region }`.
    "aws": {
        "region": "us-east-1",
    },
    "api": {
        "handler": "index.handler",
        "memorySize": 512,
        "timeout": 30,
        "codePath": "app/dist",
    },
    "hooks": HOOKS,
    # The guide's "Usage" of addScheduledFunction.
    "scheduledFunctions": [
        {"name": "DailyCleanup", "schedule": "cron(0 0 * * ? *)", "handler": "cleanup.handler"},
    ],
}

__all__ = ["CLOUD", "HOOKS", "CloudConfig", "from_env", "load_config"]


def load_config(environment: str | None = None, overrides: dict[str, Any] | None = None) -> CloudConfig:
    """Validate `CLOUD` (plus `overrides`) for `environment` (default: the config's, else development)."""
    data: dict[str, Any] = {**CLOUD, **(overrides or {})}
    if environment:
        data["environment"] = environment
    return CloudConfig.model_validate(data)
