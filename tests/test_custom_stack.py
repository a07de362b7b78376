"""The guide's CustomStack: environment rules, outputs, optional data tier, and reviewed snapshots."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

import stacks_cloud.cdk as cdk
from config.cloud import load_config
from config.sections import CacheSettings, DatabaseSettings
from stacks.custom_stack import CustomStack
from stacks_cloud.stacks import build_app, regional_stack_name
from stacks_cloud.testing import Synth, assert_resource, count_resources, output_of, resources_of, synth_file

PROJECT_DIR = Path(__file__).resolve().parent.parent
MakeStack = Callable[..., Synth]


def test_names_follow_app_and_environment(custom_stack: MakeStack) -> None:
    out = custom_stack("staging")
    assert_resource(out, "aws_s3_bucket", bucket="my-app-staging-assets-us-east-1")
    assert_resource(out, "aws_dynamodb_table", name="my-app-staging")
    assert_resource(out, "aws_sqs_queue", name="my-app-staging-jobs")
    assert_resource(out, "aws_lambda_function", function_name="my-app-staging-api", memory_size=512, timeout=30)


def test_production_keeps_data_and_recovers_points_in_time(custom_stack: MakeStack) -> None:
    out = custom_stack("production")
    bucket = assert_resource(out, "aws_s3_bucket", bucket="my-app-production-assets-us-east-1")
    assert bucket["lifecycle"] == {"prevent_destroy": True}
    assert bucket["force_destroy"] is False
    table = assert_resource(out, "aws_dynamodb_table", name="my-app-production")
    assert table["point_in_time_recovery"] == {"enabled": True}


@pytest.mark.parametrize("environment", ["development", "staging", "prod"])
def test_other_environments_can_be_destroyed(custom_stack: MakeStack, environment: str) -> None:
    # only `production` keeps its data; `prod` is another environment (declared here, refused otherwise)
    out = custom_stack(environment, environments=["development", "staging", "prod", "production"])
    bucket = assert_resource(out, "aws_s3_bucket", bucket=f"my-app-{environment}-assets-us-east-1")
    assert bucket["force_destroy"] is True
    assert "lifecycle" not in bucket
    table = assert_resource(out, "aws_dynamodb_table", name=f"my-app-{environment}")
    assert table["point_in_time_recovery"] == {"enabled": False}


def test_queue_and_grants_as_in_the_guide(custom_stack: MakeStack) -> None:
    out = custom_stack()
    assert_resource(out, "aws_sqs_queue", visibility_timeout_seconds=300, message_retention_seconds=14 * 86400)
    jobs = assert_resource(out, "aws_sqs_queue", name="my-app-development-jobs")
    assert "aws_sqs_queue.JobsDeadLetters_" in jobs["redrive_policy"]  # failing jobs are kept aside
    names = {p["name"] for p in resources_of(out, "aws_iam_role_policy").values()}
    # the guide's three grants, with the key's use each of them needs, and the function's own log group
    assert names == {
        "AssetsBucket-ReadWrite",
        "MainTable-ReadWriteData",
        "JobsQueue-SendMessages",
        "AppKey-EncryptDecryptAssetsBucket",
        "AppKey-EncryptDecryptMainTable",
        "AppKey-EncryptDecryptJobsQueue",
        "Logs-Write",
        # the config's scheduled function sends failed runs to its dead-letter queue
        "FunctionFailures-SendMessages",
        "AppKey-EncryptDecryptFunctionFailures",
    }


def test_outputs(custom_stack: MakeStack) -> None:
    out = custom_stack()
    assert output_of(out, "ApiUrl")["value"].endswith(".invoke_url}")
    assert output_of(out, "BucketName")["value"].endswith(".bucket}")
    assert set(out["output"]) == {"ApiUrl", "BucketName"}


def test_provider_region_and_tags(custom_stack: MakeStack) -> None:
    out = custom_stack(region="eu-west-1")
    (aws,) = out["provider"]["aws"]
    assert aws["region"] == "eu-west-1"
    tags = {"App": "my-app", "Environment": "development", "ManagedBy": "stacks-cloud"}
    assert aws["default_tags"] == [{"tags": tags}]


def test_data_tier_is_off_by_default_and_wired_when_configured(custom_stack: MakeStack) -> None:
    assert count_resources(custom_stack(), "aws_vpc") == 0
    out = custom_stack(database=DatabaseSettings(), cache=CacheSettings())
    assert count_resources(out, "aws_vpc") == 1
    assert_resource(out, "aws_db_instance", identifier="my-app-development-db")
    assert_resource(out, "aws_elasticache_replication_group", replication_group_id="my-app-development-cache")
    fn = assert_resource(out, "aws_lambda_function", function_name="my-app-development-api")
    assert len(fn["vpc_config"]["subnet_ids"]) == 2  # the API runs where it can reach the data tier
    variables = fn["environment"]["variables"]
    assert set(variables) == {
        "DATABASE_HOST",
        "DATABASE_PORT",
        "DATABASE_SECRET_ARN",
        "CACHE_HOST",
        "CACHE_PORT",
        "CACHE_USER",
    }
    assert variables["CACHE_USER"].endswith("-cache-app")  # IAM authentication: no secret to hand over
    assert variables["DATABASE_SECRET_ARN"].endswith(".master_user_secret[0].secret_arn}")
    grants = {p["name"] for p in resources_of(out, "aws_iam_role_policy").values()}
    assert {"Database-ReadSecret", "Cache-Connect"} <= grants
    endpoints = {e["service_name"].rsplit(".", 1)[-1] for e in resources_of(out, "aws_vpc_endpoint").values()}
    assert endpoints == {"s3", "dynamodb", "sqs", "secretsmanager"}
    assert {"DatabaseEndpoint", "DatabaseSecretArn", "CacheAddress"} <= set(out["output"])


def test_scheduled_functions_from_config(custom_stack: MakeStack) -> None:
    config = load_config()
    out = custom_stack(scheduledFunctions=list(config.scheduled_functions))
    assert_resource(out, "aws_lambda_function", function_name="my-app-development-DailyCleanup", memory_size=128)
    assert_resource(out, "aws_cloudwatch_event_rule", schedule_expression="cron(0 0 * * ? *)")


def test_app_writes_one_stack_per_region_with_its_own_local_state(tmp_path: Path) -> None:
    config = load_config(
        overrides={
            "multiRegion": {
                "enabled": True,
                "primaryRegion": "us-east-1",
                "replicaRegions": ["eu-west-1"],
                "domainName": "api.myapp.com",
            },
            "state": {"localDir": str(tmp_path / ".state")},
        }
    )
    app = build_app(config, CustomStack, project_dir=PROJECT_DIR, app=cdk.App(outdir=str(tmp_path / "out")))
    app.synth()
    names = sorted(p.name for p in (tmp_path / "out" / "stacks").iterdir())
    assert names == ["my-app-development-eu-west-1", "my-app-development-global", "my-app-development-us-east-1"]
    for name in names:
        backend = synth_file(tmp_path / "out", name)["terraform"]["backend"]["local"]["path"]
        assert backend == f"../../../.state/{name}.tfstate"  # outside cdktf.out, one file per stack
        state_file = (tmp_path / "out" / "stacks" / name / backend).resolve()
        assert state_file == (tmp_path / ".state" / f"{name}.tfstate").resolve()


# --- snapshots: reviewed on every change (`pytest --snapshot-update` rewrites them; read the diff) --------


@pytest.fixture
def json_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("environment", ["production", "development"])
def test_reference_stack_snapshot(tmp_path: Path, json_snapshot: SnapshotAssertion, environment: str) -> None:
    # State beside the out dir, as in a project checkout, so the snapshot does not depend on paths.
    config = load_config(environment, overrides={"state": {"localDir": str(tmp_path / ".state")}})
    outdir = tmp_path / "cdktf.out"
    build_app(config, CustomStack, project_dir=PROJECT_DIR, app=cdk.App(outdir=str(outdir))).synth()
    synthesized = synth_file(outdir, regional_stack_name(config, "us-east-1"))
    assert synthesized == json_snapshot
