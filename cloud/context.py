"""`DeploymentContext`: what hooks see of the deployment they run in (the guide's `context`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from providers.base import DeploymentResult


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
    _rollback: Callable[[], Awaitable[DeploymentResult | None]] | None = field(default=None, repr=False)

    async def rollback(self) -> DeploymentResult | None:
        """Re-apply the archived stacks of the last successful deployment of this environment.

        Returns its result, or None when there is nothing to roll back to (a first deployment).
        """
        if self._rollback is None:
            return None
        return await self._rollback()
