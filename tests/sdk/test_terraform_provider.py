"""The non-AWS built-in provider deploys and destroys `terraform_data` resources for real (cdktf CLI + terraform)."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from stacks_cloud import Cloud
from stacks_cloud.config import CloudConfig
from stacks_cloud.providers.cdktf_stacks import CdktfStacksProvider
from stacks_cloud.state import SqliteLedger as Ledger
from stacks_cloud.terraform.events import Event
from tests.test_main import copy_project

pytestmark = pytest.mark.terraform

PROJECT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the app: the deployments' working folders and init cache stay out of the checkout."""
    return copy_project(tmp_path)


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


def test_terraform_data_stacks_deploy_update_and_destroy(config: CloudConfig, project: Path, tmp_path: Path) -> None:
    lines: list[tuple[str, str]] = []
    first = asyncio.run(
        Cloud.deploy(
            config, version="1.0.0", project_dir=project, on_line=lambda stack, line: lines.append((stack, line))
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

    second = asyncio.run(Cloud.deploy(config, version="1.1.0", project_dir=project))
    for stack in stacks:  # the version is a replace trigger: new resource ids
        assert second.outputs[stack]["ReleaseId"] != first.outputs[stack]["ReleaseId"]
        assert second.outputs[stack]["Version"] == "1.1.0"

    ledger = Ledger(tmp_path / ".state" / "ledger.sqlite")
    record = ledger.get(second.deployment_id)
    assert record is not None
    assert record.has_archive
    assert {stack: run["status"] for stack, run in record.stacks.items()} == dict.fromkeys(stacks, "deployed")

    assert asyncio.run(Cloud.destroy(config, project_dir=project)) is True
    for stack in stacks:
        assert state_resources(tmp_path / ".state" / f"{stack}.tfstate") == []
    assert ledger.history("tfdata", "development")[0].status == "destroyed"


def test_an_unchanged_stack_is_skipped_unless_forced(config: CloudConfig, project: Path, tmp_path: Path) -> None:
    stacks = ["tfdata-development-eu-west-1", "tfdata-development-us-east-1"]
    first = asyncio.run(Cloud.deploy(config, version="2.0.0", project_dir=project, checks=False))
    state = tmp_path / ".state" / f"{stacks[0]}.tfstate"
    serial = json.loads(state.read_text())["serial"]

    events: list[tuple[str, Event]] = []
    again = asyncio.run(
        Cloud.deploy(
            config,
            version="2.0.0",
            project_dir=project,
            checks=False,
            on_event=lambda stack, event: events.append((stack, event)),
        )
    )
    assert json.loads(state.read_text())["serial"] == serial  # terraform never ran: the state is untouched
    assert again.outputs == first.outputs  # the live deployment's outputs, recorded for this one
    assert {stack for stack, event in events if event.get("result") == "unchanged"} == set(stacks)
    ledger = Ledger(tmp_path / ".state" / "ledger.sqlite")
    record = ledger.get(again.deployment_id)
    assert record is not None
    assert (record.status, {stack: run["status"] for stack, run in record.stacks.items()}) == (
        "running",
        dict.fromkeys(stacks, "deployed"),
    )

    events.clear()
    forced = asyncio.run(
        Cloud.deploy(
            config,
            version="2.0.0",
            project_dir=project,
            checks=False,
            force=True,
            on_event=lambda stack, event: events.append((stack, event)),
        )
    )
    ran = {stack for stack, event in events if event.get("type") == "change_summary"}
    assert ran == set(stacks)  # --force: terraform planned (and applied) every stack
    assert {stack for stack, event in events if event.get("result") == "deployed"} == set(stacks)
    assert forced.outputs == first.outputs  # and found nothing to change


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


def _crashed_apply_log(path: Path, *events: dict[str, object]) -> Path:
    """A terraform `apply -json` log as the engine streams it, cut where terraform was killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [{"@level": "info", "type": "version", "terraform": "1.11.4"}, *events]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _hook(kind: str, address: str, **extra: object) -> dict[str, object]:
    resource = {"addr": address, "resource_type": address.split(".")[0]}
    return {"@level": "info", "type": kind, "hook": {"resource": resource, "action": "create", **extra}}


def test_what_a_killed_apply_created_and_never_recorded_is_reported_not_created_twice(
    config: CloudConfig, project: Path, tmp_path: Path
) -> None:
    """Finding 9 of issue 26: resources whose names AWS picks (a KMS key, a REST API) never collide, so only
    terraform's own log of the killed apply tells that they exist. The next deploy stops before applying
    and names each with its import command."""
    from stacks_cloud.core.errors import OrphanedResourcesError

    stack = "tfdata-development-us-east-1"
    asyncio.run(Cloud.deploy(config, version="1.0.0", project_dir=project, checks=False))
    deployments = project / ".cache" / "deployments"
    killed = _crashed_apply_log(
        deployments / "development-crashed" / "logs" / f"{stack}.apply.log",
        _hook("apply_start", "aws_kms_key.Key_Key"),
        _hook("apply_complete", "aws_kms_key.Key_Key", id_key="id", id_value="1234abcd-key"),
        _hook("apply_start", "aws_api_gateway_rest_api.Api_RestApi"),  # killed while creating it
    )
    completed = _crashed_apply_log(  # an apply that finished: its summary is its last event
        deployments / "development-completed" / "logs" / f"{stack}.apply.log",
        _hook("apply_complete", "aws_s3_bucket.Old", id_key="id", id_value="old-bucket"),
        {"type": "change_summary", "changes": {"add": 1, "change": 0, "remove": 0, "operation": "apply"}},
    )
    with pytest.raises(OrphanedResourcesError) as error:
        asyncio.run(Cloud.deploy(config, version="1.1.0", project_dir=project, checks=False))
    message = str(error.value)
    assert error.value.stack == stack
    addresses = [orphan.address for orphan in error.value.orphans]
    assert addresses == ["aws_kms_key.Key_Key", "aws_api_gateway_rest_api.Api_RestApi"]
    assert "terraform import 'aws_kms_key.Key_Key' '1234abcd-key'" in message
    assert "terraform was killed while creating it" in message
    assert str(killed) in (error.value.details or "")
    assert "aws_s3_bucket.Old" not in message  # a completed apply recorded what it created
    ledger = Ledger(tmp_path / ".state" / "ledger.sqlite")
    (failed, _) = ledger.history("tfdata", "development", limit=2)
    assert failed.stacks[stack]["status"] == "failed"
    assert "1234abcd-key" in (failed.stacks[stack]["error"] or "")
    assert killed.is_file()  # kept until the orphans are handled
    assert completed.is_file()

    killed.unlink()  # the user deleted them in the cloud, then the log, as the message says
    again = asyncio.run(Cloud.deploy(config, version="1.1.0", project_dir=project, checks=False))
    assert again.outputs[stack]["Version"] == "1.1.0"


def test_a_killed_apply_whose_resources_are_all_in_the_state_is_checked_once(
    config: CloudConfig, project: Path, tmp_path: Path
) -> None:
    stack = "tfdata-development-us-east-1"
    asyncio.run(Cloud.deploy(config, version="1.0.0", project_dir=project, checks=False))
    (address,) = [f"{r['type']}.{r['name']}" for r in state_resources(tmp_path / ".state" / f"{stack}.tfstate")]
    killed = _crashed_apply_log(
        project / ".cache" / "deployments" / "development-crashed" / "logs" / f"{stack}.apply.log",
        _hook("apply_start", address),
        _hook("apply_complete", address, id_key="id", id_value="recorded"),
    )
    asyncio.run(Cloud.deploy(config, version="1.1.0", project_dir=project, checks=False))
    assert not killed.exists()
    assert killed.with_name(killed.name + ".checked").is_file()


def test_import_ids_follow_each_types_format_and_fill_in_what_is_known() -> None:
    from stacks_cloud.terraform.unrecorded import Created, import_id

    synthesized = {
        "resource": {
            "aws_api_gateway_request_validator": {"V": {"rest_api_id": "${aws_api_gateway_rest_api.Api.id}"}},
            "aws_api_gateway_method": {
                "M": {
                    "rest_api_id": "${aws_api_gateway_rest_api.Api.id}",
                    "resource_id": "${aws_api_gateway_rest_api.Api.root_resource_id}",
                    "http_method": "ANY",
                }
            },
            "aws_kms_key": {"K": {"description": "k"}},
        }
    }
    log = Path("x.apply.log")
    orphans = {"aws_api_gateway_rest_api.Api": "api123"}
    validator = Created("aws_api_gateway_request_validator.V", "val9", complete=True, log=log)
    assert import_id(validator, synthesized, {}, orphans) == "api123/val9"
    method = Created("aws_api_gateway_method.M", "agm-x", complete=True, log=log)
    assert import_id(method, synthesized, {}, orphans) == "api123/<RESOURCE_ID>/ANY"  # the API is not imported yet
    state = {"aws_api_gateway_rest_api.Api": {"id": "api123", "root_resource_id": "root7"}}
    assert import_id(method, synthesized, state, {}) == "api123/root7/ANY"  # once it is
    key = Created("aws_kms_key.K", "1234abcd", complete=True, log=log)
    assert import_id(key, synthesized, {}, {}) == "1234abcd"
    unknown = Created("aws_kms_key.K", None, complete=False, log=log)
    assert import_id(unknown, synthesized, {}, {}) == "<ID>"
