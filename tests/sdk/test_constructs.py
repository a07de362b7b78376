"""The SDK's building blocks, asserted on the synthesized Terraform (never on generated ids)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import stacks_cloud.cdk as cdk
from stacks_cloud.constructs import (
    Bucket,
    Code,
    DatabaseInstance,
    Function,
    LambdaRestApi,
    Queue,
    RedisCluster,
    RemovalPolicy,
    Rule,
    Schedule,
    ScheduledFunction,
    Table,
    Vpc,
)
from stacks_cloud.core.errors import ConfigError
from stacks_cloud.testing import assert_resource, count_resources, data_sources_of, resources_of, synth

CODE = Code.from_asset(Path(__file__).resolve().parents[2] / "dist")


# --- function, REST API, schedules -------------------------------------------------------------------


def test_function_role_logs_and_options(stack_scope: cdk.TerraformStack) -> None:
    Function(
        stack_scope,
        "Fn",
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
    assert fn["runtime"] == "provided.al2"
    assert fn["filename"].endswith("archive.zip")
    role = assert_resource(out, "aws_iam_role", name="f-role")
    assert "lambda.amazonaws.com" in role["assume_role_policy"]
    # its own log group (a year of retention) and a grant to write there only, not AWSLambdaBasicExecutionRole
    group = assert_resource(out, "aws_cloudwatch_log_group", name="/aws/lambda/f")
    assert group["retention_in_days"] == 365
    (write,) = resources_of(out, "aws_iam_role_policy").values()
    assert '"Action" = ["logs:CreateLogStream", "logs:PutLogEvents"]' in write["policy"]
    assert '"Resource" = ["${aws_cloudwatch_log_group.Fn_Logs_Group_' in write["policy"]
    assert fn["depends_on"] == [f"aws_cloudwatch_log_group.{next(iter(resources_of(out, 'aws_cloudwatch_log_group')))}"]
    attachments = [a["policy_arn"] for a in resources_of(out, "aws_iam_role_policy_attachment").values()]
    assert [arn.rsplit("/", 1)[-1] for arn in attachments] == ["AWSXRayDaemonWriteAccess"]
    assert fn["tracing_config"] == {"mode": "Active"}


def test_lambda_rest_api_proxies_every_route_to_its_handler(stack_scope: cdk.TerraformStack) -> None:
    handler = Function(stack_scope, "Fn", function_name="shop", handler="index.handler", code=CODE)
    api = LambdaRestApi(
        stack_scope, "Api", handler=handler, rest_api_name="shop-api", stage_name="v1", authorization="NONE"
    )
    cdk.TerraformOutput(stack_scope, "Url", value=api.url)
    out = synth(stack_scope)
    assert_resource(out, "aws_api_gateway_rest_api", name="shop-api", endpoint_configuration={"types": ["REGIONAL"]})
    assert_resource(out, "aws_api_gateway_resource", path_part="{proxy+}")
    methods = resources_of(out, "aws_api_gateway_method")
    assert len(methods) == 2
    assert {m["http_method"] for m in methods.values()} == {"ANY"}
    integrations = resources_of(out, "aws_api_gateway_integration").values()
    assert {i["type"] for i in integrations} == {"AWS_PROXY"}
    for integration in integrations:  # the function by name: no dependency for create_before_destroy to follow
        assert integration["uri"].endswith(":function:shop/invocations")
        assert ":apigateway:${data.aws_region.AwsRegion.name}:lambda:path/2015-03-31/functions/" in integration["uri"]
        assert "aws_lambda_function" not in integration["uri"]
    assert_resource(out, "aws_api_gateway_stage", stage_name="v1")
    deployment = next(iter(resources_of(out, "aws_api_gateway_deployment").values()))
    assert deployment["lifecycle"] == {"create_before_destroy": True}
    permission = assert_resource(out, "aws_lambda_permission", principal="apigateway.amazonaws.com")
    assert permission["source_arn"].endswith(".execution_arn}/*/*")
    assert api.grant_role is handler.role


def test_lambda_rest_api_rejects_a_bad_stage_name(stack_scope: cdk.TerraformStack) -> None:
    handler = Function(stack_scope, "Fn", function_name="shop", handler="index.handler", code=CODE)
    with pytest.raises(ConfigError) as error:
        LambdaRestApi(
            stack_scope, "Api", handler=handler, rest_api_name="shop-api", stage_name="v 1", authorization="NONE"
        )
    assert error.value.paths == ["stage_name"]
    assert "test/Api" in str(error.value)


def test_rule_targets_functions_with_a_scoped_permission(stack_scope: cdk.TerraformStack) -> None:
    first = Function(stack_scope, "A", function_name="a", handler="h", code=CODE)
    second = Function(stack_scope, "B", function_name="b", handler="h", code=CODE)
    rule = Rule(stack_scope, "Nightly", schedule=Schedule.cron(minute="0", hour="3"), rule_name="nightly")
    rule.add_target(first)
    rule.add_target(second)
    out = synth(stack_scope)
    assert_resource(out, "aws_cloudwatch_event_rule", name="nightly", schedule_expression="cron(0 3 * * ? *)")
    targets = resources_of(out, "aws_cloudwatch_event_target").values()
    assert sorted(t["target_id"] for t in targets) == ["function", "function1"]
    permissions = resources_of(out, "aws_lambda_permission").values()
    assert len(permissions) == 2
    assert all(p["principal"] == "events.amazonaws.com" for p in permissions)
    assert all("aws_cloudwatch_event_rule.Nightly_Rule" in p["source_arn"] for p in permissions)


def test_scheduled_function_names_its_rule_and_checks_the_schedule(stack_scope: cdk.TerraformStack) -> None:
    scheduled = ScheduledFunction(
        stack_scope, "Job", function_name="job", schedule=Schedule.rate_minutes(5), handler="h", code=CODE
    )
    out = synth(stack_scope)
    assert_resource(out, "aws_cloudwatch_event_rule", name="job-schedule", schedule_expression="rate(5 minutes)")
    assert scheduled.grant_role is scheduled.function.role
    with pytest.raises(ConfigError) as error:
        ScheduledFunction(
            stack_scope, "Bad", function_name="bad", schedule=Schedule.expression("daily"), handler="h", code=CODE
        )
    assert error.value.paths == ["schedule"]


def test_function_name_problems_are_reported_together(stack_scope: cdk.TerraformStack) -> None:
    with pytest.raises(ConfigError) as error:
        Function(stack_scope, "Fn", function_name="bad name!", handler="", memory_size=1, code=CODE)
    assert set(error.value.paths) == {"function_name", "handler", "memory_size"}


def test_missing_code_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a folder"):
        Code.from_asset(tmp_path / "missing")


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
    api = Function(stack_scope, "Api", function_name="f", handler="h", code=CODE)
    bucket = Bucket(stack_scope, "Assets", bucket_name="assets-bucket")
    table = Table(stack_scope, "Main", table_name="main")
    queue = Queue(stack_scope, "Jobs", queue_name="jobs")
    bucket.grant_read_write(api)
    table.grant_read_write_data(api)
    queue.grant_send_messages(api)
    out = synth(stack_scope)
    policies = {p["name"]: p for p in resources_of(out, "aws_iam_role_policy").values()}
    assert set(policies) == {"Logs-Write", "Assets-ReadWrite", "Main-ReadWriteData", "Jobs-SendMessages"}
    for policy in policies.values():
        assert "aws_iam_role.Api_Role" in policy["role"]
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


def test_database_instance_options_and_port(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    DatabaseInstance(stack_scope, "Db", network, identifier="db", instance_type="db.r6g.large", engine="postgres")
    instance = assert_resource(synth(stack_scope), "aws_db_instance", identifier="db")
    assert (instance["engine"], instance["engine_version"], instance["port"]) == ("postgres", "16", 5432)
    assert instance["manage_master_user_password"] is True
    assert instance["storage_encrypted"] is True


def test_database_instance_rejects_bad_options(stack_scope: cdk.TerraformStack) -> None:
    network = Vpc(stack_scope, "Network")
    with pytest.raises(ConfigError) as error:
        DatabaseInstance(stack_scope, "Db", network, identifier="Db_1", instance_type="t3.small", engine="oracle")
    assert set(error.value.paths) == {"identifier", "instance_type", "engine"}


def test_redis_grant_connect_allows_iam_authentication_to_this_group_and_user_only(
    stack_scope: cdk.TerraformStack,
) -> None:
    network = Vpc(stack_scope, "Network")
    api = Function(stack_scope, "Api", function_name="f", handler="h", code=CODE, vpc=network.app_placement)
    cache = RedisCluster(stack_scope, "Cache", network, cluster_id="c", num_cache_nodes=3)
    cache.grant_connect(api)
    assert cache.user_id == "c-app"
    out = synth(stack_scope)
    (grant,) = [p for p in resources_of(out, "aws_iam_role_policy").values() if p["name"] == "Cache-Connect"]
    assert '"Action" = ["elasticache:Connect"]' in grant["policy"]
    assert ':replicationgroup:c"' in grant["policy"]
    assert "aws_elasticache_user.Cache_AppUser_" in grant["policy"]
    group = next(iter(resources_of(out, "aws_elasticache_replication_group").values()))
    assert (group["num_cache_clusters"], group["automatic_failover_enabled"]) == (3, True)


def test_redis_older_than_7_is_refused_it_cannot_do_iam_authentication(stack_scope: cdk.TerraformStack) -> None:
    with pytest.raises(ConfigError, match="older than Redis 7"):
        RedisCluster(stack_scope, "Cache", Vpc(stack_scope, "Network"), cluster_id="c", engine_version="6.2")


# --- secure defaults (what a security review asks for) ----------------------------------------------


def test_bucket_lifecycle_tls_only_policy_and_access_logs(stack_scope: cdk.TerraformStack) -> None:
    logs = Bucket.for_access_logs(stack_scope, "Logs", bucket_name="app-logs-bucket")
    Bucket(stack_scope, "Assets", bucket_name="app-assets-bucket", access_logs=logs)
    out = synth(stack_scope)
    rules = {
        name: body["rule"]
        for name, body in resources_of(out, "aws_s3_bucket_lifecycle_configuration").items()
        if name.startswith("Assets")
    }
    (assets_rules,) = rules.values()
    (rule,) = assets_rules
    assert rule["id"] == "old-versions-and-incomplete-uploads"
    assert "noncurrent_version_expiration" in rule
    assert "abort_incomplete_multipart_upload" in rule
    policies = [p["policy"] for n, p in resources_of(out, "aws_s3_bucket_policy").items() if n.startswith("Assets")]
    (policy,) = policies
    assert '"aws:SecureTransport" = "false"' in policy
    assert '"Effect" = "Deny"' in policy
    logging = next(iter(resources_of(out, "aws_s3_bucket_logging").values()))
    assert "aws_s3_bucket.Logs_Bucket" in logging["target_bucket"]


def test_queue_redrives_to_its_dead_letter_queue(stack_scope: cdk.TerraformStack) -> None:
    dead = Queue(stack_scope, "Dead", queue_name="jobs-dlq", retention_period=timedelta(days=14))
    Queue(stack_scope, "Jobs", queue_name="jobs", dead_letter_queue=dead)
    jobs = assert_resource(synth(stack_scope), "aws_sqs_queue", name="jobs")
    assert '"maxReceiveCount" = 5' in jobs["redrive_policy"]
    assert "aws_sqs_queue.Dead_" in jobs["redrive_policy"]


def test_table_deletion_protection_is_an_option(stack_scope: cdk.TerraformStack) -> None:
    Table(stack_scope, "Main", table_name="main", deletion_protection=True, point_in_time_recovery=True)
    table = assert_resource(synth(stack_scope), "aws_dynamodb_table", name="main")
    assert table["deletion_protection_enabled"] is True
    assert table["point_in_time_recovery"] == {"enabled": True}


def test_api_stage_logs_traces_and_throttles(stack_scope: cdk.TerraformStack) -> None:
    handler = Function(stack_scope, "Fn", function_name="shop", handler="h", code=CODE)
    LambdaRestApi(
        stack_scope, "Api", handler=handler, rest_api_name="shop", authorization="AWS_IAM", throttling_rate_limit=50
    )
    out = synth(stack_scope)
    stage = next(iter(resources_of(out, "aws_api_gateway_stage").values()))
    assert stage["xray_tracing_enabled"] is True
    assert "aws_cloudwatch_log_group.Api_AccessLogs_Group" in stage["access_log_settings"]["destination_arn"]
    assert "$context.requestId" in stage["access_log_settings"]["format"]
    settings = next(iter(resources_of(out, "aws_api_gateway_method_settings").values()))["settings"]
    assert (settings["throttling_rate_limit"], settings["throttling_burst_limit"]) == (50, 200)
    assert settings["logging_level"] == "ERROR"
    assert {m["authorization"] for m in resources_of(out, "aws_api_gateway_method").values()} == {"AWS_IAM"}
    with pytest.raises(ConfigError) as error:
        LambdaRestApi(stack_scope, "Open", handler=handler, rest_api_name="o", authorization="CUSTOM")
    assert "needs authorizer_id" in str(error.value)


def test_vpc_flow_logs_closed_default_group_and_endpoints(stack_scope: cdk.TerraformStack) -> None:
    Vpc(stack_scope, "Network", name="shop")
    out = synth(stack_scope)
    flow = next(iter(resources_of(out, "aws_flow_log").values()))
    assert flow["traffic_type"] == "ALL"
    default = next(iter(resources_of(out, "aws_default_security_group").values()))
    assert "ingress" not in default or default["ingress"] == []
    assert "egress" not in default or default["egress"] == []
    endpoints = {e["service_name"].rsplit(".", 1)[-1]: e for e in resources_of(out, "aws_vpc_endpoint").values()}
    assert {name: e["vpc_endpoint_type"] for name, e in endpoints.items()} == {
        "s3": "Gateway",
        "dynamodb": "Gateway",
        "sqs": "Interface",
        "secretsmanager": "Interface",
    }
    assert all(e["private_dns_enabled"] for e in endpoints.values() if e["vpc_endpoint_type"] == "Interface")
    assert resources_of(out, "aws_nat_gateway") == {}  # an option, off by default
