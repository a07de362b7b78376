"""The deploy engine's public API (the guide's `import { Cloud } from '@stacksjs/cloud'`).

from cloud import Cloud, CloudError, CloudProviderError, InfrastructureError, ConfigError, HookError

try:
    await Cloud.deploy(config)
except CloudProviderError as error:
    print("Provider error:", error)
except InfrastructureError as error:
    print("Infrastructure error:", error)
"""

from cloud.context import DeploymentContext
from cloud.ledger import DeploymentRecord, Ledger
from cloud.orchestrator import Cloud, history
from core.errors import CloudError, CloudProviderError, ConfigError, HookError, InfrastructureError

__all__ = [
    "Cloud",
    "CloudError",
    "CloudProviderError",
    "ConfigError",
    "DeploymentContext",
    "DeploymentRecord",
    "HookError",
    "InfrastructureError",
    "Ledger",
    "history",
]
