"""A name that AWS keeps once per account or partition (S3 buckets, IAM roles) set alike in every region is
refused at synth, with the construct paths, not discovered by the second region's deploy."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stacks_cloud import RegionalStack, RegionalStackProps
from stacks_cloud.cdk import Construct
from stacks_cloud.config import CloudConfig
from stacks_cloud.constructs import Bucket, Code, Function, Runtime
from stacks_cloud.core.errors import ConfigError
from stacks_cloud.stacks import build_app
from stacks_cloud.stacks.app import synth_atomically

PROJECT_DIR = Path(__file__).resolve().parent.parent


class GuideStack(RegionalStack[CloudConfig]):
    """The guide's stack ported literally: fixed names, the same in every region."""

    def __init__(self, scope: Construct, stack_id: str, props: RegionalStackProps[Any]) -> None:
        super().__init__(scope, stack_id, props)
        Bucket(self, "Assets", bucket_name="my-app-assets")
        code = Code.from_asset(PROJECT_DIR / "dist")
        Function(
            self, "Api", function_name="my-app-api", handler="index.handler", runtime=Runtime.PROVIDED_AL2, code=code
        )


class RegionalNames(RegionalStack[CloudConfig]):
    def __init__(self, scope: Construct, stack_id: str, props: RegionalStackProps[Any]) -> None:
        super().__init__(scope, stack_id, props)
        Bucket(self, "Assets", bucket_name=f"my-app-assets-{props.region}")


def config(regions: int) -> CloudConfig:
    replicas = ["eu-west-1"] if regions == 2 else []
    return CloudConfig.model_validate(
        {
            "appName": "my-app",
            "multiRegion": {"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": replicas},
        }
    )


def test_a_bucket_and_a_role_named_alike_in_two_regions_are_refused_at_synth(tmp_path: Path) -> None:
    outdir = tmp_path / "cdktf.out"
    with pytest.raises(ConfigError) as refused:
        synth_atomically(outdir, lambda app: build_app(config(2), GuideStack, app=app, project_dir=PROJECT_DIR))
    problems = {problem.path: problem for problem in refused.value.problems}
    bucket = problems["aws_s3_bucket.bucket"]
    assert bucket.value == "my-app-assets"
    assert "my-app-development-us-east-1/Assets" in bucket.message
    assert "my-app-development-eu-west-1/Assets" in bucket.message
    assert "S3 bucket names are global to the partition" in bucket.message
    assert "self.props.region" in (bucket.fix or "")
    assert "aws_iam_role.name" in problems  # the function's role, named after the function in both regions
    assert not outdir.exists()  # nothing half-written


def test_one_region_or_names_that_carry_the_region_synthesize(tmp_path: Path) -> None:
    synth_atomically(tmp_path / "one", lambda app: build_app(config(1), GuideStack, app=app, project_dir=PROJECT_DIR))
    synth_atomically(
        tmp_path / "two", lambda app: build_app(config(2), RegionalNames, app=app, project_dir=PROJECT_DIR)
    )
    assert (tmp_path / "two" / "stacks" / "my-app-development-eu-west-1" / "cdk.tf.json").is_file()
