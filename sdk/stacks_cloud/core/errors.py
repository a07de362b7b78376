"""The error hierarchy of the SDK (the guide's "Error Handling" section).

`CloudError` is the base. Configuration problems are collected and raised once as a `ConfigError`
that lists every problem with its field path, the value given and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from stacks_cloud.core.secrets import redact, redact_text

_MAX_VALUE_REPR = 80


class CloudError(Exception):
    """Base class of every error this SDK raises on purpose. Its text never shows a registered secret."""

    deployment: dict[str, str] | None = None
    """Set by the deploy engine on a failed deployment's error: `deployment_id`, `version`, `environment`."""

    def __str__(self) -> str:
        return redact_text(super().__str__())


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
