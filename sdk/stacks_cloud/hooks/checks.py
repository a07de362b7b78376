"""`validate_env`: the guide's `validateConfig`, every missing variable in one error."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from stacks_cloud.hooks._common import split
from stacks_cloud.hooks.base import Hook


def validate_env(required: Iterable[str], *, name: str = "validate_env") -> Hook:
    """Fail when any of `required` is unset or empty, naming all of them (values are never shown)."""
    names = list(required)

    async def check(*args: Any) -> None:  # a coroutine, as every ready-made hook: `await validate(context)`
        _, context = split(args)
        missing = [variable for variable in names if not os.environ.get(variable)]
        if missing:
            raise RuntimeError(
                f"missing required environment variable{'s' if len(missing) > 1 else ''}: {', '.join(missing)}."
                " Set them in the deploying environment (CI secrets, .env) and deploy again."
            )
        context.logger.info("environment has %s", ", ".join(names))

    return Hook(check, name=name)
