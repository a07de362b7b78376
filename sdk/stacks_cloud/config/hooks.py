"""The guide's `hooks: { preDeploy, postDeploy, onError }` section: which callables run in which phase."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from stacks_cloud.config.base import Model
from stacks_cloud.core.errors import Problem

HookCallable = Callable[..., Any]


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if callable(value):
        return [value]
    return value


HookList = Annotated[list[HookCallable], BeforeValidator(_as_list)]


def arity_problem(function: Any, arguments: int) -> str | None:
    """Why `function` cannot be called with `arguments` positional arguments, or None (also when unknown)."""
    target = getattr(function, "fn", function)  # a `Hook` wraps its function
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return None
    try:
        signature.bind(*([None] * arguments))
    except TypeError:
        name = getattr(target, "__name__", type(target).__name__)
        return f"{name}{signature} cannot take {arguments} argument{'s' if arguments != 1 else ''}"
    return None


def call_problems(path: str, functions: list[Any], arguments: int, called_as: str, fix: str) -> list[Problem]:
    """One problem per function (at `path.<index>`) that cannot take `arguments` positional arguments."""
    return [
        Problem(
            f"{path}.{index}",
            getattr(function, "__name__", getattr(function, "name", repr(function))),
            f"{problem}: {called_as}.",
            fix,
        )
        for index, function in enumerate(functions)
        if (problem := arity_problem(function, arguments))
    ]


class HooksConfig(Model):
    """Deployment hooks per phase; each phase takes one callable or a list run in order."""

    pre_deploy: HookList = Field(default_factory=list)
    """Run before anything is applied; a failure stops the deployment. Default: none."""
    post_deploy: HookList = Field(default_factory=list)
    """Run after every stack applied. Default: none."""
    on_error: HookList = Field(default_factory=list)
    """Run with `(error, context)` when any step fails. Default: none."""

    def semantic_problems(self) -> list[Problem]:
        """Every hook can be called the way its phase calls it: `(context)`, or `(error, context)` on error."""
        problems = []
        for phase, arguments, form in (
            ("pre_deploy", 1, "def hook(context)"),
            ("post_deploy", 1, "def hook(context)"),
            ("on_error", 2, "def hook(error, context)"),
        ):
            called_as = f"{phase} hooks are called as {form.removeprefix('def hook')}"
            fix = f"define it as `{form}:` (async def works too)."
            problems += call_problems(f"hooks.{phase}", getattr(self, phase), arguments, called_as, fix)
        return problems
