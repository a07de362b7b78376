"""The `CloudProvider` interface and the models it exchanges with the orchestrator (the guide's types).

A provider deploys a `DeploymentConfig` and reports a `DeploymentResult`; it destroys a deployment
by id and reports a `DeploymentStatus`. The guide's `CustomCloudProvider` in Python:

    class CustomCloudProvider(CloudProvider):
        name = "custom"

        async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
            return DeploymentResult(success=True, url="https://app.custom-cloud.com",
                                    deployment_id=config.deployment_id)

        async def destroy(self, deployment_id: str) -> bool:
            return True

        async def get_status(self, deployment_id: str) -> DeploymentStatus:
            return DeploymentStatus(status="running", health="healthy")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from config.schema import CloudConfig, ProviderSettings


class State(StrEnum):
    """Where a deployment stands."""

    PENDING = "pending"
    DEPLOYING = "deploying"
    RUNNING = "running"
    FAILED = "failed"
    DESTROYED = "destroyed"
    ROLLED_BACK = "rolled_back"


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


LineSink = Callable[[str, str], None]
"""`sink(stack, line)`: receives every output line of a stack's deploy as it is printed."""


class DeploymentConfig(BaseModel):
    """What a provider is asked to deploy: the validated `CloudConfig` plus the run's options."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    deployment_id: str
    version: str
    environment: str
    app_name: str
    regions: list[str]
    cloud: CloudConfig
    """The whole validated configuration."""
    settings: ProviderSettings | None = None
    """The provider's own section of the config (the guide's `custom: {apiKey, region}`)."""
    stacks: list[str] | None = None
    """Deploy only these stacks. Default: all."""
    concurrency: int = Field(default=4, ge=1)
    """How many stacks deploy at once (regions; the global stack always goes after them)."""
    project_dir: Path
    work_dir: Path
    """A folder of this deployment's own for synthesized files."""
    synthesized_dir: Path | None = None
    """Deploy this already synthesized output (a rollback) instead of synthesizing the config."""
    rollback_of: str | None = None
    """Set when this deployment rolls back a failed one: it re-deploys an earlier `version`."""
    on_line: LineSink | None = None
    timeout: float = 1800.0
    """Seconds one stack may take. Default: 30 min."""


class DeploymentResult(BaseModel):
    """The guide's `DeploymentResult` (`success`, `url`, `deploymentId`) plus outputs and timings per stack."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    success: bool
    url: str | None = None
    deployment_id: str
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Non-sensitive Terraform outputs by stack."""
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds per stack."""
    synthesized_dir: Path | None = None
    """The synthesized stacks that were applied (archived in the ledger for rollbacks)."""


class DeploymentStatus(BaseModel):
    """The guide's `DeploymentStatus` (`status`, `health`) plus the state of each stack."""

    status: State
    health: Health = Health.UNKNOWN
    stacks: dict[str, str] = Field(default_factory=dict)
    version: str | None = None
    url: str | None = None


class PlanSummary(BaseModel):
    """`terraform plan` of one stack: counts of resources to add, change and destroy (or the error)."""

    stack: str
    add: int = 0
    change: int = 0
    destroy: int = 0
    error: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.destroy)


class CloudProvider(ABC):
    """A deployment target. Subclass it, set `name`, implement the three coroutines.

    `settings_model` validates the provider's section of the config (default: `ProviderSettings`:
    `api_key`, `region`, anything else passed through, secret-looking values masked).
    """

    name: ClassVar[str] = ""
    settings_model: ClassVar[type[BaseModel] | None] = None

    @abstractmethod
    async def deploy(self, config: DeploymentConfig) -> DeploymentResult: ...

    @abstractmethod
    async def destroy(self, deployment_id: str) -> bool: ...

    @abstractmethod
    async def get_status(self, deployment_id: str) -> DeploymentStatus: ...

    async def plan(self, config: DeploymentConfig) -> list[PlanSummary]:
        """What a deploy would change, per stack. Optional: the default says it is not supported."""
        raise NotImplementedError(f"provider {self.name!r} cannot plan")

    def attach(self, runtime: ProviderRuntime) -> None:
        """Called by the orchestrator before use: where the project, its ledger and its state are."""
        self.runtime = runtime


class ProviderRuntime(BaseModel):
    """What the orchestrator shares with a provider: the project, the ledger, where lines go."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    project_dir: Path
    ledger: Any
    """The `cloud.ledger.Ledger` of the project."""
    cloud: Any = None
    """The `CloudConfig` being run."""
    on_line: LineSink | None = None
