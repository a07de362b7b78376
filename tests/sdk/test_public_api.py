"""The SDK's public API: the guide's names importable from the top, without starting the cdktf kernel."""

from __future__ import annotations

import subprocess
import sys

import pytest

import stacks_cloud


def test_the_guides_names_are_importable_from_the_top() -> None:
    from stacks_cloud import (  # noqa: F401  (the import is the assertion)
        Cloud,
        CloudConfig,
        CloudProvider,
        CloudProviderError,
        DeploymentConfig,
        DeploymentResult,
        DeploymentStatus,
        InfrastructureError,
        from_env,
    )

    for name in stacks_cloud.__all__:
        assert getattr(stacks_cloud, name) is not None, name
    assert sorted(stacks_cloud.__all__) == sorted(stacks_cloud._EXPORTS)
    assert issubclass(CloudProviderError, stacks_cloud.CloudError)
    assert issubclass(InfrastructureError, stacks_cloud.CloudError)


def test_importing_the_sdk_and_its_config_does_not_start_cdktf() -> None:
    code = (
        "import sys, stacks_cloud\n"
        "from stacks_cloud import CloudConfig, from_env, ConfigError, Phase\n"
        "CloudConfig.model_validate({'appName': 'shop'})\n"
        "print(sorted(m for m in ('cdktf', 'jsii', 'constructs') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        stacks_cloud.NoSuchThing  # noqa: B018
