"""The project's hooks (hooks/, registered in config/cloud.py) run as registered, against real counterparts:
moto (DynamoDB, CloudFront), redis-server with a password, and a local HTTP server for the endpoints and Slack."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from config.cloud import load_config
from stacks_cloud.hooks import Phase, run_phase
from tests.sdk.test_hooks_library import LOGGER, WEBHOOK_PATH, context, create_distribution
from tests.servers import Moto, RecordingServer, redis_server


def test_reference_config_hooks_run_against_real_counterparts(
    moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    config = load_config("production")
    moto.client("dynamodb", "eu-west-1").create_table(
        TableName="my-app-production",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    distribution = create_distribution(moto, "reference-config")
    endpoints = {path: [(200, 0.0)] for path in ("/api/health", "/api/products", "/api/categories", WEBHOOK_PATH)}
    with redis_server(tmp_path, "ref-redis-pass") as redis, RecordingServer(endpoints) as web:
        redis.client().set("stale", "1")
        for name, value in {
            "DATABASE_URL": "mysql://app:db-pass@db/app",
            "REDIS_URL": redis.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": moto.url,  # boto3 sends every service to moto
            "CLOUDFRONT_DISTRIBUTION_ID": distribution,
            "APP_URL": web.url,
            "SLACK_WEBHOOK_URL": web.url + WEBHOOK_PATH,
        }.items():
            monkeypatch.setenv(name, value)
        ctx = context(app_name="my-app", regions=config.regions)
        hooks = config.hooks
        asyncio.run(run_phase(Phase.PRE_DEPLOY, hooks.pre_deploy, ctx, environment="production", logger=LOGGER))
        asyncio.run(run_phase(Phase.POST_DEPLOY, hooks.post_deploy, ctx, environment="production", logger=LOGGER))
        failure = RuntimeError("stack my-app-production-eu-west-1 failed")
        asyncio.run(run_phase(Phase.ON_ERROR, hooks.on_error, failure, ctx, environment="production", logger=LOGGER))
        assert redis.client().dbsize() == 0
    backups = moto.client("dynamodb", "eu-west-1").list_backups(TableName="my-app-production")["BackupSummaries"]
    assert len(backups) == 1  # the table exists in eu-west-1 only: the other regions were skipped
    invalidations = moto.client("cloudfront").list_invalidations(DistributionId=distribution)["InvalidationList"]
    assert invalidations["Quantity"] == 1
    assert sorted(web.paths()) == sorted(
        ["/api/categories", "/api/health", "/api/products", WEBHOOK_PATH, WEBHOOK_PATH]
    )
    texts = [json.loads(r.body)["text"] for r in web.requests if r.path == WEBHOOK_PATH]
    assert texts == [
        "Deployed 1.4.0 to production",
        "Failed to deploy 1.4.0 to production: stack my-app-production-eu-west-1 failed",
    ]
    for secret in ("ref-redis-pass", "db-pass", "XXXXSECRETXXXX"):
        assert secret not in logs.text
