"""The deployment vocabulary every layer shares: what a provider is asked and answers, and what hooks see.

The guide's types in Python: `DeploymentConfig` (what to deploy), `DeploymentResult` (`success`,
`url`, `deployment_id`), `DeploymentStatus` (`status`, `health`), and the `DeploymentContext` that
pre-deploy, post-deploy and on-error hooks receive.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from stacks_cloud.config import CloudConfig, ProviderSettings
from stacks_cloud.terraform.plan import ResourceChange


class State(StrEnum):
    """Where a deployment stands. At most one deployment of an environment is `running` (the live one)."""

    PENDING = "pending"
    """Recorded; its pre-deploy hooks run."""
    DEPLOYING = "deploying"
    RUNNING = "running"
    """Completed and live."""
    SUPERSEDED = "superseded"
    """Completed, then replaced by a newer deployment that completed."""
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    """Stopped by Ctrl-C, SIGTERM or the death of the deploying process; its finished stacks are recorded."""
    DESTROYED = "destroyed"
    ROLLED_BACK = "rolled_back"
    """Failed, and an earlier deployment was deployed again in its place."""
    PARTIAL = "partial"
    """Rolled out to some waves on purpose (`--wave`, `--regions`): a later deploy continues it."""
    HALTED = "halted"
    """A rollout gate failed during a bake: no later wave started (the deployed waves rolled back, unless the
    config said to leave them)."""


COMPLETED_STATES = frozenset({State.RUNNING, State.SUPERSEDED})
"""Deployments that applied completely: what a rollback can go back to."""
IN_PROGRESS_STATES = frozenset({State.PENDING, State.DEPLOYING})
FINAL_STATES = frozenset(State) - IN_PROGRESS_STATES
"""Deployments that ended (their finish time is set): every state but pending and deploying."""


class StackState(StrEnum):
    """Where one stack of a deployment stands, as the ledger records it and the live view shows it."""

    WAITING = "waiting"
    """Not started: waiting for the stacks it depends on, or for a free slot."""
    DEPLOYING = "deploying"
    DEPLOYED = "deployed"
    UNCHANGED = "unchanged"
    """Its Terraform is identical to the live deployment's: skipped (recorded as `deployed`)."""
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    DESTROYED = "destroyed"


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"
    UNKNOWN = "unknown"


class HealthCheck(BaseModel):
    """One stack's health and, when it is not healthy, why (what was asked and what came back)."""

    health: Health = Health.UNKNOWN
    reason: str | None = None
    """e.g. `GET https://.../api/health: HTTP 503`, `GET ...: connection refused`; None when healthy."""


class GateResult(BaseModel):
    """What a rollout gate says about one region: whether the release may go on, and why not."""

    passed: bool
    reason: str | None = None
    """Why it failed (or a note when it passed), e.g. `error rate 7.2% > 5% over 5 min`."""


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
    force: bool = False
    """Apply every stack, also those whose synthesized Terraform is identical to the live deployment's
    (which are skipped by default, as AWS CDK skips an unchanged template)."""
    saved_plans: bool = False
    """Apply each stack's saved plan (`<synthesized_dir>/stacks/<stack>/plan.tfplan`, written by `cloud plan
    --out`) instead of planning again: exactly what was reviewed, or nothing (terraform refuses a stale plan)."""
    on_line: LineSink | None = None
    timeout: float = 1800.0
    """Seconds one stack may take. Default: 30 min."""
    kept: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Stacks known to be as this deployment would leave them, with their outputs: not applied, recorded as
    deployed (a rollout's waves that an earlier deployment of the same synth applied; a rollback of a halted
    rollout leaves the waves that never started)."""


class DeploymentResult(BaseModel):
    """The guide's `DeploymentResult` (`success`, `url`, `deploymentId`) plus outputs and timings per stack."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    success: bool
    url: str | None = None
    deployment_id: str
    version: str | None = None
    """The version deployed (set by the deploy engine)."""
    environment: str | None = None
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Non-sensitive Terraform outputs by stack."""
    timings: dict[str, float] = Field(default_factory=dict)
    """Seconds per stack."""
    changes: dict[str, dict[str, int]] = Field(default_factory=dict)
    """What each stack's apply did, as terraform counts it: `{"add": 2, "change": 0, "destroy": 0}`."""
    synthesized_dir: Path | None = None
    """The synthesized stacks that were applied (archived in the ledger for rollbacks)."""
    partial: bool = False
    """A rollout stopped on purpose before its last wave (`--wave`, `--regions`): recorded `partial`, not live."""


class StackStatus(BaseModel):
    """One stack of a deployment as `cloud status` shows it: its region, state, outputs, address and health."""

    stack: str
    region: str | None = None
    """The stack's region; None for the global routing stack."""
    status: str
    url: str | None = None
    health: Health = Health.UNKNOWN
    """From the stack's health-check endpoint (`url` + the config's health-check path), when it has one."""
    health_reason: str | None = None
    """Why the stack is not healthy, when it was checked and is not."""
    outputs: dict[str, Any] = Field(default_factory=dict)
    run: dict[str, str] | None = None
    """Where the stack was applied, when there is somewhere to look: a Terraform Cloud run (`run`, `url`),
    or the workspace and state version a local apply wrote (`workspace`, `state_version`, `url`)."""


class UnfinishedDeployment(BaseModel):
    """The newest deployment, when it did not complete (failed, interrupted) but applied stacks: what of it
    is live in the cloud although the ledger's live deployment (if any) says otherwise, and what to do."""

    deployment_id: str
    status: str
    version: str
    error: str | None = None
    applied: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Each stack it applied (`deployed`) or left part-applied (`failed`, `interrupted`): its state and
    outputs."""
    next_step: str = ""


class DeploymentStatus(BaseModel):
    """The guide's `DeploymentStatus` (`status`, `health`) plus the state of each stack.

    For an environment, `Cloud.status` describes what is live (the last deployment that completed)
    and lists any deployment in progress. When nothing is live, `status` is `destroyed` after a destroy,
    else `pending` (nothing deployed yet)."""

    status: State
    health: Health = Health.UNKNOWN
    health_reason: str | None = None
    """Why `health` is not healthy: each unhealthy stack and what its check got."""
    stacks: dict[str, str] = Field(default_factory=dict)
    version: str | None = None
    url: str | None = None
    deployment_id: str | None = None
    """The deployment described (the live one for an environment)."""
    in_progress: list[str] = Field(default_factory=list)
    """Deployments of the environment that are running now."""
    lock: dict[str, Any] | None = None
    """The environment lock's holder, if any (`stale: true` when its process is gone)."""
    regions: list[StackStatus] = Field(default_factory=list)
    """Each stack of the deployment (a region, or the global routing stack): outputs, URL, health."""
    environment: str | None = None
    unfinished: UnfinishedDeployment | None = None
    """The newest deployment when it did not complete but changed what is in the cloud (see the class)."""


class PlanSummary(BaseModel):
    """The plan (or drift check) of one stack: what changes, resource by resource, or the error.

    `resources` lists each resource a deploy would change with its action and, for updates and
    replacements, the attributes that differ; `drift` lists resources changed outside Terraform (a
    refresh-only plan). `deployed` is False when the stack had no state yet.
    """

    stack: str
    add: int = 0
    change: int = 0
    destroy: int = 0
    error: str | None = None
    resources: list[ResourceChange] = Field(default_factory=list)
    drift: list[ResourceChange] = Field(default_factory=list)
    deployed: bool = True
    note: str | None = None
    """Why the plan is what it is, when that is not obvious (a dependency not deployed yet)."""
    run: dict[str, str] | None = None
    """The Terraform Cloud run that made the plan (`run`, its id, and `url`), for remote execution."""

    @property
    def has_changes(self) -> bool:
        return bool(self.add or self.change or self.destroy)

    def render(self, *, drift: bool = False) -> list[str]:
        """The stack's block as a user reads it: a head line, then each resource and attribute."""
        if self.error:
            return [f"{self.stack}: error: {self.error}"]
        changes = self.drift if drift else self.resources
        if drift:
            head = f"{len(changes)} drifted" if changes else "no drift"
            if not self.deployed:
                head = "not deployed"
        else:
            head = (
                f"{self.add} to add, {self.change} to change, {self.destroy} to destroy"
                if self.has_changes
                else "no changes"
            )
        lines = [f"{self.stack}: {head}"]
        if self.run:
            lines.append(f"  run: {self.run.get('url')}")
        if self.note:
            lines.append(f"  note: {self.note}")
        for change in changes:
            lines += change.render(drift=drift)
        return lines


@dataclass(frozen=True)
class DeploymentRecord:
    """One deployment as the ledger keeps it: what ran, how it ended, and what is needed to run it again.

    `config_snapshot` is the validated config as deployed (secrets masked, hooks and provider objects
    left out); `has_archive` says whether its synthesized stacks were archived (cdktf-based providers).
    """

    id: str
    app: str
    environment: str
    version: str
    provider: str
    config_hash: str
    status: str
    url: str | None
    error: str | None
    rollback_of: str | None
    started_at: float
    finished_at: float | None
    has_archive: bool
    stacks: dict[str, dict[str, Any]]
    kind: str = "deploy"
    """`deploy`, or `rollback` (a re-deployment of an earlier record)."""
    config_snapshot: dict[str, Any] | None = None
    operator: str | None = None
    """`user@host` that ran it."""
    checks: str | None = None
    """What the policy gate said before anything was applied: `passed: ...`, `skipped on request (...)`,
    `failed: ...`, or None (a rollback, which re-applies what was checked before, or a provider with
    nothing to check)."""
    rollout: dict[str, Any] | None = None
    """A rollout's progress: its waves (regions, stacks, status), each gate's verdict and reason, and why it
    halted (see `deploy.rollout`); None for a deployment without waves."""

    @property
    def completed(self) -> bool:
        return self.status in COMPLETED_STATES

    def as_dict(self) -> dict[str, Any]:
        data = {key: value for key, value in self.__dict__.items() if key != "config_snapshot"}
        return data


@dataclass(frozen=True)
class StateLock:
    """A terraform state lock left on a stack's state (by a run that crashed or was killed).

    Attributes: the `stack`, the lock's `lock_id` (what `terraform force-unlock` takes), `who` held it
    and when it was `created`, the `operation`, and `where` it is stored (an S3 key, a lock-table item).
    """

    stack: str
    lock_id: str
    who: str
    created: str
    operation: str
    where: str

    def describe(self) -> str:
        return f"{self.stack}: lock {self.lock_id} ({self.operation} by {self.who} at {self.created}) in {self.where}"


class LedgerView(Protocol):
    """What a provider may do with the deployment ledger (the orchestrator hands it one)."""

    def set_stack(
        self,
        deployment_id: str,
        stack: str,
        status: str,
        *,
        outputs: dict[str, Any] | None = None,
        seconds: float | None = None,
        error: str | None = None,
        run: dict[str, str] | None = None,
    ) -> None:
        """Record the state of one stack of a deployment."""

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        """A deployment's record, or None."""

    def history(self, app: str, environment: str, limit: int = 20) -> list[DeploymentRecord]:
        """The environment's deployments, newest first."""

    def extract(self, deployment_id: str, target: Path) -> Path:
        """Unpack the deployment's archived synth into `target`; LookupError when it has none."""

    def archive(self, deployment_id: str, synthesized_dir: Path) -> None:
        """Keep the synth a deployment applies (for rollbacks, and to continue a rollout)."""


@dataclass
class DeploymentContext:
    """`deployment_id`, `version`, `environment`, `regions`, `outputs` (by stack, after deploy), `url`,
    a `logger`, and `rollback()`, which re-deploys the last successful deployment."""

    deployment_id: str
    version: str
    environment: str
    regions: list[str]
    app_name: str
    logger: logging.Logger
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    url: str | None = None
    rolled_back_to: str | None = None
    """The deployment id `rollback()` restored, once it ran."""
    rollback_handler: Callable[[], Awaitable[DeploymentResult | None]] | None = field(default=None, repr=False)
    """What `rollback()` runs: set by the deploy engine (None: nothing to roll back, as in a unit test)."""

    async def rollback(self) -> DeploymentResult | None:
        """Re-apply the archived stacks of the last successful deployment of this environment.

        Returns its result, or None when there is nothing to roll back to (a first deployment).
        """
        if self.rollback_handler is None:
            return None
        return await self.rollback_handler()
