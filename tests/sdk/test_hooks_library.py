"""The ready-made hooks, each against its real counterpart: moto (DynamoDB, RDS, CloudFront), redis-server,
a local HTTP server. Secrets (Redis password, Slack webhook) never reach logs or error messages."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud.config import from_env
from stacks_cloud.core.errors import HookError
from stacks_cloud.hooks import (
    Hook,
    Migration,
    Phase,
    create_backup,
    flush_redis,
    invalidate_cloudfront,
    notify_slack,
    rollback_and_notify,
    run_migrations,
    run_phase,
    validate_env,
    warm_up,
)
from stacks_cloud.models import DeploymentContext
from tests.servers import Moto, RecordingServer, redis_server

LOGGER = logging.getLogger("cloud.test-hooks")


def context(**overrides: Any) -> DeploymentContext:
    values: dict[str, Any] = {
        "deployment_id": "production-20261126T120000-abc123",
        "version": "1.4.0",
        "environment": "production",
        "regions": ["us-east-1"],
        "app_name": "shop",
        "logger": LOGGER,
    }
    values.update(overrides)
    return DeploymentContext(**values)


def run(phase: Phase, hook: Hook, *args: Any) -> None:
    asyncio.run(run_phase(phase, [hook], *args, environment="production", logger=LOGGER))


# --- validate_env and run_migrations ------------------------------------------------------------------------


def test_validate_env_reports_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://app:hunter2@db/app")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "")
    with pytest.raises(HookError) as error:
        run(Phase.PRE_DEPLOY, validate_env(["DATABASE_URL", "REDIS_URL", "AWS_ACCESS_KEY_ID"]), context())
    assert "missing required environment variables: REDIS_URL, AWS_ACCESS_KEY_ID" in str(error.value)
    assert "hunter2" not in str(error.value)
    monkeypatch.setenv("REDIS_URL", "redis://cache")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    run(Phase.PRE_DEPLOY, validate_env(["DATABASE_URL", "REDIS_URL", "AWS_ACCESS_KEY_ID"]), context())


def test_migrations_run_in_order_and_stop_at_the_first_failure(logs: pytest.LogCaptureFixture) -> None:
    applied: list[str] = []

    async def add_orders() -> None:
        applied.append("002_add_orders")

    def broken() -> None:
        raise ValueError("column exists")

    pending = [
        Migration("001_create_users", lambda: applied.append("001_create_users")),
        Migration("002_add_orders", add_orders),
        Migration("003_broken", broken),
        Migration("004_never", lambda: applied.append("004_never")),
    ]
    with pytest.raises(HookError) as error:
        run(Phase.PRE_DEPLOY, run_migrations(migrations=lambda: pending), context())
    assert applied == ["001_create_users", "002_add_orders"]
    assert "migration '003_broken' failed: ValueError: column exists" in str(error.value)
    assert [r.getMessage() for r in logs.records if r.getMessage().startswith("Running migration")] == [
        "Running migration: 001_create_users",
        "Running migration: 002_add_orders",
        "Running migration: 003_broken",
    ]


def test_migrations_by_command(tmp_path: Path) -> None:
    marker = tmp_path / "migrated"
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('done')"]
    run(Phase.PRE_DEPLOY, run_migrations(command=command), context())
    assert marker.read_text() == "done"
    failing = [sys.executable, "-c", "import sys; print('password=hunter2 rejected', file=sys.stderr); sys.exit(3)"]
    with pytest.raises(HookError) as error:
        run(Phase.PRE_DEPLOY, run_migrations(command=failing), context())
    assert "exit code 3" in str(error.value)
    assert "hunter2" not in str(error.value)


# --- AWS: create_backup and invalidate_cloudfront against moto -------------------------------------------------


def test_create_backup_of_table_and_database_named_after_the_deployment(moto: Moto) -> None:
    dynamodb = moto.client("dynamodb")
    dynamodb.create_table(
        TableName="shop-production",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    rds = moto.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="shop-production-db",
        DBInstanceClass="db.t3.small",
        Engine="mysql",
        MasterUsername="admin",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
    )
    hook = create_backup(
        table=lambda context: f"{context.app_name}-{context.environment}",
        db_instance="shop-production-db",
        client_factory=moto.client_factory,
        poll_seconds=1,
    )
    run(Phase.PRE_DEPLOY, hook, context())
    backups = dynamodb.list_backups(TableName="shop-production")["BackupSummaries"]
    assert [(b["BackupName"], b["BackupStatus"]) for b in backups] == [
        ("shop-production-production-20261126t120000-abc123", "AVAILABLE")
    ]
    snapshots = rds.describe_db_snapshots(DBInstanceIdentifier="shop-production-db")["DBSnapshots"]
    manual = [s for s in snapshots if s["SnapshotType"] == "manual"]
    assert [(s["DBSnapshotIdentifier"], s["Status"]) for s in manual] == [
        ("shop-production-db-production-20261126t120000-abc123", "available")
    ]


def test_create_backup_skips_what_does_not_exist_yet(moto: Moto, logs: pytest.LogCaptureFixture) -> None:
    hook = create_backup(table="newapp-production", db_instance="first-deploy-db", client_factory=moto.client_factory)
    run(Phase.PRE_DEPLOY, hook, context(app_name="newapp", regions=["eu-west-1"]))
    messages = [r.getMessage() for r in logs.records]
    assert "backup of table newapp-production in eu-west-1 skipped: it does not exist yet" in messages
    assert "snapshot of first-deploy-db in eu-west-1 skipped: the instance does not exist yet" in messages


def create_distribution(moto: Moto, reference: str) -> str:
    origin = {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "https-only"}
    created = moto.client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": reference,
            "Comment": "",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [{"Id": "app", "DomainName": "app.example.com", "CustomOriginConfig": origin}],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "app",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
                "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}},
            },
        }
    )
    distribution_id: str = created["Distribution"]["Id"]
    return distribution_id


def test_invalidate_cloudfront(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    cloudfront = moto.client("cloudfront")
    distribution = create_distribution(moto, "hooks-test")
    monkeypatch.setenv("CLOUDFRONT_DISTRIBUTION_ID", distribution)
    hook = invalidate_cloudfront(from_env("CLOUDFRONT_DISTRIBUTION_ID"), client_factory=moto.client_factory)
    run(Phase.POST_DEPLOY, hook, context())
    invalidations = cloudfront.list_invalidations(DistributionId=distribution)["InvalidationList"]
    assert invalidations["Quantity"] == 1
    invalidation_id = invalidations["Items"][0]["Id"]
    batch = cloudfront.get_invalidation(DistributionId=distribution, Id=invalidation_id)["Invalidation"]
    assert batch["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    monkeypatch.delenv("CLOUDFRONT_DISTRIBUTION_ID")
    with pytest.raises(HookError, match="no CloudFront distribution id"):
        run(Phase.POST_DEPLOY, hook, context())


# --- flush_redis against redis-server -----------------------------------------------------------------------------


@pytest.mark.parametrize("password", [None, "s3cr3t-redis-pass"])
def test_flush_redis_empties_the_cache(
    tmp_path: Path, password: str | None, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with redis_server(tmp_path, password) as server:
        client = server.client()
        client.set("page:/", "cached")
        client.set("page:/products", "cached")
        assert client.dbsize() == 2
        monkeypatch.setenv("REDIS_URL", server.url)
        run(Phase.POST_DEPLOY, flush_redis(from_env("REDIS_URL")), context())
        assert client.dbsize() == 0
        if password:
            wrong = server.url.replace(password, "wrong-pass-123")
            with pytest.raises(HookError) as error:
                run(Phase.POST_DEPLOY, flush_redis(wrong), context())
            assert "could not flush Redis at 127.0.0.1" in str(error.value)
            assert "wrong-pass-123" not in str(error.value)
    text = logs.text
    assert f"flushed Redis at 127.0.0.1:{server.port}/0" in text
    if password:
        assert password not in text
        assert "wrong-pass-123" not in text


def test_every_ready_made_hook_is_awaited_as_the_guide_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guide's pre-deploy hook does `await validate(context)`: each ready-made hook is a coroutine."""
    monkeypatch.setenv("DATABASE_URL", "mysql://db/app")

    async def guide_hook(ctx: DeploymentContext) -> None:
        validate = validate_env(["DATABASE_URL"])
        await validate(ctx)

    asyncio.run(guide_hook(context()))
    monkeypatch.delenv("APP_URL", raising=False)
    with pytest.raises(RuntimeError, match="base_url reads APP_URL, which is not set"):
        asyncio.run(warm_up(base_url=from_env("APP_URL"))(context(url="https://shop.example")))


# --- warm_up and notify_slack against a local HTTP server -------------------------------------------------------------


def test_warm_up_retries_a_500_and_reports_each_endpoint(logs: pytest.LogCaptureFixture) -> None:
    responses = {
        "/prod/api/health": [(200, 0.0)],
        "/prod/api/products": [(500, 0.0), (200, 0.0)],
        "/prod/api/categories": [(200, 0.0)],
    }
    with RecordingServer(responses) as server:
        ctx = context(url=f"{server.url}/prod")
        hook = warm_up(["/api/health", "/api/products", "/api/categories"], backoff=0.05)
        run(Phase.POST_DEPLOY, hook, ctx)
    assert sorted(server.paths()) == [
        "/prod/api/categories",
        "/prod/api/health",
        "/prod/api/products",
        "/prod/api/products",
    ]
    results = {r.url.rsplit("/", 1)[-1]: (r.status, r.attempts) for r in ctx.warm_up}  # type: ignore[attr-defined]
    assert results == {"health": (200, 1), "products": (200, 2), "categories": (200, 1)}
    assert any("warm-up " in r.getMessage() and " ms " in r.getMessage() for r in logs.records)


def test_warm_up_reports_a_timeout_instead_of_hanging() -> None:
    with RecordingServer({"/slow": [(200, 3.0)], "/down": [(503, 0.0)]}) as server:
        hook = warm_up(["/slow", "/down"], base_url=server.url, timeout=0.3, retries=1, backoff=0.05)
        started = time.monotonic()
        with pytest.raises(HookError) as error:
            run(Phase.POST_DEPLOY, hook, context())
        elapsed = time.monotonic() - started
    assert elapsed < 2.5  # two tries of 0.3 s, not the 3 s the server takes
    message = str(error.value)
    assert "/slow (timed out" in message
    assert "/down (503)" in message
    assert server.paths().count("/down") == 2  # retried once


WEBHOOK_PATH = "/services/T000/B000/XXXXSECRETXXXX"


def test_notify_slack_posts_channel_and_text(logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    with RecordingServer({WEBHOOK_PATH: [(200, 0.0)]}) as server:
        monkeypatch.setenv("SLACK_WEBHOOK_URL", server.url + WEBHOOK_PATH)
        run(Phase.POST_DEPLOY, notify_slack(from_env("SLACK_WEBHOOK_URL")), context())
        failure = RuntimeError("stack shop-production-eu-west-1 failed")
        custom = notify_slack(
            from_env("SLACK_WEBHOOK_URL"), channel="#ops", text="{environment} {version}: {outcome}{error_text}"
        )
        run(Phase.ON_ERROR, custom, failure, context())
    first, second = (json.loads(request.body) for request in server.requests)
    assert first == {"channel": "#deployments", "text": "Deployed 1.4.0 to production"}
    assert second == {"channel": "#ops", "text": "production 1.4.0: failed: stack shop-production-eu-west-1 failed"}
    assert "XXXXSECRETXXXX" not in logs.text


def test_notify_slack_errors_never_show_the_webhook(logs: pytest.LogCaptureFixture) -> None:
    with RecordingServer({}) as server:  # every path answers 404
        hook = notify_slack(server.url + WEBHOOK_PATH)
        with pytest.raises(HookError) as error:
            run(Phase.POST_DEPLOY, hook, context())
    assert "Slack refused the notification: HTTP 404" in str(error.value)
    unreachable = notify_slack("http://127.0.0.1:9" + WEBHOOK_PATH, timeout=1)
    with pytest.raises(HookError) as error:
        run(Phase.POST_DEPLOY, unreachable, context())
    assert "could not reach Slack" in str(error.value)
    for text in (str(error.value), logs.text):
        assert "XXXXSECRETXXXX" not in text


def test_rollback_then_notify_on_error() -> None:
    rolled: list[str] = []

    async def fake_rollback() -> None:
        rolled.append("rollback")

    with RecordingServer({WEBHOOK_PATH: [(200, 0.0)]}) as server:
        ctx = context(rollback_handler=fake_rollback)
        hook = rollback_and_notify(notify_slack(server.url + WEBHOOK_PATH))
        run(Phase.ON_ERROR, hook, RuntimeError("post_deploy hook 'smoke' failed"), ctx)
    assert rolled == ["rollback"]
    (request,) = server.requests
    assert json.loads(request.body)["text"] == "Failed to deploy 1.4.0 to production: post_deploy hook 'smoke' failed"


def test_the_iam_token_is_aws_documented_presigned_connect_request() -> None:
    from botocore.credentials import Credentials

    from stacks_cloud.hooks import IamAuth, iam_auth_token

    token = iam_auth_token(
        "shop-cache-app", IamAuth("shop-cache", "eu-west-1"), credentials=Credentials("AKIDEXAMPLE", "secret-key")
    )
    assert token.startswith("shop-cache/?Action=connect&User=shop-cache-app&")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in token
    assert "X-Amz-Credential=AKIDEXAMPLE%2F" in token
    assert "%2Feu-west-1%2Felasticache%2Faws4_request" in token
    assert "X-Amz-Expires=900" in token
    assert "X-Amz-Signature=" in token
    assert "secret-key" not in token


def test_flush_redis_with_iam_authenticates_as_the_urls_user_with_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    """redis-server stands in for ElastiCache: its `app` user takes any password (ElastiCache checks the
    signature), its default user can do nothing, so the flush works only as `app`, with a token."""
    from stacks_cloud.hooks import IamAuth

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "iam-secret-key-123")
    acl = ["default on nopass ~* +@all", "app on nopass ~* +@all"]
    with redis_server(tmp_path, acl=acl) as server:
        server.client().set("page:/", "cached")
        server.client().config_set("protected-mode", "no")
        server.client().execute_command("ACL", "SETUSER", "default", "off")
        url = f"redis://app@127.0.0.1:{server.port}/0"
        run(Phase.POST_DEPLOY, flush_redis(url, iam=IamAuth("shop-cache", "us-east-1")), context())
        import redis

        check = redis.Redis(host="127.0.0.1", port=server.port, username="app", password="x")
        assert check.dbsize() == 0
        with pytest.raises(HookError, match="needs the user in the URL"):
            run(Phase.POST_DEPLOY, flush_redis(f"redis://127.0.0.1:{server.port}/0", iam=IamAuth("c", "r")), context())
    assert "X-Amz-Signature" not in logs.text
