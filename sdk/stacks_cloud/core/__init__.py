"""Shared vocabulary every layer may import: errors and validation helpers. Imports nothing above it."""

from stacks_cloud.core.errors import (
    CloudError,
    CloudProviderError,
    ConfigError,
    DeploymentLockedError,
    HookError,
    InfrastructureError,
    LedgerError,
    Problem,
)

__all__ = [
    "CloudError",
    "CloudProviderError",
    "ConfigError",
    "DeploymentLockedError",
    "HookError",
    "InfrastructureError",
    "LedgerError",
    "Problem",
]
