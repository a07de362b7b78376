"""`cloud init DIR`: a new project with the layout of the guide's, from the template shipped in the package.

The template is package data (`stacks_cloud/templates/project`), so `init` works offline from the
installed SDK alone. Files ending in `.tmpl` have `__APP_NAME__` and `__SDK_VERSION__` filled in and
lose the suffix; `gitignore.tmpl` becomes `.gitignore`. The project is written to a temporary folder
beside the target and moved into place at the end, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import importlib.resources
import re
import shutil
import stat
import tempfile
from dataclasses import dataclass
from importlib.resources.abc import Traversable
from pathlib import Path

from stacks_cloud.config.files import find_project_root
from stacks_cloud.core.errors import ConfigError, Problem

TEMPLATE = "templates/project"
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_RENAMED = {"gitignore": ".gitignore"}
_EXECUTABLE = {"bootstrap"}


@dataclass(frozen=True)
class CreatedProject:
    root: Path
    app_name: str
    files: list[Path]


def suggest_app_name(folder: Path) -> str:
    """A valid app name from a folder name: 'My Infra_2' -> 'my-infra-2'."""
    name = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", folder.name.lower())).strip("-")
    if not name or not name[0].isalpha():
        name = f"app-{name}".strip("-")
    return name[:40].rstrip("-") or "my-app"


def _sdk_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stacks-cloud")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0"


def init_project(directory: Path, *, app_name: str | None = None) -> CreatedProject:
    """Create a project in `directory` (missing or empty). Raises `ConfigError` for a bad folder or name."""
    target = directory.expanduser().resolve()
    name = app_name or suggest_app_name(target)
    problems = []
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        problems.append(
            Problem(
                "directory",
                str(directory),
                "is not empty" if target.is_dir() else "exists and is not a folder",
                "choose a new folder name; `cloud init` never overwrites files.",
            )
        )
    if not (2 <= len(name) <= 40 and _APP_NAME.match(name) and "--" not in name):
        problems.append(
            Problem(
                "--name",
                name,
                "is not a valid app name: lowercase letters, digits and single hyphens, 2-40 characters,"
                " starting with a letter.",
                f"use e.g. {suggest_app_name(Path(name))!r}.",
            )
        )
    enclosing = find_project_root(target.parent) if target.parent.is_dir() else None
    if enclosing is not None:
        problems.append(
            Problem(
                "directory",
                str(directory),
                f"is inside the project at {enclosing} (its cdktf.json): the CLI would find that one from the"
                " new project's parent folders, and its tests and watchers would take in the new one.",
                "create the new project outside it, e.g. next to it.",
            )
        )
    if not target.parent.is_dir():
        problems.append(
            Problem(
                "directory", str(directory), f"is inside {target.parent}, which does not exist.", "create it first."
            )
        )
    ConfigError.raise_if_any("cloud init", problems)

    values = {"__APP_NAME__": name, "__SDK_VERSION__": _sdk_version()}
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.init-", dir=target.parent))
    try:
        written = _copy(importlib.resources.files("stacks_cloud").joinpath(TEMPLATE), staging, values)
        if target.exists():
            target.rmdir()  # empty, checked above
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return CreatedProject(target, name, [target / path.relative_to(staging) for path in written])


def _copy(source: Traversable, destination: Path, values: dict[str, str]) -> list[Path]:
    written: list[Path] = []
    for item in sorted(source.iterdir(), key=lambda entry: entry.name):
        if item.name == "__pycache__":
            continue
        if item.is_dir():
            folder = destination / item.name
            folder.mkdir()
            written += _copy(item, folder, values)
            continue
        name = item.name.removesuffix(".tmpl")
        name = _RENAMED.get(name, name)
        path = destination / name
        data = item.read_bytes()
        if item.name.endswith(".tmpl"):
            text = data.decode()
            for key, value in values.items():
                text = text.replace(key, value)
            data = text.encode()
        path.write_bytes(data)
        if name in _EXECUTABLE:
            path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(path)
    return written
