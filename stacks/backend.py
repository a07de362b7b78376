"""Per-stack Terraform state settings."""

from __future__ import annotations

import os
from pathlib import Path

from cdk import LocalBackend, TerraformStack
from config.schema import StateConfig


def configure_backend(stack: TerraformStack, name: str, state: StateConfig, *, project_dir: Path, outdir: Path) -> None:
    """Give `stack` its own state file.

    Local state lives in `state.local_dir` (relative to the project); the path written into the
    Terraform JSON is relative to the stack's working directory (`<outdir>/stacks/<name>`), so the
    synthesized files do not depend on where the project is checked out.
    """
    state_file = (project_dir / state.local_dir / f"{name}.tfstate").resolve()
    stack_dir = (outdir / "stacks" / name).resolve()
    LocalBackend(stack, path=os.path.relpath(state_file, stack_dir))
