"""The non-AWS built-in provider deploys and destroys `terraform_data` resources for real (cdktf CLI + terraform)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from stacks_cloud import Cloud
from stacks_cloud.config import CloudConfig
from stacks_cloud.deploy.ledger import SqliteLedger as Ledger
from stacks_cloud.providers.cdktf_stacks import CdktfStacksProvider

pytestmark = pytest.mark.terraform

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(tmp_path: Path) -> CloudConfig:
    if not (PROJECT_DIR / "node_modules" / ".bin" / "cdktf").exists() or shutil.which("terraform") is None:
        pytest.skip("needs the cdktf CLI (./scripts/setup) and terraform on PATH")
    return CloudConfig.model_validate(
        {
            "appName": "tfdata",
            "driver": "terraform",
            "multiRegion": {
                "enabled": True,
                "primaryRegion": "us-east-1",
                "replicaRegions": ["eu-west-1"],
                "domainName": "api.example.com",
            },
            "state": {"localDir": str(tmp_path / ".state")},
        }
    )


def state_resources(path: Path) -> list[dict[str, object]]:
    return [r for r in json.loads(path.read_text())["resources"] if r["mode"] == "managed"]


def test_terraform_data_stacks_deploy_update_and_destroy(config: CloudConfig, tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    first = asyncio.run(
        Cloud.deploy(
            config, version="1.0.0", project_dir=PROJECT_DIR, on_line=lambda stack, line: lines.append((stack, line))
        )
    )
    stacks = ["tfdata-development-eu-west-1", "tfdata-development-us-east-1"]
    assert sorted(first.outputs) == stacks
    assert all(first.outputs[stack]["Version"] == "1.0.0" for stack in stacks)
    assert {stack for stack, _ in lines} == {*stacks, "policy"}  # every stack's output was streamed
    assert next(line for stack, line in lines if stack == "policy").startswith("policy gate passed: ")
    for stack in stacks:
        (resource,) = state_resources(tmp_path / ".state" / f"{stack}.tfstate")
        assert resource["type"] == "terraform_data"

    second = asyncio.run(Cloud.deploy(config, version="1.1.0", project_dir=PROJECT_DIR))
    for stack in stacks:  # the version is a replace trigger: new resource ids
        assert second.outputs[stack]["ReleaseId"] != first.outputs[stack]["ReleaseId"]
        assert second.outputs[stack]["Version"] == "1.1.0"

    ledger = Ledger(tmp_path / ".state" / "ledger.sqlite")
    record = ledger.get(second.deployment_id)
    assert record is not None
    assert record.has_archive
    assert {stack: run["status"] for stack, run in record.stacks.items()} == dict.fromkeys(stacks, "deployed")

    assert asyncio.run(Cloud.destroy(config, project_dir=PROJECT_DIR)) is True
    for stack in stacks:
        assert state_resources(tmp_path / ".state" / f"{stack}.tfstate") == []
    assert ledger.history("tfdata", "development")[0].status == "destroyed"


def test_waves_put_dependents_after_their_dependencies(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "stacks": {
                    "a-us": {"dependencies": []},
                    "a-eu": {"dependencies": []},
                    "a-global": {"dependencies": ["a-us", "a-eu"]},
                }
            }
        )
    )
    assert CdktfStacksProvider.waves(tmp_path) == [["a-eu", "a-us"], ["a-global"]]
    assert CdktfStacksProvider.waves(tmp_path, ["a-global"]) == [["a-global"]]
