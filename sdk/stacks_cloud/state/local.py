"""The `local` backend: one state file per stack in the project's state folder, the ledger beside them.

- state: `<project>/<state.localDir>/<stack>.tfstate` (never inside cdktf.out, which synth rewrites);
- ledger and environment lock: `<project>/<state.localDir>/ledger.sqlite` (`SqliteLedger`);
- state locks: terraform's local lock is an OS file lock, released when its process dies: none are left.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from stacks_cloud.config import CloudConfig
from stacks_cloud.state.base import StateBackend
from stacks_cloud.state.ledger import Ledger
from stacks_cloud.state.sqlite_ledger import SqliteLedger

if TYPE_CHECKING:
    from stacks_cloud.cdk import TerraformStack


def state_folder(config: CloudConfig, project_dir: Path) -> Path:
    """Where local state files and the local ledger live (`state.localDir`, relative to the project)."""
    return project_dir / config.state.local_dir


class LocalStateBackend(StateBackend):
    name = "local"

    def configure_stack(
        self, stack: TerraformStack, name: str, config: CloudConfig, *, project_dir: Path, outdir: Path
    ) -> None:
        from stacks_cloud.cdk import LocalBackend  # synth only: reading the ledger never starts the kernel

        state_file = state_folder(config, project_dir) / f"{name}.tfstate"
        # Relative to the stack's working directory, so the synthesized files do not depend on where the
        # project is checked out (and the global stack's remote state path resolves the same).
        LocalBackend(stack, path=os.path.relpath(state_file.resolve(), (outdir / "stacks" / name).resolve()))

    def open_ledger(self, config: CloudConfig, project_dir: Path) -> Ledger:
        folder = state_folder(config, project_dir)
        make_private(folder)
        return SqliteLedger(folder / "ledger.sqlite")


def make_private(folder: Path) -> list[Path]:
    """Bring the state folder to 0700 and every file in it (state, backups, the ledger) to 0600, on every
    run: terraform writes new files 0600 (its umask is 0077), but a file copied in, restored from a backup
    or made by an older version may be readable by others. The files changed."""
    changed: list[Path] = []
    if not folder.is_dir():
        return changed
    for path in (folder, *folder.rglob("*")):
        if path.is_symlink():
            continue
        wanted = 0o700 if path.is_dir() else 0o600
        try:
            if path.stat().st_mode & 0o777 != wanted:
                path.chmod(wanted)
                changed.append(path)
        except OSError:  # another user's file: the ledger reports what it cannot read or write
            continue
    return changed
