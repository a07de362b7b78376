"""The hook model: what a deployment hook is, and how a phase's hooks run.

A hook is a callable (sync or async) plus data: `name`, `phase`-independent options
(`environments` it applies to, `timeout`, `may_fail`). Pre- and post-deploy hooks are called with
the `DeploymentContext`; on-error hooks with `(error, context)`. Hooks of a phase run in order;
the first failure of a hook that may not fail stops the phase with a `HookError` naming the hook
and the phase.

    @hook(environments={"production"}, timeout=600)
    async def create_backup(context): ...

    hooks = {"preDeploy": [validate_env(...), create_backup], "postDeploy": warm_up(...)}

A plain function is a hook with the defaults (its `__name__`, every environment, 300 s, must succeed).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, overload

from stacks_cloud.core.errors import HookError

DEFAULT_TIMEOUT = 300.0


class Phase(StrEnum):
    PRE_DEPLOY = "pre_deploy"
    POST_DEPLOY = "post_deploy"
    ON_ERROR = "on_error"


@dataclass(frozen=True)
class Hook:
    """A callable with its running options. Calling the hook calls the function."""

    fn: Callable[..., Any]
    name: str = ""
    environments: frozenset[str] | None = None
    """Run only in these environments. Default: every environment."""
    timeout: float | None = DEFAULT_TIMEOUT
    """Seconds before the hook counts as failed. None: no limit. Default: 300."""
    may_fail: bool = False
    """A failure is logged and the deployment goes on. Default: a failure fails the deployment."""
    secrets: tuple[object, ...] = ()
    """The secrets the hook was given (values, `SecretStr`s, `from_env(...)`): registered with the masker
    before the deployment's first hook runs, so that no hook's output or error shows them. Default: none."""

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"a hook needs a callable, got {self.fn!r}")
        if not self.name:
            object.__setattr__(self, "name", getattr(self.fn, "__name__", type(self.fn).__name__))
        if self.environments is not None and not isinstance(self.environments, frozenset):
            object.__setattr__(self, "environments", frozenset(self.environments))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def applies_to(self, environment: str) -> bool:
        return self.environments is None or environment in self.environments


@overload
def hook(fn: Callable[..., Any], /) -> Hook: ...
@overload
def hook(
    *,
    name: str = "",
    environments: Iterable[str] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    may_fail: bool = False,
) -> Callable[[Callable[..., Any]], Hook]: ...
def hook(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str = "",
    environments: Iterable[str] | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    may_fail: bool = False,
) -> Hook | Callable[[Callable[..., Any]], Hook]:
    """Make `fn` a `Hook`; usable as `@hook` or `@hook(environments={"production"}, may_fail=True)`."""

    def wrap(function: Callable[..., Any]) -> Hook:
        return Hook(
            function,
            name=name,
            environments=frozenset(environments) if environments is not None else None,
            timeout=timeout,
            may_fail=may_fail,
        )

    return wrap(fn) if fn is not None else wrap


def as_hook(value: Callable[..., Any]) -> Hook:
    return value if isinstance(value, Hook) else Hook(value)


@dataclass
class HookOutcome:
    """How one hook ran: `ok`, `skipped` (other environment), `failed` or `timed_out`."""

    name: str
    phase: Phase
    result: str
    seconds: float = 0.0
    error: BaseException | None = field(default=None, repr=False)


async def _call(hook_: Hook, args: tuple[Any, ...]) -> None:
    if inspect.iscoroutinefunction(hook_.fn) or inspect.iscoroutinefunction(
        getattr(hook_.fn, "__call__", None)  # noqa: B004  (async callable objects)
    ):
        awaitable = hook_.fn(*args)
    else:
        # A sync hook runs in a thread so a slow one cannot freeze the event loop (and its timeout works).
        awaitable = asyncio.to_thread(hook_.fn, *args)
    result = await asyncio.wait_for(awaitable, timeout=hook_.timeout) if hook_.timeout else await awaitable
    if inspect.isawaitable(result):  # a sync function that returned a coroutine
        await (asyncio.wait_for(result, timeout=hook_.timeout) if hook_.timeout else result)


async def run_phase(
    phase: Phase,
    hooks: Iterable[Callable[..., Any]],
    *args: Any,
    environment: str,
    logger: logging.Logger,
) -> list[HookOutcome]:
    """Run `hooks` in order with `args`; raise `HookError` at the first failure that is not allowed.

    A failing `may_fail` hook is logged as a warning and recorded; the next hook runs.
    """
    outcomes = []
    for candidate in hooks:
        hook_ = as_hook(candidate)
        if not hook_.applies_to(environment):
            outcomes.append(HookOutcome(hook_.name, phase, "skipped"))
            logger.info("%s hook %s skipped: not for %s", phase, hook_.name, environment)
            continue
        logger.info("%s hook %s running", phase, hook_.name)
        started = time.monotonic()
        try:
            await _call(hook_, args)
        except TimeoutError as error:
            seconds = time.monotonic() - started
            outcomes.append(HookOutcome(hook_.name, phase, "timed_out", seconds, error))
            message = f"timed out after {hook_.timeout:g} s"
            if not hook_.may_fail:
                raise HookError(message, hook=hook_.name, phase=phase.value) from error
            logger.warning("%s hook %s %s (may fail: continuing)", phase, hook_.name, message)
            continue
        except Exception as error:
            seconds = time.monotonic() - started
            outcomes.append(HookOutcome(hook_.name, phase, "failed", seconds, error))
            if not hook_.may_fail:
                if isinstance(error, HookError):  # a composed hook's step failed: it already names itself
                    raise
                raise HookError(str(error) or type(error).__name__, hook=hook_.name, phase=phase.value) from error
            logger.warning("%s hook %s failed (may fail: continuing): %s", phase, hook_.name, error)
            continue
        seconds = time.monotonic() - started
        outcomes.append(HookOutcome(hook_.name, phase, "ok", seconds))
        logger.info("%s hook %s done in %.1f s", phase, hook_.name, seconds)
    return outcomes


def register_hook_secrets(hooks: Iterable[Callable[..., Any]]) -> None:
    """Register every secret the `hooks` hold (`Hook.secrets`); a `from_env(...)` whose variable is unset is
    left for the hook to report when it runs."""
    from pydantic import SecretStr

    from stacks_cloud.config import FromEnv
    from stacks_cloud.core.secrets import register_secret

    for item in hooks:
        for secret in getattr(item, "secrets", ()):
            if isinstance(secret, FromEnv):
                try:
                    register_secret(secret.resolve())
                except Exception:  # unset: the hook says so when it runs
                    continue
            elif isinstance(secret, str | SecretStr):
                register_secret(secret)
