"""Shared vocabulary every layer may import: errors and validation helpers. Imports nothing above it."""

from stacks_cloud.core.errors import (
    CloudError,
    CloudProviderError,
    ConfigError,
    HookError,
    InfrastructureError,
    Problem,
)

__all__ = [
    "CloudError",
    "CloudProviderError",
    "ConfigError",
    "HookError",
    "InfrastructureError",
    "Problem",
]
