"""The `CloudProvider` interface: what the orchestrator needs from a deployment target.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import CloudProviderError
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentRecord,
    DeploymentResult,
    DeploymentStatus,
    GateResult,
    HealthCheck,
    LedgerView,
    LineSink,
    PlanSummary,
    StateLock,
)
from stacks_cloud.stacks.app import CloudApp
from stacks_cloud.terraform.events import EventSink
from stacks_cloud.terraform.process import ProcessObserver


class CloudProvider(ABC):
    """A deployment target. Subclass it, set `name`, implement the three coroutines.

    `settings_model` validates the provider's section of the config (default: `ProviderSettings`:
    `api_key`, `region`, anything else passed through, secret-looking values masked). Errors a
    provider raises should be `CloudProviderError` (the provider or its tool failed) or
    `InfrastructureError` (the infrastructure is in the way: an apply failed, a lock is held);
    anything else is wrapped in a `CloudProviderError` by the orchestrator.
    """

    name: ClassVar[str] = ""
    settings_model: ClassVar[type[BaseModel] | None] = None
    _runtime: ProviderRuntime | None = None

    @property
    def runtime(self) -> ProviderRuntime:
        """What the orchestrator shares with the provider (`attach`): the project, its app, the ledger."""
        if self._runtime is None:
            raise CloudProviderError(
                f"provider {self.name!r} was used before the orchestrator attached it", provider=self.name
            )
        return self._runtime

    @property
    def attached(self) -> bool:
        return self._runtime is not None

    @property
    def writes_terraform(self) -> bool:
        """Whether `synthesize` writes Terraform the policy gate can check (it is overridden)."""
        return type(self).synthesize is not CloudProvider.synthesize

    def skips_everything(self, config: DeploymentConfig, outdir: Path) -> bool:
        """Whether deploying `config` (synthesized in `outdir`) would apply nothing, every stack being
        unchanged since the live deployment (its policy gate then still holds). Default: False."""
        return False

    @abstractmethod
    async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
        """Create or update everything `config` describes and report where it runs.

        Args:
            config: the validated config, the deployment id and version, the provider's own settings
                (`config.settings`), the stacks to deploy and a folder of the deployment's own.

        Returns:
            A `DeploymentResult`; `success=False` makes the orchestrator record a failure.

        Raises:
            CloudProviderError: the provider (or the tool it drives) failed.
            InfrastructureError: the infrastructure refused the change (an apply failed, a lock is held).
        """

    @abstractmethod
    async def destroy(self, deployment_id: str) -> bool:
        """Remove what the deployment `deployment_id` created.

        Returns:
            True when everything is gone; False when the provider declined (nothing is recorded).

        Raises:
            CloudProviderError, InfrastructureError: as for `deploy`.
        """

    @abstractmethod
    async def get_status(self, deployment_id: str) -> DeploymentStatus:
        """Where the deployment `deployment_id` stands and how healthy it is.

        Raises:
            CloudProviderError: the status could not be read.
        """

    async def rollback(self, to: DeploymentRecord, config: DeploymentConfig) -> DeploymentResult:
        """Deploy again exactly what the earlier deployment `to` deployed.

        The orchestrator passes `config` built from `to`'s recorded config snapshot and version (its
        secrets from the current config), never the failing deployment's. The default deploys that
        config; a provider that archives what it applied (the cdktf-based ones) applies the archive.

        Raises:
            CloudProviderError, InfrastructureError: as for `deploy`.
        """
        return await self.deploy(config)

    def synthesize(self, config: DeploymentConfig) -> Path | None:
        """Write the Terraform this provider would apply for `config` (a `cdktf.out` folder) for the policy
        gate to check, and return it; `deploy` then applies exactly that (`config.synthesized_dir`).
        Default: None, nothing to check (the ledger records the gate as not applicable)."""
        return None

    def run_environment(self, config: CloudConfig) -> dict[str, str]:
        """The environment this provider's terraform needs when it runs elsewhere (a Terraform Cloud run):
        its cloud credentials, by variable name, read from this machine. Raise `ConfigError` naming what is
        missing. Default: nothing."""
        return {}

    def stack_names(self, config: CloudConfig) -> list[str]:
        """The stacks `config` produces (what `--stacks` may select, what `cloud bootstrap` prepares).
        Default: none (the provider deploys as one unit)."""
        return []

    def region_stacks(self, config: CloudConfig) -> dict[str, list[str]]:
        """Each region's stacks, for a rollout region by region (`multiRegion.rollout`). Default: none, the
        provider deploys as one unit (a rollout declared for it is refused)."""
        return {}

    async def check_health(self, outputs: dict[str, dict[str, Any]]) -> dict[str, HealthCheck]:
        """Each stack's health with the reason when it is not healthy (a rollout's health gate, `cloud status`).
        Default: unknown for every stack (the gate then does not apply)."""
        return {stack: HealthCheck() for stack in outputs}

    async def check_alarms(self, config: CloudConfig, region: str, names: list[str]) -> dict[str, GateResult]:
        """A rollout gate: each named alarm in `region`, failed when it is firing or missing. Default: the
        provider has no alarms (raises `NotImplementedError`, which fails the gate with that reason)."""
        raise NotImplementedError(f"provider {self.name!r} cannot read alarms")

    def check_stacks(self, config: CloudConfig, selected: list[str] | None) -> None:  # noqa: B027  (optional)
        """Refuse a stack selection this provider cannot deploy (raise `ConfigError`). Default: accept any."""

    async def state_locks(self, config: CloudConfig) -> list[StateLock]:
        """Terraform state locks left on this provider's stacks (after a crash). Default: none."""
        return []

    async def unlock_stack(self, config: CloudConfig, lock: StateLock) -> None:
        """Remove a state lock listed by `state_locks` if it is still held. Default: nothing to remove."""
        raise NotImplementedError(f"provider {self.name!r} keeps no state locks")

    async def plan(self, config: DeploymentConfig, *, refresh_only: bool = False) -> list[PlanSummary]:
        """What a deploy of `config` would change, per stack (`refresh_only`: what drifted, in
        `PlanSummary.drift`). With `config.synthesized_dir` set, plans are saved there for
        `deploy(saved_plans=True)`.

        Optional: the default raises `NotImplementedError`, which the CLI reports as "cannot plan".
        """
        raise NotImplementedError(f"provider {self.name!r} cannot plan")

    def attach(self, runtime: ProviderRuntime) -> None:
        """Called by the orchestrator before use: the project, its app, its ledger, where lines go."""
        self._runtime = runtime


@dataclass(frozen=True)
class ProviderRuntime:
    """What the orchestrator shares with a provider: the project, its app, the ledger, where lines go."""

    project_dir: Path
    ledger: LedgerView
    """The environment's deployment ledger (the state backend's store)."""
    cloud: CloudConfig
    """The `CloudConfig` being run."""
    app: CloudApp | None = None
    """The project's app (its stack class), for providers that synthesize the project's stacks."""
    on_line: LineSink | None = None
    observer: ProcessObserver | None = None
    """Told of every child process (terraform) started and ended, so the environment lock can name them."""
    progress: ApplyProgress = field(default_factory=lambda: ApplyProgress())
    """Where a provider says a stack's apply started: from then on, a failure may have changed something."""
    on_event: EventSink | None = None
    """Where terraform's events (and the engine's phases) go, for a live view: `sink(stack, event)`."""


class ApplyProgress:
    """Which stacks started to apply in this deployment (the orchestrator rolls back only after one did).

    A provider that never reports (`tracks_stacks` stays False) is assumed to change something as soon
    as its `deploy` is called.
    """

    def __init__(self) -> None:
        self.tracks_stacks = False
        self.applying: list[str] = []

    def started(self, stack: str) -> None:
        self.tracks_stacks = True
        self.applying.append(stack)
