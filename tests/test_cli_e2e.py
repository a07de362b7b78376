"""`cloud` end to end against moto: bootstrap, deploy two regions + global, status, a failing deploy that
rolls back, plan, destroy. The CLI runs as users run it (the `cloud` console script, real cdktf CLI and
terraform); only AWS is emulated (`moto_server` on 127.0.0.1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud.config import S3StateSettings, StateEndpoints
from stacks_cloud.state import S3Ledger
from tests.servers import Moto, moto_server
from tests.test_main import copy_project

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

PROJECT_DIR = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("cloud")
ZONE = "shop.test"
REGIONS = ("us-east-1", "eu-west-1")

CONFIG_FILE = """
import os

MOTO = {moto_url!r}


def smoke_test(context):
    context.logger.info("smoke testing %s", context.url)
    if os.environ.get("E2E_FAIL_POST_DEPLOY"):
        raise RuntimeError("smoke test failed for version " + context.version)


async def roll_back(error, context):
    await context.rollback()


CLOUD = {{
    "appName": "clie2e",
    "multiRegion": {{
        "enabled": True,
        "primaryRegion": "us-east-1",
        "replicaRegions": ["eu-west-1"],
        "routing": "latency",
        "domainName": "api.{zone}",
    }},
    "api": {{"memorySize": int(os.environ.get("E2E_MEMORY", "512"))}},
    "state": {{
        "backend": "s3",
        "localDir": {state_dir!r},
        "s3": {{
            "bucket": "clie2e-state",
            "region": "us-east-1",
            "endpoints": {{"s3": MOTO, "sts": MOTO, "iam": MOTO, "dynamodb": MOTO}},
            "usePathStyle": True,
            "skipAwsChecks": True,
        }},
    }},
    "aws": {{"endpoint": MOTO, "s3UsePathStyle": True, "skipAwsChecks": True}},
    "hooks": {{"postDeploy": smoke_test, "onError": roll_back}},
}}
"""


@dataclass
class Project:
    moto: Moto
    config_file: Path
    state_dir: Path
    env: dict[str, str]
    root: Path

    def cloud(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), "--config", str(self.config_file), *args],
            cwd=self.root,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def state_settings(self) -> S3StateSettings:
        return S3StateSettings(
            bucket="clie2e-state", region="us-east-1", endpoints=StateEndpoints(s3=self.moto.url), use_path_style=True
        )

    def memory(self, region: str) -> int:
        function = self.moto.client("lambda", region).get_function_configuration(FunctionName="clie2e-development-api")
        return int(function["MemorySize"])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]) -> Iterator[Project]:
    if not (PROJECT_DIR / "node_modules" / ".bin" / "cdktf").exists():
        pytest.skip("the cdktf CLI is not installed: run ./scripts/setup")
    work = tmp_path_factory.mktemp("cli-e2e")
    with moto_server(work) as moto:
        moto.client("route53").create_hosted_zone(Name=ZONE, CallerReference="cli-e2e")
        config_file = work / "cloud_config.py"
        state_dir = work / ".state"
        config_file.write_text(CONFIG_FILE.format(moto_url=moto.url, zone=ZONE, state_dir=str(state_dir)))
        env = moto.aws_env({k: v for k, v in os.environ.items() if not k.startswith("E2E_")})
        env["CI"] = "1"
        yield Project(moto, config_file, state_dir, env, copy_project(work))


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_the_whole_lifecycle(project: Project) -> None:
    bootstrap = as_json(project.cloud("--json", "bootstrap"))
    assert bootstrap["created"][0].startswith("bucket clie2e-state")

    deployed = project.cloud("--json", "deploy", "--version", "v1")
    first = as_json(deployed)
    assert first["success"] is True
    # a hook's context.logger.info is shown without --verbose (the guide's console.log)
    assert f"INFO stacks_cloud.hooks: smoke testing https://api.{ZONE}" in deployed.stderr
    assert first["url"] == f"https://api.{ZONE}"
    assert sorted(first["outputs"]) == [
        "clie2e-development-eu-west-1",
        "clie2e-development-global",
        "clie2e-development-us-east-1",
    ]
    assert all(project.memory(region) == 512 for region in REGIONS)

    status = as_json(project.cloud("--json", "status"))
    assert status["status"] == "running"
    assert status["version"] == "v1"
    assert set(status["stacks"].values()) == {"deployed"}
    # The regional APIs live on moto's fake execute-api hosts, which nothing here can reach.
    assert status["health"] == "unhealthy"

    # v2 raises the memory, then its smoke test fails: on_error rolls back to v1.
    failed = project.cloud("deploy", "--version", "v2", extra_env={"E2E_MEMORY": "1024", "E2E_FAIL_POST_DEPLOY": "1"})
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "post_deploy hook 'smoke_test' failed: smoke test failed for version v2" in failed.stderr
    assert all(project.memory(region) == 512 for region in REGIONS)  # v1 is live again

    # History is kept beside the state, in the state bucket: nothing in the project.
    assert not (project.state_dir / "ledger.sqlite").exists()
    ledger = S3Ledger(
        project.state_settings(), app="clie2e", environment="development", client=project.moto.client("s3")
    )
    rollback, broken, good = ledger.history("clie2e", "development")[:3]
    assert (good.version, good.status) == ("v1", "superseded")
    assert (broken.version, broken.status) == ("v2", "rolled_back")
    assert (rollback.version, rollback.status, rollback.rollback_of) == ("v1", "running", broken.id)
    assert set(run["status"] for run in rollback.stacks.values()) == {"deployed"}

    # The state matches v1's configuration: nothing to change anywhere.
    plan = as_json(project.cloud("--json", "plan"))
    assert plan["changes"] is False
    assert [(p["stack"], p["add"], p["change"], p["destroy"], p["error"]) for p in plan["stacks"]] == [
        ("clie2e-development-eu-west-1", 0, 0, 0, None),
        ("clie2e-development-us-east-1", 0, 0, 0, None),
        ("clie2e-development-global", 0, 0, 0, None),
    ]

    destroyed = project.cloud("destroy", "--yes")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    for region in REGIONS:
        functions = project.moto.client("lambda", region).list_functions()["Functions"]
        assert [f["FunctionName"] for f in functions if f["FunctionName"].startswith("clie2e")] == []
    assert ledger.history("clie2e", "development")[0].status == "destroyed"
    s3 = project.moto.client("s3")
    for stack in ("clie2e-development-us-east-1", "clie2e-development-global"):
        body = s3.get_object(Bucket="clie2e-state", Key=f"clie2e/development/{stack}.tfstate")["Body"].read()
        assert [r for r in json.loads(body)["resources"] if r["mode"] == "managed"] == []
