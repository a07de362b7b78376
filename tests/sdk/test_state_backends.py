"""State backends: one module each, chosen by `state.backend`; a new one is one class and one registration.

The toy backend below is the whole of what a project writes to keep its state somewhere else (here a
"vault" folder outside the project): its backend block, its ledger (history and environment lock),
nothing else. The `terraform` driver's stacks then deploy, record, lock and destroy through it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from stacks_cloud import Cloud
from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import CloudProviderError, ConfigError, DeploymentLockedError
from stacks_cloud.state import Ledger, LockHolder, SqliteLedger, StateBackend, backend_for, register_backend
from stacks_cloud.terraform.version import require_terraform
from tests.sdk.test_terraform_provider import PROJECT_DIR, state_resources
from tests.test_main import copy_project

if TYPE_CHECKING:
    from stacks_cloud.cdk import TerraformStack

SDK = Path(__file__).resolve().parents[2] / "sdk" / "stacks_cloud"


class VaultBackend(StateBackend):
    """State files and the ledger in a folder of their own, `<root>/<app>/<env>/`."""

    name = "vault"

    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, config: CloudConfig) -> Path:
        return self.root / config.app_name / config.environment

    def configure_stack(
        self, stack: TerraformStack, name: str, config: CloudConfig, *, project_dir: Path, outdir: Path
    ) -> None:
        from stacks_cloud.cdk import LocalBackend

        LocalBackend(stack, path=str(self.folder(config) / f"{name}.tfstate"))

    def open_ledger(self, config: CloudConfig, project_dir: Path) -> Ledger:
        return SqliteLedger(self.folder(config) / "ledger.sqlite")


@pytest.mark.terraform
def test_a_backend_registered_in_one_module_deploys_records_locks_and_destroys(tmp_path: Path) -> None:
    if not (PROJECT_DIR / "node_modules" / ".bin" / "cdktf").exists() or shutil.which("terraform") is None:
        pytest.skip("needs the cdktf CLI (./scripts/setup) and terraform on PATH")
    vault = tmp_path / "vault"
    register_backend(VaultBackend(vault))  # the one registration line
    project = copy_project(tmp_path)
    regions = {"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": ["eu-west-1"]}
    config = CloudConfig.model_validate(
        {"appName": "tfdata", "driver": "terraform", "multiRegion": regions, "state": {"backend": "vault"}}
    )
    assert isinstance(backend_for(config), VaultBackend)
    stacks = ["tfdata-development-eu-west-1", "tfdata-development-us-east-1"]

    result = asyncio.run(Cloud.deploy(config, version="7.0.0", project_dir=project, checks=False))

    folder = vault / "tfdata" / "development"
    for stack in stacks:  # the backend block it wrote: state where it said, nothing in the project
        (resource,) = state_resources(folder / f"{stack}.tfstate")
        assert resource["type"] == "terraform_data"
    assert not (project / ".state").exists()
    ledger = SqliteLedger(folder / "ledger.sqlite")
    (record,) = ledger.history("tfdata", "development")
    assert (record.id, record.version, record.status) == (result.deployment_id, "7.0.0", "running")
    status = asyncio.run(Cloud.status(config, project_dir=project))
    assert (status.version, status.deployment_id) == ("7.0.0", result.deployment_id)

    # The environment lock lives in the backend's ledger: a holder that is alive refuses a second run.
    holder = LockHolder.for_this_process("development-other", "deploy")
    assert ledger.create_lock("tfdata", "development", holder) is not None
    with pytest.raises(DeploymentLockedError, match="is locked by another run: deploy development-other"):
        asyncio.run(Cloud.destroy(config, project_dir=project))
    stored = ledger.read_lock("tfdata", "development")
    assert stored is not None
    assert ledger.replace_lock("tfdata", "development", stored, None) is None

    assert asyncio.run(Cloud.destroy(config, project_dir=project)) is True
    for stack in stacks:
        assert state_resources(folder / f"{stack}.tfstate") == []
    assert ledger.history("tfdata", "development")[0].status == "destroyed"


def test_an_unknown_backend_is_a_config_error_naming_the_registered_ones() -> None:
    with pytest.raises(ConfigError) as error:
        CloudConfig.model_validate({"appName": "shop", "state": {"backend": "s4"}})
    (problem,) = error.value.problems
    assert problem.path == "state.backend"
    assert "registered: " in problem.message
    assert "s3" in problem.message


def test_a_backend_checks_its_own_section_with_the_rest_of_the_config() -> None:
    with pytest.raises(ConfigError) as error:
        CloudConfig.model_validate({"appName": "shop", "region": "us-est-1", "state": {"backend": "s3"}})
    assert sorted(error.value.paths) == ["region", "state.s3"]  # one error, every problem


def test_nothing_outside_the_backends_compares_backend_names() -> None:
    found = subprocess.run(
        ["grep", "-rn", "--include=*.py", "backend ==", str(SDK)], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    assert [line for line in found if not line.startswith(str(SDK / "state") + "/")] == []


def test_an_old_terraform_is_refused_naming_the_version_found(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "terraform"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho \'{"terraform_version": "1.9.8"}\'\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    require_terraform((1, 9), env, needed_by="a test")  # as old as needed: accepted
    with pytest.raises(CloudProviderError, match=r"terraform 1\.10 or later is needed \(the s3 state backend\), but"):
        require_terraform((1, 10), env, needed_by="the s3 state backend")
    with pytest.raises(CloudProviderError, match=r"PATH has terraform 1\.9\.8"):
        require_terraform((1, 10), env, needed_by="the s3 state backend")
    missing = {**os.environ, "PATH": str(tmp_path / "nothing")}
    with pytest.raises(CloudProviderError, match="no terraform answers"):
        require_terraform((1, 5), missing, needed_by="a test")


def test_the_s3_backend_needs_terraform_1_10_for_its_lockfile() -> None:
    s3 = {"bucket": "acme-tfstate", "region": "us-east-1"}
    lockfile = CloudConfig.model_validate({"appName": "shop", "state": {"backend": "s3", "s3": s3}})
    table = CloudConfig.model_validate(
        {"appName": "shop", "state": {"backend": "s3", "s3": {**s3, "locking": "dynamodb", "dynamodbTable": "t"}}}
    )
    assert backend_for(lockfile).minimum_terraform(lockfile) == (1, 10)
    assert backend_for(table).minimum_terraform(table) == (1, 5)


def test_bootstrap_is_asked_of_the_backend(tmp_path: Path) -> None:
    local = CloudConfig.model_validate({"appName": "shop"})
    assert backend_for(local).bootstrap(local, ["shop-development-us-east-1"]) is None  # nothing to create
    assert json.loads(json.dumps(backend_for(local).state_locks(local, ["shop-development-us-east-1"]))) == []
