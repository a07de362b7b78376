"""The multi-region app: per-region stacks and providers, the global routing stack, state backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

import stacks_cloud.cdk as cdk
from config.cloud import load_config
from stacks.custom_stack import CustomStack
from stacks_cloud.config import CloudConfig
from stacks_cloud.stacks import build_app, global_stack_name, regional_stack_name, stack_names
from stacks_cloud.testing import Synth, data_sources_of, resources_of, synth_file

PROJECT_DIR = Path(__file__).resolve().parent.parent

ROUTING: dict[str, dict[str, Any]] = {
    "latency": {"routing": "latency"},
    "weighted": {"routing": "weighted", "weights": {"us-east-1": 70, "eu-west-1": 20, "ap-southeast-1": 10}},
    "geolocation": {
        "routing": "geolocation",
        "geolocation": {
            "us-east-1": [{"continent": "NA"}, {"continent": "SA"}],
            "eu-west-1": [{"continent": "EU"}, "continent:AF"],
            "ap-southeast-1": {"continent": "AS"},
        },
        "defaultRegion": "us-east-1",
    },
}


def multi_region(
    replicas: list[str] | None = None, state: dict[str, Any] | None = None, **routing: Any
) -> dict[str, Any]:
    return {
        "multiRegion": {
            "enabled": True,
            "primaryRegion": "us-east-1",
            "replicaRegions": replicas if replicas is not None else ["eu-west-1", "ap-southeast-1"],
            "domainName": "api.myapp.com",
            "hostedZone": "myapp.com",
            **routing,
        },
        **({"state": state} if state else {}),
    }


def synth_app(tmp_path: Path, overrides: dict[str, Any], environment: str = "development") -> dict[str, Synth]:
    if "state" not in overrides:  # local state beside the out dir, as in a checkout: stable relative paths
        overrides = {**overrides, "state": {"localDir": str(tmp_path / ".state")}}
    config = load_config(environment, overrides=overrides)
    tmp_path.mkdir(parents=True, exist_ok=True)
    outdir = tmp_path / "cdktf.out"
    build_app(config, CustomStack, project_dir=PROJECT_DIR, app=cdk.App(outdir=str(outdir))).synth()
    return {name: synth_file(outdir, name) for name in stack_names(config)}


def config_of(overrides: dict[str, Any]) -> CloudConfig:
    return load_config(overrides=overrides)


# --- the global stack ------------------------------------------------------------------------------------


@pytest.fixture
def json_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("policy", sorted(ROUTING))
def test_global_stack_snapshot(tmp_path: Path, json_snapshot: SnapshotAssertion, policy: str) -> None:
    stacks = synth_app(tmp_path, multi_region(**ROUTING[policy]))
    assert stacks["my-app-development-global"] == json_snapshot


def records_by_identifier(stack: Synth) -> dict[str, dict[str, Any]]:
    return {record["set_identifier"]: record for record in resources_of(stack, "aws_route53_record").values()}


def test_latency_records_alias_each_regions_domain_and_use_its_health_check(tmp_path: Path) -> None:
    stacks = synth_app(tmp_path, multi_region(**ROUTING["latency"]))
    global_stack = stacks["my-app-development-global"]
    records = records_by_identifier(global_stack)
    checks = resources_of(global_stack, "aws_route53_health_check")
    assert sorted(records) == ["ap-southeast-1", "eu-west-1", "us-east-1"]
    for region, record in records.items():
        assert record["latency_routing_policy"] == {"region": region}
        assert record["name"] == "api.myapp.com"
        assert record["type"] == "A"
        assert record["zone_id"] == "${data.aws_route53_zone.Zone.zone_id}"
        remote = f"data.terraform_remote_state.cross-stack-reference-input-my-app-development-{region}.outputs"
        assert record["alias"]["name"].startswith("${" + remote + ".cross-stack-output-aws_api_gateway_domain_name")
        assert record["alias"]["evaluate_target_health"] is True
        check_id = record["health_check_id"].removeprefix("${aws_route53_health_check.").removesuffix(".id}")
        check = checks[check_id]
        assert check["type"] == "HTTPS"
        assert check["resource_path"] == "/prod/api/health"
        assert check["port"] == 443
        assert remote in check["fqdn"]  # the region's own API host, read from its state
    assert data_sources_of(global_stack, "aws_route53_zone")["Zone"]["name"] == "myapp.com"


def test_weighted_records_carry_the_configured_weights(tmp_path: Path) -> None:
    stacks = synth_app(tmp_path, multi_region(**ROUTING["weighted"]))
    records = records_by_identifier(stacks["my-app-development-global"])
    assert {region: record["weighted_routing_policy"]["weight"] for region, record in records.items()} == {
        "us-east-1": 70,
        "eu-west-1": 20,
        "ap-southeast-1": 10,
    }


def test_geolocation_records_one_per_location_plus_the_default(tmp_path: Path) -> None:
    stacks = synth_app(tmp_path, multi_region(**ROUTING["geolocation"]))
    records = records_by_identifier(stacks["my-app-development-global"])
    policies = {identifier: record["geolocation_routing_policy"] for identifier, record in records.items()}
    assert policies == {
        "us-east-1-continent-NA": {"continent": "NA"},
        "us-east-1-continent-SA": {"continent": "SA"},
        "eu-west-1-continent-EU": {"continent": "EU"},
        "eu-west-1-continent-AF": {"continent": "AF"},
        "ap-southeast-1-continent-AS": {"continent": "AS"},
        "us-east-1-default": {"country": "*"},
    }


def test_health_check_path_is_configurable(tmp_path: Path) -> None:
    stacks = synth_app(tmp_path, multi_region(healthCheckPath="/healthz"))
    checks = resources_of(stacks["my-app-development-global"], "aws_route53_health_check")
    assert {check["resource_path"] for check in checks.values()} == {"/prod/healthz"}


# --- regions -----------------------------------------------------------------------------------------------


def test_each_region_has_its_own_provider_and_custom_domain(tmp_path: Path) -> None:
    stacks = synth_app(tmp_path, multi_region())
    for region in ("us-east-1", "eu-west-1", "ap-southeast-1"):
        stack = stacks[f"my-app-development-{region}"]
        assert [provider["region"] for provider in stack["provider"]["aws"]] == [region]
        domain = next(iter(resources_of(stack, "aws_api_gateway_domain_name").values()))
        assert domain["domain_name"] == "api.myapp.com"
        assert domain["endpoint_configuration"] == {"types": ["REGIONAL"]}
        certificate = next(iter(resources_of(stack, "aws_acm_certificate").values()))
        assert certificate["validation_method"] == "DNS"
        (validation,) = resources_of(stack, "aws_route53_record").values()
        assert validation["allow_overwrite"] is True  # every region writes the same ACM record
        # Account-global names carry the region; regional ones do not need to.
        assert next(iter(resources_of(stack, "aws_s3_bucket").values()))["bucket"].endswith(f"-{region}")
        roles = resources_of(stack, "aws_iam_role").values()
        named = [role["name"] for role in roles if "name" in role]
        assert named
        assert all(f"-{region}" in name for name in named)  # IAM role names are global to the account
        assert all(role["name_prefix"] for role in roles if "name" not in role)  # unique by construction
    assert [provider["region"] for provider in stacks["my-app-development-global"]["provider"]["aws"]] == ["us-east-1"]


def test_single_region_config_makes_one_stack_without_routing(tmp_path: Path) -> None:
    stacks = synth_app(tmp_path, {"multiRegion": {"enabled": False}, "region": "eu-central-1"})
    assert list(stacks) == ["my-app-development-eu-central-1"]
    stack = stacks["my-app-development-eu-central-1"]
    assert resources_of(stack, "aws_api_gateway_domain_name") == {}
    assert "terraform_remote_state" not in stack.get("data", {})


def addresses(stack: Synth) -> dict[str, Any]:
    """Every resource and data source address with its configuration (metadata left out)."""
    found = {}
    for block in ("resource", "data"):
        for kind, items in stack.get(block, {}).items():
            for name, body in items.items():
                found[f"{block}.{kind}.{name}"] = {key: value for key, value in body.items() if key != "//"}
    return found


def test_adding_a_replica_changes_no_existing_address(tmp_path: Path) -> None:
    two = synth_app(tmp_path / "two", multi_region(["eu-west-1"]))
    three = synth_app(tmp_path / "three", multi_region(["eu-west-1", "ap-southeast-1"]))
    for region in ("us-east-1", "eu-west-1"):
        name = f"my-app-development-{region}"
        assert addresses(three[name]) == addresses(two[name])  # the existing regions are untouched
    before = addresses(two["my-app-development-global"])
    after = addresses(three["my-app-development-global"])
    assert set(before) < set(after)
    assert {address: after[address] for address in before} == before
    added = sorted(set(after) - set(before))
    assert added == [
        "data.terraform_remote_state.cross-stack-reference-input-my-app-development-ap-southeast-1",
        "resource.aws_route53_health_check.Health-ap-southeast-1_Check_4371D871",
        "resource.aws_route53_record.Record-ap-southeast-1",
    ]


# --- state backends -----------------------------------------------------------------------------------------


def test_local_backend_one_file_per_stack_outside_cdktf_out(tmp_path: Path) -> None:
    stacks = synth_app(tmp_path, multi_region())
    for name, stack in stacks.items():
        assert stack["terraform"]["backend"] == {"local": {"path": f"../../../.state/{name}.tfstate"}}
    remote = data_sources_of(stacks["my-app-development-global"], "terraform_remote_state")
    assert remote["cross-stack-reference-input-my-app-development-eu-west-1"]["config"] == {
        "path": "../../../.state/my-app-development-eu-west-1.tfstate"
    }


S3_STATE = {
    "backend": "s3",
    "s3": {"bucket": "acme-tfstate", "region": "eu-central-1", "kmsKeyId": "alias/terraform-state"},
}


def test_s3_backend_keys_encryption_and_lockfile(tmp_path: Path) -> None:
    stacks = synth_app(tmp_path, multi_region(state=S3_STATE))
    for name, stack in stacks.items():
        assert stack["terraform"]["backend"] == {
            "s3": {
                "bucket": "acme-tfstate",
                "key": f"my-app/development/{name}.tfstate",
                "region": "eu-central-1",
                "encrypt": True,
                "kms_key_id": "alias/terraform-state",
                "use_lockfile": True,
            }
        }
    remote = data_sources_of(stacks["my-app-development-global"], "terraform_remote_state")
    source = remote["cross-stack-reference-input-my-app-development-us-east-1"]
    assert source["backend"] == "s3"
    assert source["config"]["key"] == "my-app/development/my-app-development-us-east-1.tfstate"
    assert source["config"]["bucket"] == "acme-tfstate"


def test_s3_backend_with_dynamodb_locking_and_custom_endpoints(tmp_path: Path) -> None:
    state = {
        "backend": "s3",
        "s3": {
            "bucket": "acme-tfstate",
            "region": "us-east-1",
            "locking": "dynamodb",
            "dynamodbTable": "terraform-locks",
            "endpoints": {"s3": "http://127.0.0.1:5000", "dynamodb": "http://127.0.0.1:5000"},
            "usePathStyle": True,
            "skipAwsChecks": True,
        },
    }
    stacks = synth_app(tmp_path, multi_region(state=state))
    backend = stacks["my-app-development-eu-west-1"]["terraform"]["backend"]["s3"]
    assert backend["dynamodb_table"] == "terraform-locks"
    assert "use_lockfile" not in backend
    assert backend["endpoints"] == {"s3": "http://127.0.0.1:5000", "dynamodb": "http://127.0.0.1:5000"}
    assert backend["use_path_style"] is True
    assert backend["skip_credentials_validation"] is True


def test_cloud_backend_one_workspace_per_stack(tmp_path: Path) -> None:
    state = {"backend": "cloud", "cloud": {"organization": "acme", "project": "my-app"}}
    stacks = synth_app(tmp_path, multi_region(state=state), environment="production")
    for name, stack in stacks.items():
        assert stack["terraform"]["cloud"] == {
            "hostname": "app.terraform.io",
            "organization": "acme",
            "workspaces": {"name": name, "project": "my-app"},
        }
        assert "backend" not in stack["terraform"]
    assert sorted(stacks) == [
        "my-app-production-ap-southeast-1",
        "my-app-production-eu-west-1",
        "my-app-production-global",
        "my-app-production-us-east-1",
    ]
    remote = data_sources_of(stacks["my-app-production-global"], "terraform_remote_state")
    source = remote["cross-stack-reference-input-my-app-production-eu-west-1"]
    assert source["backend"] == "remote"
    assert source["config"]["organization"] == "acme"
    assert source["config"]["workspaces"] == {"name": "my-app-production-eu-west-1"}


def test_stack_names(tmp_path: Path) -> None:
    config = config_of(multi_region())
    assert regional_stack_name(config, "eu-west-1") == "my-app-development-eu-west-1"
    assert global_stack_name(config) == "my-app-development-global"
    assert stack_names(config)[-1] == "my-app-development-global"  # deployed after the regions
