"""Where a stack's terraform runs: the seam the engine plans, applies, destroys and reads outputs through.

`StackRunner` is one stack's terraform; an `Executor` hands out runners for a synthesized folder. The
first executor is `LocalExecutor` (`terraform.local`): terraform on this machine, in the stack's folder.
A Terraform Cloud run is the next one: the engine does not change, only the executor it is given.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stacks_cloud.terraform.events import Events
from stacks_cloud.terraform.init_cache import InitCache

LineCallback = Callable[[str], None]


@dataclass(frozen=True)
class PlanResult:
    """A stack's plan: terraform's JSON plan representation (or Terraform Cloud's redacted one, which has
    no prior state), and whether the stack had resources in its state when it was planned."""

    document: dict[str, Any]
    deployed: bool


class StackRunner(Protocol):
    """One synthesized stack and how its terraform runs; failures raise the SDK's typed errors."""

    @property
    def name(self) -> str:
        """The stack's name."""

    @property
    def path(self) -> Path:
        """The stack's synthesized folder (`cdk.tf.json`)."""

    @property
    def identity(self) -> dict[str, str] | None:
        """Where its last apply ran, when that is somewhere to look at (a Terraform Cloud run's id and URL)."""

    def phase(self, phase: str, message: str | None = None) -> None:
        """Tell the live view the stack entered `phase` (init, refresh, plan, apply, unchanged)."""

    def planned(self, counts: dict[str, int]) -> None:
        """Tell the live view what the (saved) plan will do."""

    def done(self, result: str, *, url: str | None = None) -> None:
        """Tell the live view how the stack ended (a `StackState` value)."""

    async def init(self, *, on_line: LineCallback | None, timeout: float = 600, cache: InitCache | None = None) -> bool:
        """Prepare the stack (backend, providers); False when a kept init was reused."""

    async def apply(
        self, *, destroy: bool = False, on_line: LineCallback | None, timeout: float, plan_file: Path | None = None
    ) -> Events:
        """Apply (or destroy, or apply exactly `plan_file`); what terraform reported."""

    async def plan(
        self, out: Path, *, refresh_only: bool = False, on_line: LineCallback | None, timeout: float
    ) -> PlanResult:
        """Plan (into `out` when the executor keeps plans on this machine)."""

    async def outputs(self, *, timeout: float = 120) -> dict[str, Any]:
        """The stack's non-sensitive outputs."""

    async def state_resources(self, *, timeout: float = 120) -> dict[str, dict[str, Any]]:
        """Each managed resource in the stack's state by address, with its attributes."""

    async def forget(self, addresses: list[str], *, on_line: LineCallback | None) -> None:
        """Remove `addresses` from the stack's state without destroying them."""


class Executor(ABC):
    """Hands out the `StackRunner` of each stack of a synthesized folder."""

    @abstractmethod
    def stack(self, outdir: Path, name: str, *, log_dir: Path | None) -> StackRunner:
        """The runner of stack `name` in `outdir/stacks/name`; its logs go to `log_dir`."""
