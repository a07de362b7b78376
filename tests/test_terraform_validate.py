"""Every synthesized stack passes the real `terraform init` (offline mirror) and `terraform validate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import stacks_cloud.cdk as cdk
from config.cloud import load_config
from stacks.custom_stack import CustomStack
from stacks_cloud.stacks import build_app, stack_names
from tests.terraform_run import terraform

pytestmark = pytest.mark.terraform


def init_and_validate(stack_dir: Path, env: dict[str, str]) -> Any:
    terraform(["init", "-input=false", "-no-color"], cwd=stack_dir, env=env, timeout=300)
    # validate -json exits 1 for an invalid configuration and still prints the diagnostics.
    output = terraform(["validate", "-json", "-no-color"], cwd=stack_dir, env=env, ok=(0, 1))
    return json.loads(output[output.index("{") :])  # the JSON document, after anything terraform said first


PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("environment", "overrides"),
    [
        ("development", {}),
        ("production", {}),
        # The whole guide: the data tier (VPC, RDS, ElastiCache) and two regions.
        (
            "staging",
            {
                "database": {},
                "cache": {},
                "multiRegion": {
                    "enabled": True,
                    "primaryRegion": "us-east-1",
                    "replicaRegions": ["eu-west-1"],
                    "domainName": "api.myapp.com",
                },
            },
        ),
    ],
)
def test_synthesized_stacks_validate(
    tmp_path: Path, tf_env: dict[str, str], environment: str, overrides: dict[str, Any]
) -> None:
    config = load_config(environment, overrides={**overrides, "state": {"localDir": str(tmp_path / ".state")}})
    outdir = tmp_path / "cdktf.out"
    build_app(config, CustomStack, project_dir=PROJECT_DIR, app=cdk.App(outdir=str(outdir))).synth()
    stack_dirs = sorted((outdir / "stacks").iterdir())
    assert [path.name for path in stack_dirs] == sorted(stack_names(config))
    for stack_dir in stack_dirs:
        result = init_and_validate(stack_dir, tf_env)
        assert result["valid"] is True, json.dumps(result["diagnostics"], indent=2)
        assert result["error_count"] == 0


def test_validate_catches_a_broken_stack(tmp_path: Path, tf_env: dict[str, str]) -> None:
    """The check above can fail: an invalid attribute value is reported by terraform itself."""
    from stacks_cloud.cdk.aws import provider, sqs_queue

    app = cdk.App(outdir=str(tmp_path))
    stack = cdk.TerraformStack(app, "broken")
    provider.AwsProvider(stack, "aws", region="us-east-1")
    sqs_queue.SqsQueue(stack, "Queue", name="q", visibility_timeout_seconds=99999)
    app.synth()
    result = init_and_validate(tmp_path / "stacks" / "broken", tf_env)
    assert result["valid"] is False
    assert "visibility_timeout_seconds" in json.dumps(result["diagnostics"])
