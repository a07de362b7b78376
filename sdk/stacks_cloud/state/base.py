"""The state backend contract, and the registry that maps `state.backend` to one.

A state backend is where each stack keeps its Terraform state, and everything that follows from
that place. One module per backend (`local`, `s3`, `cloud`) implements `StateBackend`:

| what | method | default |
|---|---|---|
| the backend block it writes into each stack (cross-stack references read it) | `configure_stack` | required |
| the ledger: deployment history, archives and the environment lock | `open_ledger` | required |
| terraform state locks a crashed run left (`cloud unlock --stack`) | `state_locks`, `remove_state_lock` | none kept |
| what `cloud bootstrap` creates once (a bucket, workspaces) | `bootstrap` | nothing to create |
| what must exist before terraform runs on some stacks (every deploy and plan) | `prepare` | nothing |
| where the stacks' terraform runs (this machine, or Terraform Cloud runs) | `executor` | this machine |
| where the state a local apply wrote can be seen (recorded with the stack) | `applied_identity` | nothing |
| the oldest terraform that understands its backend block | `minimum_terraform` | 1.5 |

Nothing else in the SDK compares backend names: it asks `backend_for(config)`. A new backend is one
module with a `StateBackend` subclass and one `register_backend(MyBackend())` line.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from stacks_cloud.config import CloudConfig, StateConfig
from stacks_cloud.config.state import accept_backend
from stacks_cloud.core.errors import CloudProviderError, ConfigError, Problem
from stacks_cloud.models import StateLock
from stacks_cloud.state.ledger import Ledger

if TYPE_CHECKING:
    from stacks_cloud.cdk import TerraformStack
    from stacks_cloud.terraform.executor import Executor
    from stacks_cloud.terraform.local import LocalExecutor


@dataclass
class BootstrapOutcome:
    """What a backend's `bootstrap` did: what it created or changed, and what already existed."""

    summary: str
    """What it did, as a line for the user."""
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated)

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "existing": self.existing}


@dataclass(frozen=True)
class RunNeeds:
    """What the stacks about to run need from their backend: which stacks, which stacks' outputs each one
    reads, and the environment (credentials) their terraform needs where it runs, by variable name."""

    stacks: list[str]
    dependencies: dict[str, set[str]] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)


class StateBackend(ABC):
    """One place to keep Terraform state: the backend block, its ledger, its locks, its bootstrap."""

    name: ClassVar[str]
    """The value of `state.backend` that selects it."""

    def minimum_terraform(self, config: CloudConfig) -> tuple[int, int]:
        """The oldest terraform (major, minor) that understands the backend block written for `config`."""
        return (1, 5)

    def problems(self, state: StateConfig) -> list[Problem]:
        """What is missing from the `state` section for this backend: reported with every other problem
        of the config when it is validated. Default: nothing."""
        return []

    @abstractmethod
    def configure_stack(
        self, stack: TerraformStack, name: str, config: CloudConfig, *, project_dir: Path, outdir: Path
    ) -> None:
        """Give `stack` (whose id is `name`, synthesized into `outdir/stacks/name`) its own state here."""

    @abstractmethod
    def open_ledger(self, config: CloudConfig, project_dir: Path) -> Ledger:
        """The store of `config`'s environment: deployment records, archives and the environment lock."""

    def state_locks(self, config: CloudConfig, stacks: list[str]) -> list[StateLock]:
        """The terraform state locks held on `stacks`' states. Default: none (locks die with their process)."""
        return []

    def remove_state_lock(self, config: CloudConfig, lock: StateLock) -> None:
        """Remove `lock` if it is still held with the same id; `CloudProviderError` otherwise."""
        raise CloudProviderError(f"the {self.name} backend keeps no lock to remove", provider="terraform")

    def bootstrap(self, config: CloudConfig, stacks: list[str]) -> BootstrapOutcome | None:
        """Create what the backend needs once (idempotent). None: this backend needs nothing created."""
        return None

    def prepare(self, config: CloudConfig, needs: RunNeeds) -> BootstrapOutcome | None:
        """Make sure what terraform needs for `needs.stacks` exists before it runs on them. Default: nothing."""
        return None

    def runs_elsewhere(self, config: CloudConfig) -> bool:
        """Whether the stacks' terraform runs somewhere else than this machine (then `prepare` gets the
        environment the runs need). Default: False."""
        return False

    def applied_identity(self, config: CloudConfig, stack: str) -> dict[str, str] | None:
        """Where the state an apply on this machine just wrote can be looked at (recorded with the stack), or
        None. Default: None."""
        return None

    def executor(self, config: CloudConfig, local: LocalExecutor) -> Executor:
        """Where the stacks' terraform runs. Default: `local`, this machine."""
        return local


_BACKENDS: dict[str, StateBackend] = {}


def register_backend(backend: StateBackend) -> StateBackend:
    """Make `backend` selectable as `state.backend = backend.name` (a later registration replaces it)."""
    _BACKENDS[backend.name] = backend
    accept_backend(backend.name, backend.problems)
    return backend


def registered_backends() -> list[str]:
    return sorted(_BACKENDS)


def backend_for(config: CloudConfig) -> StateBackend:
    """The backend `config.state.backend` names (a validated config names a registered one)."""
    backend = _BACKENDS.get(config.state.backend)
    if backend is None:  # a config validated before its backend was unregistered: say so as validation does
        raise ConfigError(
            "cloud configuration",
            [Problem("state.backend", config.state.backend, "is not a registered state backend.", "register it.")],
        )
    return backend
