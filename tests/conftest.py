"""Shared fixtures: the reference config, synthesized stacks, and a terraform environment."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import cdk
from cdk.testing import Synth, synth
from config.cloud import load_config
from config.schema import CloudConfig
from stacks import CustomStack, CustomStackProps
from tf import terraform_env

PROJECT_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture
def stack_scope() -> cdk.TerraformStack:
    """An empty stack to add constructs to."""
    return cdk.TerraformStack(cdk.Testing.app(), "test")


def props(environment: str = "development", **overrides: Any) -> CustomStackProps:
    values: dict[str, Any] = {
        "environment": environment,
        "app_name": "my-app",
        "region": "us-east-1",
        "project_dir": PROJECT_DIR,
    }
    values.update(overrides)
    return CustomStackProps(**values)


@pytest.fixture
def custom_stack() -> Callable[..., Synth]:
    """Synthesize a `CustomStack` with the given props overrides."""

    def make(environment: str = "development", **overrides: Any) -> Synth:
        stack = CustomStack(cdk.Testing.app(), "stack", props(environment, **overrides))
        return synth(stack)

    return make


@pytest.fixture
def reference_config() -> Callable[[str], CloudConfig]:
    return load_config


@pytest.fixture(scope="session")
def tf_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for the real terraform CLI: offline mirror if there is one, shared plugin cache."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH: install Terraform >= 1.5 to run the validation tests")
    config_dir = tmp_path_factory.mktemp("terraform-cli")
    return terraform_env(config_dir)
