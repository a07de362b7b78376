"""Deployment targets: the `CloudProvider` interface, its models, and the built-in providers.

Built-ins (by `driver` name): `aws` (the project's stacks via the cdktf CLI) and `terraform` (stacks on
Terraform's built-in provider: the example of a non-AWS Terraform provider).
"""

from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentResult,
    DeploymentStatus,
    Health,
    PlanSummary,
    State,
)
from stacks_cloud.providers.base import CloudProvider, ProviderRuntime
from stacks_cloud.providers.registry import BUILTINS, resolve_provider

__all__ = [
    "BUILTINS",
    "CloudProvider",
    "DeploymentConfig",
    "DeploymentResult",
    "DeploymentStatus",
    "Health",
    "PlanSummary",
    "ProviderRuntime",
    "State",
    "resolve_provider",
]
