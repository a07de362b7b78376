"""Find the user's project and load its app and config, the way git finds `.git`.

A project is a folder holding `cdktf.json` (and, by convention, `main.py` and `config/cloud.py`);
the CLI uses the nearest one at or above the working directory, or `--project DIR`. Its app is the
`CloudApp` its `main.py` declares; its config is `CLOUD` in `config/cloud.py`, or a file given with
`--config` (a `.py` defining `CLOUD`, or `.json`). Errors in the user's files (a syntax error, an
exception while importing) become a `ConfigError` naming the file and line, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks_cloud.config import CloudConfig
from stacks_cloud.config.files import MARKER, find_project_root, no_cloud_dict, read_config_file, user_code
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.stacks.app import CloudApp

CONFIG_FILE = Path("config") / "cloud.py"
"""The project's config, relative to its root (the twin of the guide's `config/cloud.ts`)."""
APP_FILE = "main.py"
"""The project's cdktf app, which declares its `CloudApp`."""


def not_a_project(where: Path, *, explicit: bool) -> ConfigError:
    if explicit:
        message = "holds no cdktf.json, so it is not a stacks-cloud project."
        if not where.exists():
            message = "does not exist."
        return ConfigError(
            "project",
            [Problem("--project", str(where), message, "pass the folder that holds your cdktf.json.")],
        )
    return ConfigError(
        "project",
        [
            Problem(
                "project",
                str(where),
                "is not inside a stacks-cloud project: no cdktf.json here or in any folder above.",
                "cd into your project, pass --project DIR, or create one with `cloud init DIR`.",
            )
        ],
    )


def project_root(start: Path | None = None, *, explicit: Path | None = None) -> Path:
    """The folder of the project at `explicit` (`--project`), else of the nearest one at or above `start`
    (the working dir), without loading it. Raises `ConfigError` when there is none."""
    if explicit is not None:
        root = explicit.resolve()
        if not (root / MARKER).is_file():
            raise not_a_project(root, explicit=True)
        return root
    where = (start or Path.cwd()).resolve()
    found = find_project_root(where)
    if found is None:
        raise not_a_project(where, explicit=False)
    return found


@dataclass(frozen=True)
class Project:
    """A project: its `root` folder and its `app` (the `CloudApp` of its main.py, or one built from its config)."""

    root: Path
    app: CloudApp

    @classmethod
    def discover(cls, start: Path | None = None, *, explicit: Path | None = None) -> Project:
        """The project at `explicit` (`--project`), else the nearest one at or above `start` (the working dir).

        Raises `ConfigError` when there is none, or when its files cannot be loaded.
        """
        root = project_root(start, explicit=explicit)
        return cls(root, load_app(root))

    def load_config(
        self,
        environment: str | None = None,
        *,
        config_file: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        config_option: str = "--config",
    ) -> CloudConfig:
        """The validated config for `environment`: the app's own, or `config_file`'s data (`config_option`: how
        the user named that file, for errors)."""
        data = read_config_file(config_file, option=config_option) if config_file is not None else None
        return self.app.load_config(environment, data=data, overrides=overrides)

    def context_config_file(self) -> Path | None:
        """The config file cdktf.json's `context.configFile` names (relative to the project), if any."""
        try:
            context = json.loads((self.root / MARKER).read_text()).get("context") or {}
        except (OSError, ValueError):
            return None
        path = context.get("configFile") if isinstance(context, dict) else None
        return (self.root / str(path)).resolve() if path else None


def load_app(root: Path) -> CloudApp:
    """The `CloudApp` the project's main.py declares, else one built from `config/cloud.py`'s `CLOUD`.

    Without a main.py app, the config class is the `CloudConfig` subclass defined in config/cloud.py
    (the SDK's `CloudConfig` when there is none), and the app has no stack: fine for a custom
    provider, refused by the built-in `aws` provider with a message saying what to add.
    """
    _use_project(root)
    main_file = root / APP_FILE
    if main_file.is_file():
        module = _import_file(main_file, "__stacks_cloud_project_main__")
        apps = [value for value in vars(module).values() if isinstance(value, CloudApp)]
        if isinstance(getattr(module, "app", None), CloudApp):
            return module.app  # type: ignore[no-any-return]
        if len(apps) == 1:
            return apps[0]
    config_file = root / CONFIG_FILE
    if not config_file.is_file():
        raise ConfigError(
            "project",
            [
                Problem(
                    str(CONFIG_FILE),
                    None,
                    f"is missing, and {APP_FILE} declares no CloudApp: the project has no config.",
                    "create config/cloud.py defining CLOUD = {'appName': 'my-app', ...}, or run `cloud init`"
                    " in a new folder to see the layout.",
                )
            ],
        )
    module = _import_package_module("config.cloud", config_file)
    if not isinstance(getattr(module, "CLOUD", None), Mapping):
        raise no_cloud_dict(config_file, getattr(module, "CLOUD", None))
    classes = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, CloudConfig)
        and value is not CloudConfig
        and value.__module__ == module.__name__
    ]
    config_class = classes[0] if len(classes) == 1 else CloudConfig
    return CloudApp(config=module.CLOUD, config_class=config_class)


# --- importing the user's files -----------------------------------------------------------------------


def _use_project(root: Path) -> None:
    """Put `root` first on `sys.path`, and forget modules imported from another project's folders.

    A project's packages have generic names (`config`, `stacks`, `hooks`): a process that loads a
    second project (a test, a tool) must not get the first one's `config.cloud` from the module cache.
    """
    entry = str(root)
    if entry in sys.path:
        sys.path.remove(entry)
    sys.path.insert(0, entry)
    for name, origin in _modules_named_like_the_project(root):
        if not origin.is_relative_to(root):
            del sys.modules[name]


def forget_project_modules(root: Path) -> None:
    """Drop the modules imported from the project's own files, so the next import reads them again.

    Only the project's top-level modules and packages (`main`, `config`, `stacks`...) go: the SDK
    stays loaded even when it is installed from a folder inside the project (an editable install),
    or the classes the running process holds would no longer be the ones the project's code uses."""
    for name, origin in _modules_named_like_the_project(root):
        if origin.is_relative_to(root):
            del sys.modules[name]


def _modules_named_like_the_project(root: Path) -> list[tuple[str, Path]]:
    """Loaded modules whose top-level name is one of `root`'s modules or packages, with their files."""
    local_names = {path.stem for path in root.iterdir() if path.suffix == ".py" or (path / "__init__.py").is_file()}
    local_names.discard("tests")  # never imported from here; the caller's own test helpers stay
    found = []
    for name, module in list(sys.modules.items()):
        origin = getattr(module, "__file__", None)
        if origin and name.split(".", 1)[0] in local_names:
            found.append((name, Path(origin).resolve()))
    return found


def _import_file(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError("project", [Problem(str(path), None, "cannot be imported.", "check the file.")])
    module = importlib.util.module_from_spec(spec)
    with user_code(path):
        spec.loader.exec_module(module)
    return module


def _import_package_module(dotted: str, path: Path) -> types.ModuleType:
    with user_code(path):
        return importlib.import_module(dotted)
    raise AssertionError("unreachable")  # for type checkers: the context manager re-raises
