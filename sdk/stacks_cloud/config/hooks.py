"""The guide's `hooks: { preDeploy, postDeploy, onError }` section: which callables run in which phase."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BeforeValidator, Field

from stacks_cloud.config.base import Model

HookCallable = Callable[..., Any]


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if callable(value):
        return [value]
    return value


HookList = Annotated[list[HookCallable], BeforeValidator(_as_list)]


class HooksConfig(Model):
    """Deployment hooks per phase; each phase takes one callable or a list run in order."""

    pre_deploy: HookList = Field(default_factory=list)
    """Run before anything is applied; a failure stops the deployment. Default: none."""
    post_deploy: HookList = Field(default_factory=list)
    """Run after every stack applied. Default: none."""
    on_error: HookList = Field(default_factory=list)
    """Run with `(error, context)` when any step fails. Default: none."""
