"""stacks-cloud: the Stacks framework's "Extend Cloud" guide on Terraform, as a Python SDK on CDKTF.

The guide's `@stacksjs/cloud`: `Cloud` (deploy, destroy, status, rollback, plan), the `CloudProvider`
contract and its types, `CloudConfig` and `from_env`, the errors, the hook model, and the app
machinery a project's `main.py` uses (`CloudApp`, `RegionalStack`). Constructs live in
`stacks_cloud.constructs`, ready-made hooks in `stacks_cloud.hooks`, test helpers in
`stacks_cloud.testing`.

Names are imported on first use, so `import stacks_cloud` stays cheap (the cdktf kernel starts only
when stacks are built).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.3.0"

_EXPORTS: dict[str, str] = {
    # the deploy API
    "Cloud": "stacks_cloud.deploy.orchestrator",
    "history": "stacks_cloud.deploy.orchestrator",
    # the provider contract and the deployment vocabulary
    "CloudProvider": "stacks_cloud.providers.base",
    "ProviderRuntime": "stacks_cloud.providers.base",
    "DeploymentConfig": "stacks_cloud.models",
    "DeploymentContext": "stacks_cloud.models",
    "DeploymentResult": "stacks_cloud.models",
    "DeploymentStatus": "stacks_cloud.models",
    "Health": "stacks_cloud.models",
    "GateResult": "stacks_cloud.models",
    "HealthCheck": "stacks_cloud.models",
    "PlanSummary": "stacks_cloud.models",
    "State": "stacks_cloud.models",
    # configuration
    "AwsSettings": "stacks_cloud.config",
    "CloudConfig": "stacks_cloud.config",
    "DerivedName": "stacks_cloud.config",
    "Model": "stacks_cloud.config",
    "ProviderSettings": "stacks_cloud.config",
    "RolloutConfig": "stacks_cloud.config",
    "from_env": "stacks_cloud.config",
    # errors
    "CloudError": "stacks_cloud.core.errors",
    "CloudProviderError": "stacks_cloud.core.errors",
    "ConfigError": "stacks_cloud.core.errors",
    "HookError": "stacks_cloud.core.errors",
    "InfrastructureError": "stacks_cloud.core.errors",
    "RolloutHaltedError": "stacks_cloud.core.errors",
    "Problem": "stacks_cloud.core.errors",
    # hooks
    "Hook": "stacks_cloud.hooks.base",
    "Phase": "stacks_cloud.hooks.base",
    "hook": "stacks_cloud.hooks.base",
    # the app and its stacks
    "CloudApp": "stacks_cloud.stacks.app",
    "build_app": "stacks_cloud.stacks.app",
    "GlobalStack": "stacks_cloud.stacks.global_stack",
    "RegionalStack": "stacks_cloud.stacks.regional",
    "RegionalStackProps": "stacks_cloud.stacks.regional",
}

__all__ = [
    "AwsSettings",
    "Cloud",
    "CloudApp",
    "CloudConfig",
    "CloudError",
    "CloudProvider",
    "CloudProviderError",
    "ConfigError",
    "DeploymentConfig",
    "DeploymentContext",
    "DeploymentResult",
    "DeploymentStatus",
    "DerivedName",
    "GateResult",
    "GlobalStack",
    "Health",
    "HealthCheck",
    "Hook",
    "HookError",
    "InfrastructureError",
    "Model",
    "Phase",
    "PlanSummary",
    "Problem",
    "ProviderRuntime",
    "ProviderSettings",
    "RegionalStack",
    "RegionalStackProps",
    "RolloutConfig",
    "RolloutHaltedError",
    "State",
    "build_app",
    "from_env",
    "history",
    "hook",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stacks_cloud' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from stacks_cloud.config import (
        AwsSettings,
        CloudConfig,
        DerivedName,
        Model,
        ProviderSettings,
        RolloutConfig,
        from_env,
    )
    from stacks_cloud.core.errors import (
        CloudError,
        CloudProviderError,
        ConfigError,
        HookError,
        InfrastructureError,
        Problem,
        RolloutHaltedError,
    )
    from stacks_cloud.deploy.orchestrator import Cloud, history
    from stacks_cloud.hooks.base import Hook, Phase, hook
    from stacks_cloud.models import (
        DeploymentConfig,
        DeploymentContext,
        DeploymentResult,
        DeploymentStatus,
        GateResult,
        Health,
        HealthCheck,
        PlanSummary,
        State,
    )
    from stacks_cloud.providers.base import CloudProvider, ProviderRuntime
    from stacks_cloud.stacks.app import CloudApp, build_app
    from stacks_cloud.stacks.global_stack import GlobalStack
    from stacks_cloud.stacks.regional import RegionalStack, RegionalStackProps
