"""Run terraform in a stack's folder from a test, through the SDK's one runner (`terraform.local.StackDir`)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from stacks_cloud.terraform.local import StackDir


def terraform(
    args: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float = 600, ok: tuple[int, ...] = (0,)
) -> str:
    """`terraform <args>` in `cwd`; its output (stdout and stderr). Fails the test on another exit code."""
    stack = StackDir(cwd.name, cwd, env)
    result, _ = asyncio.run(stack.run(list(args), action=args[0], timeout=timeout, on_line=None))
    assert result.exit_code in ok, f"terraform {' '.join(args)} in {cwd} exited {result.exit_code}:\n{result.tail}"
    return result.output
