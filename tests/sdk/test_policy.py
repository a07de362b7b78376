"""The policy gate: the SDK's rules (compliant / non-compliant pairs on synthesized Terraform), the
suppressions file, and the gate itself with the real checkov on real synthesized stacks."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import stacks_cloud.cdk as cdk
from config.cloud import load_config
from stacks.custom_stack import CustomStack
from stacks_cloud.cdk.aws import (
    api_gateway_method,
    api_gateway_resource,
    api_gateway_rest_api,
    db_instance,
    elasticache_cluster,
    elasticache_replication_group,
    s3_bucket,
)
from stacks_cloud.constructs import (
    Authorization,
    Code,
    DatabaseInstance,
    Function,
    LambdaRestApi,
    RedisCluster,
    Vpc,
)
from stacks_cloud.core.errors import ConfigError
from stacks_cloud.core.layout import CacheLayout
from stacks_cloud.policy import RULES, load_suppressions, run_gate
from stacks_cloud.policy.gate import CHECKOV_ENV, find_checkov
from stacks_cloud.policy.rules import api_authorization, rds_tls, redis_encryption, secret_in_state
from stacks_cloud.policy.suppressions import Suppression
from stacks_cloud.stacks import build_app
from stacks_cloud.testing import synth

PROJECT_DIR = Path(__file__).resolve().parents[2]
CODE = Code.from_asset(PROJECT_DIR / "dist")


def checkov_or_skip() -> str:
    try:
        return find_checkov()
    except ConfigError:
        pytest.skip(f"checkov is not installed here: ./scripts/setup installs it and sets {CHECKOV_ENV}")


# --- the SDK's rules: each a pure function, each with a compliant and a non-compliant stack ----------------


def test_redis_rule_passes_the_sdk_replication_group(stack_scope: cdk.TerraformStack) -> None:
    RedisCluster(stack_scope, "Cache", Vpc(stack_scope, "Net"), cluster_id="shop-cache")
    assert redis_encryption(synth(stack_scope)) == []


def test_redis_rule_flags_a_cache_cluster_and_a_group_without_tls_or_auth(stack_scope: cdk.TerraformStack) -> None:
    elasticache_cluster.ElasticacheCluster(
        stack_scope, "Plain", cluster_id="plain", engine="redis", node_type="cache.t3.micro", num_cache_nodes=1
    )
    elasticache_replication_group.ElasticacheReplicationGroup(
        stack_scope, "Open", replication_group_id="open", description="d", node_type="cache.t3.micro"
    )
    findings = dict(redis_encryption(synth(stack_scope)))
    assert len(findings) == 2
    (cluster,) = [message for address, message in findings.items() if address.startswith("aws_elasticache_cluster.")]
    assert "cannot require AUTH" in cluster
    (group,) = [message for address, message in findings.items() if "replication_group" in address]
    assert "transit_encryption_enabled" in group
    assert "auth_token (or user_group_ids)" in group
    assert "at_rest" in group


def test_secret_in_state_passes_the_sdks_data_tier(stack_scope: cdk.TerraformStack) -> None:
    """The SDK's database (an RDS-managed password) and cache (IAM authentication) keep no secret in state."""
    network = Vpc(stack_scope, "Net")
    RedisCluster(stack_scope, "Cache", network, cluster_id="shop-cache")
    DatabaseInstance(stack_scope, "Db", network, identifier="shop-db")
    assert secret_in_state(synth(stack_scope)) == []


def test_secret_in_state_fails_what_terraform_would_keep_in_clear(stack_scope: cdk.TerraformStack) -> None:
    from stacks_cloud.cdk.aws import (
        data_aws_secretsmanager_random_password,
        elasticache_replication_group,
        secretsmanager_secret_version,
    )

    token = data_aws_secretsmanager_random_password.DataAwsSecretsmanagerRandomPassword(
        stack_scope, "Token", password_length=32
    )
    elasticache_replication_group.ElasticacheReplicationGroup(
        stack_scope, "Group", replication_group_id="g", description="d", auth_token=token.random_password
    )
    secretsmanager_secret_version.SecretsmanagerSecretVersion(
        stack_scope, "Version", secret_id="s", secret_string=token.random_password
    )
    secretsmanager_secret_version.SecretsmanagerSecretVersion(  # write-only: never stored
        stack_scope, "WriteOnly", secret_id="s", secret_string_wo="x", secret_string_wo_version=1
    )
    findings = dict(secret_in_state(synth(stack_scope)))
    assert sorted(address.split(".")[-2] for address in findings) == [
        "aws_elasticache_replication_group",
        "aws_secretsmanager_random_password",
        "aws_secretsmanager_secret_version",
    ]
    group = next(message for address, message in findings.items() if "replication_group" in address)
    assert group.startswith("its auth_token would be kept in the state in clear: authenticate with IAM")
    version = next(message for address, message in findings.items() if "secret_version" in address)
    assert "secret_string_wo" in version


def test_rds_rule_passes_the_sdk_instance_for_each_engine(stack_scope: cdk.TerraformStack) -> None:
    vpc = Vpc(stack_scope, "Net")
    DatabaseInstance(stack_scope, "My", vpc, identifier="my-db", engine="mysql")
    DatabaseInstance(stack_scope, "Pg", vpc, identifier="pg-db", engine="postgres")
    assert rds_tls(synth(stack_scope)) == []


def test_rds_rule_flags_an_instance_without_a_tls_parameter_group(stack_scope: cdk.TerraformStack) -> None:
    db_instance.DbInstance(
        stack_scope,
        "Plain",
        identifier="plain",
        engine="mysql",
        instance_class="db.t3.small",
        allocated_storage=20,
        username="admin",
        manage_master_user_password=True,
    )
    ((address, message),) = rds_tls(synth(stack_scope))
    assert address.startswith("aws_db_instance.Plain")
    assert "require_secure_transport" in message


def test_authorization_rule_passes_an_iam_api(stack_scope: cdk.TerraformStack) -> None:
    handler = Function(stack_scope, "Fn", function_name="f", handler="h", code=CODE)
    LambdaRestApi(stack_scope, "Api", handler=handler, rest_api_name="a", authorization=Authorization.AWS_IAM)
    assert api_authorization(synth(stack_scope)) == []


def test_authorization_rule_flags_every_open_method(stack_scope: cdk.TerraformStack) -> None:
    api = api_gateway_rest_api.ApiGatewayRestApi(stack_scope, "Raw", name="raw")
    resource = api_gateway_resource.ApiGatewayResource(
        stack_scope, "Items", rest_api_id=api.id, parent_id=api.root_resource_id, path_part="items"
    )
    for method in ("GET", "POST"):
        api_gateway_method.ApiGatewayMethod(
            stack_scope, method, rest_api_id=api.id, resource_id=resource.id, http_method=method, authorization="NONE"
        )
    findings = api_authorization(synth(stack_scope))
    assert sorted(message for _, message in findings) == [
        "GET method open to anyone (authorization NONE)",
        "POST method open to anyone (authorization NONE)",
    ]


def test_rules_have_unique_ids() -> None:
    assert len({rule.check_id for rule in RULES}) == len(RULES) == 4


# --- the suppressions file ---------------------------------------------------------------------------


def test_suppressions_need_check_resources_and_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "checks.toml"
    path.write_text(
        '[[suppress]]\ncheck = "CKV_AWS_1"\nresources = ["*"]\nreason = "because"\n'
        '[[suppress]]\nresources = ["*/Api"]\nreason = "a reason that is long enough"\n'
        '[[suppress]]\ncheck = "CKV_AWS_2"\nreason = "a reason that is long enough"\nwhy = 1\n'
    )
    with pytest.raises(ConfigError) as error:
        load_suppressions(path)
    text = str(error.value)
    assert error.value.paths == [
        f"{path}: suppress[0].reason",
        f"{path}: suppress[1].check",
        f"{path}: suppress[2].resources",
        f"{path}: suppress[2].why",
    ]
    assert "'because'" in text
    assert "at least 20 characters" in text


def test_suppressions_file_that_is_not_toml(tmp_path: Path) -> None:
    path = tmp_path / "checks.toml"
    path.write_text("[[suppress]\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_suppressions(path)


def test_suppression_environments_are_patterns_with_exclusions() -> None:
    entry = Suppression(("CKV_X",), ("*/Bucket",), "a reason that is long enough", ("!production",))
    assert entry.matches("CKV_X", ("app-dev/Bucket",), "development")
    assert entry.matches("CKV_X", ("app-dev/Bucket",), "preview-42")
    assert not entry.matches("CKV_X", ("app-prod/Bucket",), "production")
    assert not entry.matches("CKV_Y", ("app-dev/Bucket",), "development")
    assert not entry.matches("CKV_X", ("app-dev/Table",), "development")
    only = Suppression(("CKV_X",), ("*",), "a reason that is long enough", ("preview-*",))
    assert only.applies_in("preview-7")
    assert not only.applies_in("staging")


def test_the_reference_apps_suppressions_are_few_in_production() -> None:
    entries = load_suppressions(PROJECT_DIR / "config" / "checks.toml")
    in_production = [entry for entry in entries if entry.applies_in("production")]
    assert len(in_production) < 10
    assert all(len(entry.reason) >= 80 for entry in entries)  # reasons a reviewer can weigh, not labels


# --- the gate, with checkov --------------------------------------------------------------------------


def synth_reference(outdir: Path, environment: str, **overrides: Any) -> Path:
    config = load_config(environment, overrides={"multiRegion": {"enabled": False}, **overrides})
    build_app(config, CustomStack, project_dir=PROJECT_DIR, app=cdk.App(outdir=str(outdir))).synth()
    return outdir


class StackWithARawBucket(CustomStack):
    """The reference stack plus a bucket made without the SDK: no TLS-only policy, no encryption, public."""

    def __init__(self, scope: Any, stack_id: str, props: Any) -> None:
        super().__init__(scope, stack_id, props)
        s3_bucket.S3Bucket(self, "Raw", bucket=f"{self.names.prefix}-raw")


@pytest.fixture(scope="module")
def reference_profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("profiles")
    profiles = {}
    for environment in ("production", "development"):
        profiles[environment] = synth_reference(root / environment, environment, database={}, cache={})
    return profiles


@pytest.mark.parametrize("environment", ["production", "development"])
def test_reference_app_passes_the_gate_with_its_data_tier(
    reference_profiles: dict[str, Path], environment: str
) -> None:
    checkov = checkov_or_skip()
    suppressions = load_suppressions(PROJECT_DIR / "config" / "checks.toml")
    report = run_gate(
        reference_profiles[environment], environment=environment, suppressions=suppressions, checkov=checkov
    )
    assert report.ok, report.render()
    assert report.passed > 150
    assert len(report.checks) > 90
    assert {"STACKS_REDIS_ENCRYPTION", "STACKS_RDS_TLS", "STACKS_API_AUTHORIZATION"} <= report.checks
    rendered = report.render()
    for finding in report.suppressed:  # the report shows every suppressed check with its reason
        assert finding.check_id in rendered
        assert finding.suppressed_by is not None
        assert finding.suppressed_by.reason in rendered
    if environment == "production":  # development-only suppressions do not apply
        assert all(f.suppressed_by and f.suppressed_by.applies_in("production") for f in report.suppressed)
        assert not any(f.check_id in {"CKV_AWS_28", "CKV2_AWS_29", "CKV_AWS_157"} for f in report.findings)


def test_gate_fails_on_a_new_violation_and_passes_once_it_is_suppressed_with_a_reason(tmp_path: Path) -> None:
    checkov = checkov_or_skip()
    config = load_config("production", overrides={"multiRegion": {"enabled": False}})
    outdir = tmp_path / "out"
    build_app(config, StackWithARawBucket, project_dir=PROJECT_DIR, app=cdk.App(outdir=str(outdir))).synth()
    suppressions = load_suppressions(PROJECT_DIR / "config" / "checks.toml")

    report = run_gate(outdir, environment="production", suppressions=suppressions, checkov=checkov)
    assert not report.ok
    failed = {finding.check_id for finding in report.failures}
    assert {finding.path for finding in report.failures} == {"my-app-production-us-east-1/Raw"}
    assert {"CKV2_AWS_6", "CKV_AWS_21"} <= failed  # no public access block, no versioning
    assert "FAILED CKV_AWS_21 my-app-production-us-east-1/Raw" in report.render()
    assert report.summary().startswith("failed:")

    reason = "A scratch bucket for the load test, emptied and deleted after it; holds no user data."
    accepted = [*suppressions, Suppression(tuple(sorted(failed)), ("*/Raw",), reason)]
    report = run_gate(outdir, environment="production", suppressions=accepted, checkov=checkov)
    assert report.ok, report.render()
    assert f"on 1 resource(s): {reason}" in report.render()
    raw = [entry for entry in json.loads(json.dumps(report.as_dict()))["suppressed"] if entry["path"].endswith("/Raw")]
    assert {entry["check_id"] for entry in raw} == failed
    assert {entry["suppressed"] for entry in raw} == {reason}


def test_checkov_missing_is_a_config_error_with_the_fix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CHECKOV_ENV, str(tmp_path / "nope"))
    with pytest.raises(ConfigError) as error:
        find_checkov()
    assert error.value.paths == [CHECKOV_ENV]
    monkeypatch.delenv(CHECKOV_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=r"run `cloud setup` \(installs checkov \d+\.\d+\.\d+ into"):
        find_checkov(tmp_path)
    assert shutil.which("checkov", path=os.environ["PATH"]) is None
    # what `cloud setup` installed in the project is found, once its install finished (the marker)
    layout = CacheLayout(tmp_path)
    layout.checkov.parent.mkdir(parents=True)
    layout.checkov.write_text("#!/bin/sh\n")
    layout.checkov.chmod(0o755)
    with pytest.raises(ConfigError):
        find_checkov(tmp_path)
    (layout.checkov_venv / CacheLayout.CHECKOV_MARKER).write_text("3\n")
    assert find_checkov(tmp_path) == str(layout.checkov)
