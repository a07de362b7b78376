"""What the SDK keeps in a project's `.cache` folder: the one place that knows its layout.

Nothing here is state: Terraform state and the local ledger live where `state.localDir` says. Everything
under `.cache` can be deleted; the next run makes it again (slower once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KEEP_WORK_DIRS = 10
"""Deployment working folders (synth, logs) kept in `.cache/deployments`; older ones are removed."""


@dataclass(frozen=True)
class CacheLayout:
    """The folders under `<project>/.cache`."""

    project_dir: Path

    @property
    def root(self) -> Path:
        return self.project_dir / ".cache"

    CHECKOV_MARKER = "installed"
    """Written in `checkov_venv` once checkov is installed there (its version): a half-made one has none."""

    @property
    def checkov_venv(self) -> Path:
        """checkov's own virtual environment, made by `cloud setup`."""
        return self.root / "checkov"

    @property
    def checkov(self) -> Path:
        """checkov's executable in `checkov_venv`."""
        return self.checkov_venv / "bin" / "checkov"

    def installed_checkov(self) -> Path | None:
        """`checkov` when `cloud setup` finished installing it."""
        return self.checkov if (self.checkov_venv / self.CHECKOV_MARKER).is_file() and self.checkov.is_file() else None

    @property
    def terraform(self) -> Path:
        """The project's terraform CLI config and what terraform caches."""
        return self.root / "terraform"

    @property
    def cli_config(self) -> Path:
        """The CLI config the SDK writes (a provider mirror when one is found)."""
        return self.terraform / "terraform.tfrc"

    @property
    def plugins(self) -> Path:
        """The provider plugin cache the stacks share (`TF_PLUGIN_CACHE_DIR`)."""
        return self.terraform / "plugins"

    @property
    def inits(self) -> Path:
        """Each stack's last `terraform init`, reused while its inputs are unchanged (`InitCache`)."""
        return self.terraform / "init"

    @property
    def deployments(self) -> Path:
        """One working folder per deployment, plan, check or destroy (its synth and logs)."""
        return self.root / "deployments"

    def work_dir(self, name: str) -> Path:
        """The working folder `name` under `deployments`, created."""
        path = self.deployments / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def prune_work_dirs(self, keep: int = KEEP_WORK_DIRS) -> None:
        """Remove all but the `keep` newest working folders."""
        import shutil

        if not self.deployments.is_dir():
            return
        folders = sorted(
            (p for p in self.deployments.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
        )
        for folder in folders[keep:]:
            shutil.rmtree(folder, ignore_errors=True)
