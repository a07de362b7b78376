"""The error hierarchy of the SDK (the guide's "Error Handling" section).

`CloudError` is the base. Configuration problems are collected and raised once as a `ConfigError`
that lists every problem with its field path, the value given and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stacks_cloud.core.secrets import redact, redact_text

_MAX_VALUE_REPR = 80


class CloudError(Exception):
    """Base class of every error this SDK raises on purpose. Its text never shows a registered secret."""

    deployment: dict[str, str] | None = None
    """Set by the deploy engine on a failed deployment's error: `deployment_id`, `version`, `environment`."""

    def __str__(self) -> str:
        return redact_text(super().__str__())


class _NotGiven:
    def __repr__(self) -> str:
        return "NOT_GIVEN"


NOT_GIVEN: object = _NotGiven()
"""A `Problem.value` for a field that was not given at all (a required one missing)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input.

    Attributes:
        path: where it is, as a dotted field path (`multi_region.replica_regions.1`) or a construct path.
        value: the value that was given (shown with `repr`, shortened).
        message: what is wrong with it.
        fix: how to make it right; empty when the message already says so.
    """

    path: str
    value: object
    message: str
    fix: str = ""

    def render(self) -> str:
        if self.value is NOT_GIVEN:
            text = f"{self.path or '<root>'} (not given): {self.message}"
            return text + (("" if text.endswith((".", "?", "!")) else ".") + f" Fix: {self.fix}" if self.fix else "")
        shown = repr(redact(self.value))
        if len(shown) > _MAX_VALUE_REPR:
            shown = shown[: _MAX_VALUE_REPR - 3] + "..."
        text = f"{self.path or '<root>'} = {shown}: {self.message}"
        if self.fix:
            text += ("" if text.endswith((".", "?", "!")) else ".") + f" Fix: {self.fix}"
        return text


class ConfigError(CloudError, ValueError):
    """Invalid configuration or construct options: every problem found, in one error."""

    def __init__(self, subject: str, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("ConfigError needs at least one problem")
        self.subject = subject
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        lines = [f"Invalid {subject} ({count} problem{'s' if count != 1 else ''}):"]
        lines += [f"  - {problem.render()}" for problem in self.problems]
        super().__init__("\n".join(lines))

    @property
    def paths(self) -> list[str]:
        """The field paths of the problems, in order (handy in tests and tooling)."""
        return [problem.path for problem in self.problems]

    @classmethod
    def raise_if_any(cls, subject: str, problems: Iterable[Problem]) -> None:
        collected = list(problems)
        if collected:
            raise cls(subject, collected)


class CloudProviderError(CloudError):
    """A cloud provider (or the CLI it drives) failed.

    Carries the provider name, the stack, the exit code and the tail of stderr so the cause is
    visible without re-running anything.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        stack: str | None = None,
        exit_code: int | None = None,
        stderr_tail: str = "",
    ) -> None:
        self.provider = provider
        self.stack = stack
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail
        details = [f"provider={provider}"]
        if stack:
            details.append(f"stack={stack}")
        if exit_code is not None:
            details.append(f"exit code {exit_code}")
        text = f"{message} ({', '.join(details)})"
        if stderr_tail:
            text += "\n" + stderr_tail
        super().__init__(text)


class InfrastructureError(CloudError):
    """The infrastructure itself is in the way: a stack failed to apply, a state lock is held, drift."""

    def __init__(self, message: str, *, stack: str | None = None, details: str = "") -> None:
        self.stack = stack
        self.details = details
        """The tail of the tool's output that shows the cause (already free of secrets)."""
        text = f"{stack}: {message}" if stack else message
        super().__init__(f"{text}\n{details}" if details else text)


class HookError(CloudError):
    """A deployment hook failed; names the hook and the phase it ran in."""

    def __init__(self, message: str, *, hook: str, phase: str) -> None:
        self.hook = hook
        self.phase = phase
        super().__init__(f"{phase} hook {hook!r} failed: {message}")


class LedgerError(CloudError):
    """The deployment ledger cannot be read or written: damaged, locked by another process, read-only, or
    out of reach. Names the store and says how to recover."""

    def __init__(self, message: str, *, store: str, fix: str = "") -> None:
        self.store = store
        self.fix = fix
        super().__init__(f"deployment ledger {store}: {message}" + (f" Fix: {fix}" if fix else ""))


class DeploymentLockedError(InfrastructureError):
    """Another deployment of the same environment holds the environment lock.

    `holder` says who (user, host, pid), which deployment and since when; `cloud unlock` removes a
    stale lock after confirmation.
    """

    def __init__(self, message: str, *, holder: Any) -> None:
        self.holder = holder
        super().__init__(message)


class DescribedLock(Protocol):
    """A terraform state lock as the errors name it (`models.StateLock` is one)."""

    @property
    def stack(self) -> str: ...

    def describe(self) -> str: ...


class StateLockedError(InfrastructureError):
    """Terraform state locks are held on stacks: by a run still going, or left by one that was killed.

    `locks` lists each lock (its stack, id, holder, where it is kept) when they were read from the
    backend; `holder` is who holds the lock a terraform run met, when terraform said so.
    `cloud unlock --stack NAME` removes a lock after showing it.
    """

    def __init__(
        self,
        locks: Sequence[DescribedLock] = (),
        *,
        stack: str | None = None,
        holder: str | None = None,
        message: str | None = None,
        details: str = "",
    ) -> None:
        self.locks = list(locks)
        self.holder = holder
        self.stacks = [lock.stack for lock in self.locks] or ([stack] if stack else [])
        if message is None:
            message = (
                f"{len(self.locks)} stack state lock(s) are held, by a run outside `cloud` (cdktf, terraform,"
                " Terraform Cloud) or left by an interrupted one:\n"
                + "\n".join(f"  - {lock.describe()}" for lock in self.locks)
                + "\nCheck that no terraform is still running against them, then remove them with"
                " `cloud unlock --stack NAME` (it shows each lock before removing it) and run again."
            )
        super().__init__(message, stack=stack, details=details)


@dataclass(frozen=True)
class Orphan:
    """A resource that exists in the cloud but not in its stack's state, and how to bring it back."""

    address: str
    import_command: str


class OrphanedResourcesError(InfrastructureError):
    """An apply met resources that exist in the cloud but not in the stack's state (an interrupted apply
    created them and could not record them). `orphans` gives each address with its `terraform import`."""

    def __init__(self, action: str, orphans: Sequence[Orphan], *, stack: str, details: str = "") -> None:
        self.orphans = list(orphans)
        super().__init__(
            f"{action} failed: {len(self.orphans)} resource(s) exist in the cloud but not in this stack's state"
            " (an interrupted apply created them and could not record them). Import each one, or delete it"
            " in the cloud and deploy again:\n"
            + "\n".join(f"  - {orphan.address}: {orphan.import_command}" for orphan in self.orphans),
            stack=stack,
            details=details,
        )


class RolloutHaltedError(InfrastructureError):
    """A rollout gate failed while a wave baked: no later wave started. Says which wave, region and gate, and
    why (`wave` counts from 1); `rolled_back_to` is set once the deployed waves were rolled back."""

    def __init__(self, *, wave: int, waves: int, region: str, gate: str, reason: str, stack: str | None) -> None:
        self.wave = wave
        self.waves = waves
        self.region = region
        self.gate = gate
        self.reason = reason
        self.rolled_back_to: str | None = None
        super().__init__(
            f"rollout halted in wave {wave} of {waves}: gate {gate!r} failed in {region}: {reason}", stack=stack
        )
