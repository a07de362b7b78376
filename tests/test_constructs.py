"""Each construct's behaviour, asserted on the synthesized Terraform (never on generated ids)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

import cdk
from cdk.testing import (
    assert_resource,
    count_resources,
    data_sources_of,
    find_resources,
    output_of,
    resources_of,
    synth,
)
from constructs_lib import (
    Bucket,
    CustomApi,
    Function,
    LambdaCode,
    Queue,
    RemovalPolicy,
    Table,
    Vpc,
    add_rds_database,
    add_redis_cluster,
    add_scheduled_function,
)
from core.errors import ConfigError

CODE = LambdaCode.from_asset(Path(__file__).resolve().parent.parent / "app" / "dist")


# --- CustomApi ------------------------------------------------------------------------------------


def test_custom_api_defaults_follow_the_guide(stack_scope: cdk.TerraformStack) -> None:
    api = CustomApi(stack_scope, "Api", function_name="shop-api", handler="index.handler", code=CODE)
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
    assert all("invoke_arn" in i["uri"] for i in integrations)
    assert_resource(out, "aws_api_gateway_stage", stage_name="prod")
    permission = assert_resource(out, "aws_lambda_permission", principal="apigateway.amazonaws.com")
    assert permission["source_arn"].endswith(".execution_arn}/*/*")
    assert output_of(out, "Url")["value"].endswith(".invoke_url}")


def test_custom_api_options_and_role(stack_scope: cdk.TerraformStack) -> None:
    CustomApi(
        stack_scope,
        "Api",
        function_name="f",
        handler="h",
        memory_size=1024,
        timeout=timedelta(minutes=2),
        code=CODE,
        environment={"MODE": "x"},
    )
    out = synth(stack_scope)
    fn = assert_resource(out, "aws_lambda_function", function_name="f")
    assert (fn["memory_size"], fn["timeout"], fn["environment"]) == (1024, 120, {"variables": {"MODE": "x"}})
    role = assert_resource(out, "aws_iam_role", name="f-role")
    assert "lambda.amazonaws.com" in role["assume_role_policy"]
    attachment = next(iter(resources_of(out, "aws_iam_role_policy_attachment").values()))
    assert attachment["policy_arn"].endswith(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole")


@pytest.mark.parametrize(
    ("memory", "timeout", "path"),
    [(64, 30, "memory_size"), (20000, 30, "memory_size"), (256, 0, "timeout"), (256, 901, "timeout")],
)
def test_custom_api_rejects_out_of_range_options(
    stack_scope: cdk.TerraformStack, memory: int, timeout: int, path: str
) -> None:
    with pytest.raises(ConfigError) as error:
        CustomApi(stack_scope, "Api", function_name="f", handler="h", memory_size=memory, timeout=timeout, code=CODE)
    assert error.value.paths == [path]
    assert "test/Api/Handler" in str(error.value)  # names the construct


def test_function_name_problems_are_reported_together(stack_scope: cdk.TerraformStack) -> None:
    with pytest.raises(ConfigError) as error:
        Function(stack_scope, "Fn", function_name="bad name!", handler="", memory_size=1, code=CODE)
    assert set(error.value.paths) == {"function_name", "handler", "memory_size"}


def test_missing_code_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        LambdaCode.from_asset(tmp_path / "missing")


# --- scheduled functions ---------------------------------------------------------------------------


def test_scheduled_function(stack_scope: cdk.TerraformStack) -> None:
    scheduled = add_scheduled_function(
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
    assert scheduled.function.role is scheduled.grant_role


def test_scheduled_function_name_must_leave_room_for_the_rule_name(stack_scope: cdk.TerraformStack) -> None:
    with pytest.raises(ConfigError) as error:
        add_scheduled_function(stack_scope, "J" * 60, schedule="rate(1 day)", handler="h", code=CODE)
    assert error.value.paths == ["function_name"]
    assert "64 characters" in str(error.value)


@pytest.mark.parametrize("schedule", ["cron(0 0 * * *)", "daily", "rate(2 hour)"])
def test_scheduled_function_rejects_bad_schedules(stack_scope: cdk.TerraformStack, schedule: str) -> None:
    with pytest.raises(ConfigError) as error:
        add_scheduled_function(stack_scope, "Job", schedule=schedule, handler="h", code=CODE)
    assert error.value.paths == ["schedule"]


# --- bucket / table / queue and grants ------------------------------------------------------------


def test_bucket_is_versioned_encrypted_private(stack_scope: cdk.TerraformStack) -> None:
    Bucket(stack_scope, "Assets", bucket_name="my-app-dev-assets", removal_policy=RemovalPolicy.DESTROY)
    out = synth(stack_scope)
    bucket = assert_resource(out, "aws_s3_bucket", bucket="my-app-dev-assets")
    assert bucket["force_destroy"] is True
    assert "lifecycle" not in bucket
    assert_resource(out, "aws_s3_bucket_versioning", versioning_configuration={"status": "Enabled"})
    encryption = next(iter(resources_of(out, "aws_s3_bucket_server_side_encryption_configuration").values()))
    assert encryption["rule"][0]["apply_server_side_encryption_by_default"]["sse_algorithm"] == "AES256"
    assert_resource(
        out,
        "aws_s3_bucket_public_access_block",
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
    )


def test_bucket_retain_prevents_destroy(stack_scope: cdk.TerraformStack) -> None:
    Bucket(stack_scope, "Assets", bucket_name="kept-bucket", removal_policy=RemovalPolicy.RETAIN)
    bucket = assert_resource(synth(stack_scope), "aws_s3_bucket", bucket="kept-bucket")
    assert bucket["lifecycle"] == {"prevent_destroy": True}
    assert bucket["force_destroy"] is False


@pytest.mark.parametrize(
    "name",
    [
        "Upper-Case",
        "ab",
        "a" * 64,
        "-start",
        "end-",
        "192.168.1.1",
        "two..dots",
        "xn--punycode",
        "under_score",
        "name-s3alias",
    ],
)
def test_bucket_names_that_break_s3_rules(stack_scope: cdk.TerraformStack, name: str) -> None:
    with pytest.raises(ConfigError) as error:
        Bucket(stack_scope, "Assets", bucket_name=name)
    assert error.value.paths == ["bucket_name"]
    assert "S3 bucket name" in str(error.value)


def test_table_keys_billing_and_recovery(stack_scope: cdk.TerraformStack) -> None:
    Table(stack_scope, "Main", table_name="my-app-dev", point_in_time_recovery=True)
    table = assert_resource(synth(stack_scope), "aws_dynamodb_table", name="my-app-dev")
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert (table["hash_key"], table["range_key"]) == ("pk", "sk")
    assert table["attribute"] == [{"name": "pk", "type": "S"}, {"name": "sk", "type": "S"}]
    assert table["point_in_time_recovery"] == {"enabled": True}


def test_queue_timeouts_and_encryption(stack_scope: cdk.TerraformStack) -> None:
    Queue(stack_scope, "Jobs", queue_name="jobs", visibility_timeout=300, retention_period=timedelta(days=14))
    queue = assert_resource(synth(stack_scope), "aws_sqs_queue", name="jobs")
    assert queue["visibility_timeout_seconds"] == 300
    assert queue["message_retention_seconds"] == 1209600
    assert queue["sqs_managed_sse_enabled"] is True


def test_queue_rejects_out_of_range_durations(stack_scope: cdk.TerraformStack) -> None:
    with pytest.raises(ConfigError) as error:
        Queue(stack_scope, "Jobs", queue_name="jobs", visibility_timeout=50000, retention_period=timedelta(days=15))
    assert set(error.value.paths) == {"visibility_timeout", "retention_period"}
    assert "but 50000 was provided" in str(error.value)


def test_grants_are_scoped_to_resource_arns(stack_scope: cdk.TerraformStack) -> None:
    api = CustomApi(stack_scope, "Api", function_name="f", handler="h", code=CODE)
    bucket = Bucket(stack_scope, "Assets", bucket_name="assets-bucket")
    table = Table(stack_scope, "Main", table_name="main")
    queue = Queue(stack_scope, "Jobs", queue_name="jobs")
    bucket.grant_read_write(api)
    table.grant_read_write_data(api)
    queue.grant_send_messages(api)
    out = synth(stack_scope)
    policies = {p["name"]: p for p in resources_of(out, "aws_iam_role_policy").values()}
    assert set(policies) == {"Assets-ReadWrite", "Main-ReadWriteData", "Jobs-SendMessages"}
    for policy in policies.values():
        assert "aws_iam_role.Api_Handler_Role" in policy["role"]
        assert '"Resource" = ["*"]' not in policy["policy"]
        assert '"*"' not in policy["policy"]
    s3 = policies["Assets-ReadWrite"]["policy"]
    for expected in ("aws_s3_bucket.Assets_Bucket", ".arn}/*", "s3:PutObject"):
        assert expected in s3
    for forbidden in ("s3:DeleteBucket", "s3:PutBucketPolicy"):
        assert forbidden not in s3
    ddb = policies["Main-ReadWriteData"]["policy"]
    for expected in ("aws_dynamodb_table.Main_Table", ".arn}/index/*", "dynamodb:PutItem"):
        assert expected in ddb
    assert "dynamodb:DeleteTable" not in ddb
    sqs = policies["Jobs-SendMessages"]["policy"]
    assert "sqs:SendMessage" in sqs
    for forbidden in ("sqs:ReceiveMessage", "sqs:DeleteMessage"):
        assert forbidden not in sqs


# --- network, database, cache ----------------------------------------------------------------------


def test_vpc_private_subnets_across_azs(stack_scope: cdk.TerraformStack) -> None:
    Vpc(stack_scope, "Network", cidr="10.1.0.0/16", az_count=3, name="net")
    out = synth(stack_scope)
    assert_resource(out, "aws_vpc", cidr_block="10.1.0.0/16", enable_dns_support=True)
    subnets = list(resources_of(out, "aws_subnet").values())
    assert [s["cidr_block"] for s in subnets] == ["10.1.0.0/20", "10.1.16.0/20", "10.1.32.0/20"]
    assert len({s["availability_zone"] for s in subnets}) == 3
    assert all("map_public_ip_on_launch" not in s for s in subnets)
    assert count_resources(out, "aws_internet_gateway") == 0
    assert data_sources_of(out, "aws_availability_zones")


def test_vpc_rejects_bad_cidr(stack_scope: cdk.TerraformStack) -> None:
    with pytest.raises(ConfigError) as error:
        Vpc(stack_scope, "Network", cidr="10.0.0.0/8", az_count=1)
    assert set(error.value.paths) == {"cidr", "az_count"}


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
    cluster = assert_resource(out, "aws_elasticache_cluster", cluster_id="my-app-dev-cache")
    assert (cluster["engine"], cluster["node_type"], cluster["num_cache_nodes"]) == ("redis", "cache.t3.micro", 1)
    assert cluster["engine_version"] == "7.1"
    assert "aws_elasticache_subnet_group" in cluster["subnet_group_name"]
    assert_resource(out, "aws_elasticache_subnet_group", description="Subnet group for Redis cluster")
    assert find_resources(out, "aws_vpc_security_group_ingress_rule", from_port=6379, to_port=6379)


def test_redis_rejects_more_than_one_node(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    with pytest.raises(ConfigError, match="replication group") as error:
        add_redis_cluster(stack_scope, "Cache", network, num_cache_nodes=2, node_type="m5.large")
    assert set(error.value.paths) == {"num_cache_nodes", "node_type"}
