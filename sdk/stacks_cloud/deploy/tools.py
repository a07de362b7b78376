"""`cloud setup` and `cloud env`: the tools a project runs with, installed once and put on the shell's path.

`cloud setup` writes the project's Terraform CLI config (`.cache/terraform/terraform.tfrc`: a provider
mirror when one is configured or found, the registry otherwise) and installs the policy gate's scanner,
checkov, into its own virtual environment (`.cache/checkov`: checkov pins versions of boto3 and others
that must not meet the project's). `cloud env` prints the shell lines that let plain `cdktf synth`,
`cdktf diff` and `cdktf deploy` run the way the `cloud` CLI does:

    eval "$(cloud env)"

Both need no config and start no cdktf kernel; both are idempotent.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stacks_cloud.core.errors import CloudError
from stacks_cloud.core.layout import CacheLayout
from stacks_cloud.policy.gate import CHECKOV_ENV, CHECKOV_VERSION, find_checkov
from stacks_cloud.terraform.cli_config import discover_provider_mirror, uses_mirror, write_cli_config

Say = Callable[[str], None]


@dataclass(frozen=True)
class ProjectEnvironment:
    """What `cloud env` exports: `variables`, and `path`, the folders to put first on PATH."""

    variables: dict[str, str]
    path: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def shell(self) -> str:
        """POSIX shell lines for `eval`."""
        lines = [f"# {note}" for note in self.notes]
        if self.path:
            folders = ":".join(shlex.quote(str(folder)) for folder in self.path)
            lines.append(f'export PATH={folders}:"$PATH"')
        lines += [f"export {name}={shlex.quote(value)}" for name, value in self.variables.items()]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        return {"path": [str(folder) for folder in self.path], "variables": self.variables, "notes": self.notes}


def cli_config(project_dir: Path) -> Path:
    """The Terraform CLI config to use: the user's `TF_CLI_CONFIG_FILE` when it names a file, else the
    project's, written now (a `ValueError` for a `TF_PROVIDER_MIRROR` that is not a mirror)."""
    existing = os.environ.get("TF_CLI_CONFIG_FILE")
    if existing and Path(existing).is_file():
        return Path(existing)
    return write_cli_config(CacheLayout(project_dir).cli_config, mirror=discover_provider_mirror())


def project_environment(project_dir: Path) -> ProjectEnvironment:
    """The variables that make plain cdktf (and terraform) behave as `cloud` does in this project."""
    config = cli_config(project_dir)
    variables = {"CHECKPOINT_DISABLE": "1", "TF_CLI_CONFIG_FILE": str(config)}
    notes = []
    if uses_mirror(config):
        # `terraform providers lock`, which cdktf runs on a stack's first init, asks the registry and
        # ignores mirrors; `terraform init` writes the lock file from the mirror all the same.
        variables["CDKTF_SKIP_PROVIDER_LOCK"] = "true"
    bins = project_dir / "node_modules" / ".bin"
    if not (bins / "cdktf").exists():
        notes.append(f"cdktf is not installed in {bins}: run `npm install` in {project_dir}, then this again")
    local_checkov = CacheLayout(project_dir).installed_checkov()
    if not os.environ.get(CHECKOV_ENV) and local_checkov is not None:
        variables[CHECKOV_ENV] = str(local_checkov)
    return ProjectEnvironment(variables, [bins], notes)


@dataclass(frozen=True)
class SetupOutcome:
    cli_config: Path
    mirror: bool
    checkov: str | None
    installed_checkov: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "cli_config": str(self.cli_config),
            "provider_mirror": self.mirror,
            "checkov": self.checkov,
            "installed_checkov": self.installed_checkov,
        }


def setup(project_dir: Path, *, checkov: bool = True, say: Say = print) -> SetupOutcome:
    """Write the CLI config and, unless `checkov` is False or one is found, install checkov."""
    config = cli_config(project_dir)
    mirror = uses_mirror(config)
    say(f"terraform CLI config: {config} ({'a provider mirror' if mirror else 'the public registry'})")
    found = _found_checkov(project_dir)
    installed = False
    if found is None and checkov:
        found = install_checkov(CacheLayout(project_dir).checkov_venv, say=say)
        installed = True
    if found is not None:
        say(f"checkov: {found}")
    else:
        say("checkov: not installed (--no-checkov); `cloud check` and `cloud deploy` need it (or --skip-checks)")
    return SetupOutcome(config, mirror, found, installed)


def _found_checkov(project_dir: Path) -> str | None:
    from stacks_cloud.core.errors import ConfigError

    try:
        return find_checkov(project_dir)
    except ConfigError:
        return None


def install_checkov(venv: Path, *, say: Say = print, timeout: float = 1800) -> str:
    """checkov `CHECKOV_VERSION` in its own virtual environment at `venv`; its executable.

    A half-made environment (an interrupted install) is removed first: the `installed` marker is
    written only once pip has finished."""
    marker = venv / CacheLayout.CHECKOV_MARKER
    executable = venv / "bin" / "checkov"
    if marker.is_file() and marker.read_text().strip() == CHECKOV_VERSION and executable.is_file():
        return str(executable)
    shutil.rmtree(venv, ignore_errors=True)
    say(f"installing checkov {CHECKOV_VERSION} into {venv} (its own virtual environment; a minute or two)")
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        result = subprocess.run(
            [*pip, f"checkov=={CHECKOV_VERSION}"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(venv, ignore_errors=True)
        raise CloudError(
            f"installing checkov {CHECKOV_VERSION} did not finish within {timeout:g} s; nothing was kept."
            f" Fix: run `cloud setup` again, or install checkov yourself and set {CHECKOV_ENV}."
        ) from None
    except BaseException:
        shutil.rmtree(venv, ignore_errors=True)
        raise
    if result.returncode != 0 or not executable.is_file():
        shutil.rmtree(venv, ignore_errors=True)
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-8:])
        raise CloudError(
            f"installing checkov {CHECKOV_VERSION} failed (pip exit code {result.returncode}):\n{tail}\n"
            f"Fix: install it yourself and set {CHECKOV_ENV} to its executable, or check pip's access to"
            " your package index."
        )
    marker.write_text(CHECKOV_VERSION + "\n")
    return str(executable)
