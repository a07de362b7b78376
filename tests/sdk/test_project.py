"""Finding a project and loading its app and config: like git finds .git, errors as messages naming file and line."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stacks_cloud import CloudApp, CloudConfig, ConfigError
from stacks_cloud.config.files import find_project_root, read_config_file
from stacks_cloud.deploy.project import Project, forget_project_modules, load_app


@pytest.fixture(autouse=True)
def restore_sys_path() -> Iterator[None]:
    """Loading a project puts it first on sys.path and may evict modules of another project: undo both."""
    path, modules = list(sys.path), dict(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - set(modules):
        del sys.modules[name]
    sys.modules.update(modules)


def make_project(root: Path, config: str, main: str | None = None) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "cdktf.json").write_text(json.dumps({"language": "python", "app": "python main.py"}))
    (root / "config" / "__init__.py").write_text("")
    (root / "config" / "cloud.py").write_text(config)
    if main is not None:
        (root / "main.py").write_text(main)
    return root


def test_the_nearest_cdktf_json_upwards_is_the_project(tmp_path: Path) -> None:
    root = make_project(tmp_path / "infra", "CLOUD = {'appName': 'a'}\n")
    (root / "stacks" / "deep").mkdir(parents=True)
    assert find_project_root(root / "stacks" / "deep") == root
    assert find_project_root(tmp_path) is None
    assert Project.discover(root / "stacks" / "deep").root == root


def test_without_main_py_the_config_class_in_config_cloud_py_is_used(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        "from stacks_cloud import CloudConfig\n"
        "class ShopConfig(CloudConfig):\n"
        "    shop_size: int = 1\n"
        "CLOUD = {'appName': 'shop', 'shopSize': 3}\n",
    )
    app = load_app(root)
    assert app.stack is None
    config = app.load_config("staging")
    assert type(config).__name__ == "ShopConfig"
    assert (config.environment, config.shop_size) == ("staging", 3)  # type: ignore[attr-defined]


def test_main_py_declares_the_app(tmp_path: Path) -> None:
    root = make_project(
        tmp_path / "p",
        "CLOUD = {'appName': 'declared'}\n",
        "from stacks_cloud import CloudApp\nfrom config.cloud import CLOUD\napp = CloudApp(config=CLOUD)\n",
    )
    app = load_app(root)
    assert isinstance(app, CloudApp)
    assert app.load_config().app_name == "declared"


def test_two_projects_in_one_process_do_not_share_their_config_package(tmp_path: Path) -> None:
    first = make_project(tmp_path / "one", "CLOUD = {'appName': 'first'}\n")
    second = make_project(tmp_path / "two", "CLOUD = {'appName': 'second'}\n")
    assert load_app(first).load_config().app_name == "first"
    assert load_app(second).load_config().app_name == "second"


def test_a_reload_forgets_the_projects_modules_but_not_an_sdk_installed_inside_it(tmp_path: Path) -> None:
    """`synth --watch` re-imports the project's files; an SDK installed from a folder in the project (the
    guide's repository: `sdk/`, an editable install) must stay loaded, or its classes would be doubled."""
    root = make_project(tmp_path / "p", "from mysdk import Marker\nCLOUD = {'appName': 'x', 'marker': Marker}\n")
    (root / "sdk" / "mysdk").mkdir(parents=True)
    (root / "sdk" / "mysdk" / "__init__.py").write_text("class Marker: ...\n")
    sys.path.insert(0, str(root / "sdk"))
    load_app(root)
    sdk_module, config_module = sys.modules["mysdk"], sys.modules["config.cloud"]
    forget_project_modules(root)
    assert "config.cloud" not in sys.modules
    assert "config" not in sys.modules
    assert sys.modules["mysdk"] is sdk_module
    load_app(root)
    assert sys.modules["config.cloud"] is not config_module
    assert sys.modules["config.cloud"].CLOUD["marker"] is sdk_module.Marker


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", "CLOUD = {'appName': 'x'}\nregion = = 'us-east-1'\n")
    with pytest.raises(ConfigError) as error:
        load_app(root)
    (problem,) = error.value.problems
    assert problem.path == f"{root / 'config' / 'cloud.py'}:2"
    assert "is not valid Python" in problem.message


def test_an_exception_while_loading_names_the_users_line(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", "import os\nCLOUD = {'appName': os.environ['SURELY_NOT_SET_42']}\n")
    with pytest.raises(ConfigError) as error:
        load_app(root)
    (problem,) = error.value.problems
    assert problem.path == f"{root / 'config' / 'cloud.py'}:2"
    assert "raised KeyError" in problem.message
    assert "SURELY_NOT_SET_42" in problem.message


def test_a_config_without_cloud_is_a_config_error(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", "SETTINGS = {}\n")
    with pytest.raises(ConfigError, match="defines no CLOUD dict"):
        load_app(root)


def test_json_configs_report_the_line_of_a_syntax_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "appName": "x",\n  "region": \n}\n')
    with pytest.raises(ConfigError) as error:
        read_config_file(bad)
    assert error.value.problems[0].path == f"{bad}:4"
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="defines no CLOUD dict"):
        read_config_file(tmp_path / "list.json")
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "missing.json")


def test_a_project_without_any_config_says_what_to_create(tmp_path: Path) -> None:
    (tmp_path / "cdktf.json").write_text("{}")
    with pytest.raises(ConfigError) as error:
        load_app(tmp_path)
    assert "create config/cloud.py defining CLOUD" in str(error.value)


def test_the_sdk_config_is_the_default_model(tmp_path: Path) -> None:
    root = make_project(tmp_path / "p", "CLOUD = {'appName': 'plain'}\n")
    assert load_app(root).config_class is CloudConfig


SECRET = "sk_live_planted_c0nfig_9f3e"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("bad.json", '{\n  "appName": "x",\n  "custom": {"apiKey": "' + SECRET + '"\n}\n'),
        ("bad.json", '{\n  "custom": {"apiKey": "' + SECRET + "\n}\n"),  # unterminated
        ("bad.py", "CLOUD = {\n    'custom': {'apiKey': '" + SECRET + "'\n"),
        ("raises.py", "KEY = '" + SECRET + "'\nCLOUD = {'appName': int(KEY)}\n"),
    ],
)
def test_a_config_file_error_never_echoes_a_literal_that_may_be_a_secret(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)

    def load() -> object:
        return read_config_file(path) if name.endswith(".json") else load_app(make_project(tmp_path / "p", text))

    with pytest.raises(ConfigError) as error:
        load()
    shown = str(error.value)
    assert SECRET not in shown
    assert SECRET[:12] not in shown
    problem = error.value.problems[0]
    assert ":" in problem.path  # still names the file and the line
    assert "not valid" in shown or "raised ValueError" in shown
