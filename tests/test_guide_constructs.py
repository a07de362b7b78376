"""The guide's constructs (`constructs_lib`) keep the guide's defaults, asserted on the synthesized Terraform."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

import stacks_cloud.cdk as cdk
from constructs_lib import CustomApi, add_rds_database, add_redis_cluster, add_scheduled_function
from stacks_cloud.constructs import Code, Vpc
from stacks_cloud.core.errors import ConfigError
from stacks_cloud.testing import assert_resource, find_resources, output_of, resources_of, synth

CODE = Code.from_asset(Path(__file__).resolve().parent.parent / "dist")


def test_custom_api_defaults_follow_the_guide(stack_scope: cdk.TerraformStack) -> None:
    api = CustomApi(
        stack_scope, "Api", function_name="shop-api", handler="index.handler", code=CODE, authorization="NONE"
    )
    cdk.TerraformOutput(stack_scope, "Url", value=api.url)
    out = synth(stack_scope)
    fn = assert_resource(out, "aws_lambda_function", function_name="shop-api")
    assert fn["runtime"] == "provided.al2"
    assert fn["memory_size"] == 256
    assert fn["timeout"] == 30
    assert fn["handler"] == "index.handler"
    assert fn["filename"].endswith("archive.zip")
    assert_resource(out, "aws_api_gateway_rest_api", name="shop-api-api")
    assert_resource(out, "aws_api_gateway_resource", path_part="{proxy+}")
    methods = resources_of(out, "aws_api_gateway_method")
    assert len(methods) == 2
    assert {m["http_method"] for m in methods.values()} == {"ANY"}
    integrations = resources_of(out, "aws_api_gateway_integration").values()
    assert {i["type"] for i in integrations} == {"AWS_PROXY"}
    assert all(i["uri"].endswith(":function:shop-api/invocations") for i in integrations)
    assert_resource(out, "aws_api_gateway_stage", stage_name="prod")
    permission = assert_resource(out, "aws_lambda_permission", principal="apigateway.amazonaws.com")
    assert permission["source_arn"].endswith(".execution_arn}/*/*")
    assert output_of(out, "Url")["value"].endswith(".invoke_url}")


def test_custom_api_passes_its_options_to_the_function(stack_scope: cdk.TerraformStack) -> None:
    CustomApi(
        stack_scope,
        "Api",
        function_name="f",
        handler="h",
        memory_size=1024,
        timeout=timedelta(minutes=2),
        code=CODE,
        authorization="NONE",
    )
    fn = assert_resource(synth(stack_scope), "aws_lambda_function", function_name="f")
    assert (fn["memory_size"], fn["timeout"]) == (1024, 120)


@pytest.mark.parametrize(
    ("memory", "timeout", "path"),
    [(64, 30, "memory_size"), (20000, 30, "memory_size"), (256, 0, "timeout"), (256, 901, "timeout")],
)
def test_custom_api_rejects_out_of_range_options(
    stack_scope: cdk.TerraformStack, memory: int, timeout: int, path: str
) -> None:
    with pytest.raises(ConfigError) as error:
        CustomApi(
            stack_scope,
            "Api",
            function_name="f",
            handler="h",
            memory_size=memory,
            timeout=timeout,
            code=CODE,
            authorization="NONE",
        )
    assert error.value.paths == [path]
    assert "test/Api/Function" in str(error.value)  # names the construct


# --- scheduled functions ---------------------------------------------------------------------------


def test_scheduled_function(stack_scope: cdk.TerraformStack) -> None:
    function = add_scheduled_function(
        stack_scope, "DailyCleanup", schedule="cron(0 0 * * ? *)", handler="cleanup.handler", code=CODE
    )
    out = synth(stack_scope)
    fn = assert_resource(out, "aws_lambda_function", function_name="DailyCleanup")
    assert fn["memory_size"] == 128
    assert fn["handler"] == "cleanup.handler"
    assert_resource(out, "aws_cloudwatch_event_rule", schedule_expression="cron(0 0 * * ? *)")
    target = next(iter(resources_of(out, "aws_cloudwatch_event_target").values()))
    assert "aws_lambda_function" in target["arn"]
    permission = assert_resource(out, "aws_lambda_permission", principal="events.amazonaws.com")
    assert "aws_cloudwatch_event_rule" in permission["source_arn"]
    assert_resource(out, "aws_cloudwatch_event_rule", name="DailyCleanup-schedule")
    assert function.grant_role is function.role  # the guide returns the function: grants go to its role


def test_scheduled_function_name_must_leave_room_for_the_rule_name(stack_scope: cdk.TerraformStack) -> None:
    with pytest.raises(ConfigError) as error:
        add_scheduled_function(stack_scope, "J" * 58, schedule="rate(1 day)", handler="h", code=CODE)
    assert error.value.paths == ["rule_name"]
    assert "64 characters" in str(error.value)


@pytest.mark.parametrize("schedule", ["cron(0 0 * * *)", "daily", "rate(2 hour)"])
def test_scheduled_function_rejects_bad_schedules(stack_scope: cdk.TerraformStack, schedule: str) -> None:
    with pytest.raises(ConfigError) as error:
        add_scheduled_function(stack_scope, "Job", schedule=schedule, handler="h", code=CODE)
    assert error.value.paths == ["schedule"]


def test_rds_database_follows_the_guide_and_hides_the_password(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    database = add_rds_database(stack_scope, "Database", network, identifier="my-app-dev-db")
    cdk.TerraformOutput(stack_scope, "Secret", value=database.secret_arn)
    out = synth(stack_scope)
    instance = assert_resource(out, "aws_db_instance", identifier="my-app-dev-db")
    assert (instance["engine"], instance["engine_version"]) == ("mysql", "8.0")
    assert instance["instance_class"] == "db.t3.small"
    assert (instance["allocated_storage"], instance["max_allocated_storage"]) == (20, 100)
    assert instance["backup_retention_period"] == 7
    assert instance["deletion_protection"] is True
    assert instance["multi_az"] is False
    assert instance["manage_master_user_password"] is True
    assert instance["storage_encrypted"] is True
    assert instance["publicly_accessible"] is False
    assert "password" not in instance
    assert "password" not in json.dumps(out).replace("manage_master_user_password", "")
    group = next(iter(resources_of(out, "aws_db_subnet_group").values()))
    assert len(group["subnet_ids"]) == 2
    ingress = assert_resource(out, "aws_vpc_security_group_ingress_rule", from_port=3306)
    assert "AppSecurityGroup" in ingress["referenced_security_group_id"]
    assert ".master_user_secret[0].secret_arn" in output_of(out, "Secret")["value"]
    assert instance["iam_database_authentication_enabled"] is True
    assert instance["enabled_cloudwatch_logs_exports"] == ["error", "general", "slowquery"]
    parameters = next(iter(resources_of(out, "aws_db_parameter_group").values()))
    assert parameters["family"] == "mysql8.0"
    assert {"name": "require_secure_transport", "value": "1"} in [
        {k: p[k] for k in ("name", "value")} for p in parameters["parameter"]
    ]
    assert "aws_db_parameter_group" in instance["parameter_group_name"]


def test_rds_options(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    add_rds_database(stack_scope, "Db", network, instance_type="db.r6g.large", engine="postgres", multi_az=True)
    instance = assert_resource(synth(stack_scope), "aws_db_instance", identifier="db")
    assert (instance["engine"], instance["instance_class"], instance["multi_az"], instance["port"]) == (
        "postgres",
        "db.r6g.large",
        True,
        5432,
    )


def test_rds_rejects_bad_options(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    with pytest.raises(ConfigError) as error:
        add_rds_database(stack_scope, "Db", network, instance_type="t3.small", engine="oracle")
    assert set(error.value.paths) == {"instance_type", "engine"}


def test_redis_cluster(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    add_redis_cluster(stack_scope, "Cache", network, cluster_id="my-app-dev-cache")
    out = synth(stack_scope)
    assert resources_of(out, "aws_elasticache_cluster") == {}  # a cluster alone cannot require AUTH
    group = assert_resource(out, "aws_elasticache_replication_group", replication_group_id="my-app-dev-cache")
    assert (group["engine"], group["node_type"], group["num_cache_clusters"]) == ("redis", "cache.t3.micro", 1)
    assert group["engine_version"] == "7.1"
    assert group["transit_encryption_enabled"] is True
    assert group["at_rest_encryption_enabled"] == "true"
    # IAM authentication: no AUTH token, no password, anywhere (nothing secret for the state to hold)
    assert "auth_token" not in group
    assert group["user_group_ids"] == [
        "${aws_elasticache_user_group.Cache_Users_" + group["user_group_ids"][0].split("Cache_Users_")[1]
    ]
    users = {user["user_name"]: user for user in resources_of(out, "aws_elasticache_user").values()}
    assert users["my-app-dev-cache-app"]["authentication_mode"] == {"type": "iam"}
    assert users["my-app-dev-cache-app"]["user_id"] == "my-app-dev-cache-app"
    assert users["default"]["access_string"] == "off -@all"  # unauthenticated connections can do nothing
    assert group["automatic_failover_enabled"] is False  # one node: nothing to fail over to
    assert "aws_elasticache_subnet_group" in group["subnet_group_name"]
    assert_resource(out, "aws_elasticache_subnet_group", description="Subnet group for Redis cluster")
    assert find_resources(out, "aws_vpc_security_group_ingress_rule", from_port=6379, to_port=6379)
    assert resources_of(out, "aws_secretsmanager_secret_version") == {}
    assert "data" not in out or "aws_secretsmanager_random_password" not in out["data"]


def test_redis_with_two_nodes_fails_over_across_zones(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    add_redis_cluster(stack_scope, "Cache", network, cluster_id="c", num_cache_nodes=2)
    group = assert_resource(synth(stack_scope), "aws_elasticache_replication_group", replication_group_id="c")
    assert (group["num_cache_clusters"], group["automatic_failover_enabled"], group["multi_az_enabled"]) == (
        2,
        True,
        True,
    )


def test_redis_rejects_bad_options(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    with pytest.raises(ConfigError) as error:
        add_redis_cluster(stack_scope, "Cache", network, num_cache_nodes=7, node_type="m5.large")
    assert set(error.value.paths) == {"num_cache_nodes", "node_type"}
