"""The reference app's cloud configuration: the Python twin of the guide's `config/cloud.ts`.

Edit `CLOUD` the way you would edit `config/cloud.ts`; camelCase keys from a Stacks config are
accepted as they are. `load_config()` validates it (one error listing every problem) and applies
the environment chosen on the command line.
"""

from __future__ import annotations

from typing import Any

from config.schema import CloudConfig, from_env

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
    # The guide's "Usage" of addScheduledFunction.
    "scheduledFunctions": [
        {"name": "DailyCleanup", "schedule": "cron(0 0 * * ? *)", "handler": "cleanup.handler"},
    ],
}

__all__ = ["CLOUD", "CloudConfig", "from_env", "load_config"]


def load_config(environment: str | None = None, overrides: dict[str, Any] | None = None) -> CloudConfig:
    """Validate `CLOUD` (plus `overrides`) for `environment` (default: the config's, else development)."""
    data: dict[str, Any] = {**CLOUD, **(overrides or {})}
    if environment:
        data["environment"] = environment
    return CloudConfig.model_validate(data)
