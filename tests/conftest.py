"""Shared fixtures: the reference project's config and stacks, and a terraform environment."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import stacks_cloud.cdk as cdk
from config.cloud import AppConfig, load_config
from stacks.custom_stack import CustomStack
from stacks_cloud import RegionalStackProps
from stacks_cloud.stacks import routed_domain
from stacks_cloud.terraform import terraform_env
from stacks_cloud.testing import Synth, synth, temporary_app
from tests.servers import Moto, moto_server

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture
def stack_scope() -> cdk.TerraformStack:
    """An empty stack to add constructs to."""
    return cdk.TerraformStack(temporary_app(), "test")


def single_region_config(environment: str = "development", **overrides: Any) -> AppConfig:
    """The reference config in one region (no routing), with `overrides`."""
    return load_config(environment, overrides={"multiRegion": {"enabled": False}, **overrides})


def props(config: AppConfig, region: str | None = None) -> RegionalStackProps[AppConfig]:
    return RegionalStackProps(
        config=config, region=region or config.regions[0], project_dir=PROJECT_DIR, domain=routed_domain(config)
    )


@pytest.fixture
def custom_stack() -> Callable[..., Synth]:
    """Synthesize one `CustomStack` of the reference config in one region, with config overrides."""

    def make(environment: str = "development", region: str = "us-east-1", **overrides: Any) -> Synth:
        config = single_region_config(environment, region=region, **overrides)
        return synth(CustomStack(temporary_app(), "stack", props(config)))

    return make


@pytest.fixture
def reference_config() -> Callable[[str], AppConfig]:
    return load_config


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the real terraform CLI: offline mirror if there is one, shared plugin cache."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH: install Terraform >= 1.5 to run the validation tests")
    config_dir = tmp_path_factory.mktemp("terraform-cli")
    return terraform_env(config_dir)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """One moto server for the session's tests that only read or add uniquely named resources."""
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


SLOWEST_FIRST = [
    "test_cli_e2e.py",
    "test_team_e2e.py",
    "test_terraform_cloud_remote_e2e.py",
    "test_plan_drift_e2e.py",
    "test_terraform_cloud_e2e.py",
    "test_packaging.py",
    "test_team_import_e2e.py",
    "test_rollout_e2e.py",
    "test_policy_cli.py",
    "test_terraform_validate.py",
    "test_remote_state_e2e.py",
    "test_secure_deploy_e2e.py",
    "test_team_cloud_e2e.py",
]
"""Test files that deploy against moto (minutes each), the longest first, one per worker at the start (eight
workers, `scripts/test`). With `-n N --dist loadfile` each file runs on one worker. xdist keeps this order only
with `--no-loadscope-reorder` (by default it starts the files with the most tests first, which puts these
last). It gives a worker its next file as soon as two or fewer of its tests are left: right at the start for
the two one-test files (the CLI lifecycle, the killed first create), which would chain another end-to-end file
behind each. So the ninth and tenth files are quick ones (`test_policy_cli.py`, `test_terraform_validate.py`),
and the other end-to-end files go to the workers whose first file ends soonest."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: each file keeps its own order
