"""Every bad input gets one clear error: exit code 2 (or a `ConfigError`), the field path, no traceback, nothing
left behind. Table-driven, as a new user meets them: config files (.py and .json), the command line, the API.

The CLI cases run `cloud.main()` in this process (one cdktf kernel for all of them); a few run the
`cloud` console script to show the same from a real process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import stacks_cloud.cdk as cdk
from stacks_cloud.constructs import Code, Function, Rule, Runtime, Schedule
from stacks_cloud.core.errors import ConfigError
from stacks_cloud.deploy.cli import main
from tests.test_main import copy_project

CLI = Path(sys.executable).with_name("cloud")
BASE = {"appName": "badin", "multiRegion": {"enabled": False}}


@dataclass(frozen=True)
class Case:
    """A config file's content (`config`, a .py body or .json text) or command-line `args`, and what to expect."""

    id: str
    path: str
    """The field path the error names (a substring of the message)."""
    config: str | None = None
    suffix: str = ".py"
    args: tuple[str, ...] = ("synth",)
    says: str = ""
    """Something else the message must say (the fix, the value)."""


def py(settings: str, prelude: str = "") -> str:
    return f'{prelude}\nCLOUD = {{"appName": "badin", "multiRegion": {{"enabled": False}}, {settings}}}\n'


CASES = [
    # --- schedules: EventBridge's cron and rate grammar --------------------------------------------------
    Case(
        "cron-out-of-range",
        "scheduled_functions.0.schedule",
        py('"scheduledFunctions": [{"name": "Job", "schedule": "cron(99 25 32 13 ? 1969)", "handler": "a.b"}]'),
        says="Invalid minute value '99'",
    ),
    Case(
        "cron-hour",
        "scheduled_functions.0.schedule",
        py('"scheduledFunctions": [{"name": "Job", "schedule": "cron(0 24 * * ? *)", "handler": "a.b"}]'),
        says="allowed: 0-23",
    ),
    Case(
        "cron-both-days",
        "scheduled_functions.0.schedule",
        py('"scheduledFunctions": [{"name": "Job", "schedule": "cron(0 0 * * * *)", "handler": "a.b"}]'),
        says="must be '?'",
    ),
    Case(
        "cron-five-fields",
        "scheduled_functions.0.schedule",
        py('"scheduledFunctions": [{"name": "Job", "schedule": "cron(0 0 * * ?)", "handler": "a.b"}]'),
        says="6 fields",
    ),
    Case(
        "rate-plural",
        "scheduled_functions.0.schedule",
        py('"scheduledFunctions": [{"name": "Job", "schedule": "rate(1 days)", "handler": "a.b"}]'),
        says="singular",
    ),
    Case(
        "rate-zero",
        "scheduled_functions.0.schedule",
        py('"scheduledFunctions": [{"name": "Job", "schedule": "rate(0 minutes)", "handler": "a.b"}]'),
    ),
    Case(
        "schedule-word",
        "scheduled_functions.0.schedule",
        py('"scheduledFunctions": [{"name": "Job", "schedule": "daily", "handler": "a.b"}]'),
    ),
    # --- handlers, code and state paths -----------------------------------------------------------------
    Case("handler-no-dot", "api.handler", py('"api": {"handler": "handler"}'), says="file.function"),
    Case("handler-non-ascii", "api.handler", py('"api": {"handler": "índex.handler"}'), says="ASCII"),
    Case("handler-empty", "api.handler", py('"api": {"handler": ""}'), says="is empty"),
    Case("handler-space", "api.handler", py('"api": {"handler": "index. handler"}')),
    Case(
        "schedule-handler",
        "scheduled_functions.0.handler",
        py('"scheduledFunctions": [{"name": "Job", "schedule": "rate(1 day)", "handler": "cleanup"}]'),
    ),
    Case("code-absolute", "api.code_path", py('"api": {"codePath": "/etc/ssh"}'), says="absolute path"),
    Case("code-escapes", "api.code_path", py('"api": {"codePath": "../../etc"}'), says="leaves the project"),
    Case("state-escapes", "state.local_dir", py('"state": {"localDir": "../../tmp/x"}'), says="leaves the project"),
    Case("state-in-cdktf-out", "state.local_dir", py('"state": {"localDir": "cdktf.out/state"}')),
    # --- names, numbers, choices -------------------------------------------------------------------------
    Case("memory-with-unit", "api.memory_size", py('"api": {"memorySize": "512MB"}'), says="without its unit: 512"),
    Case("memory-too-small", "api.memory_size", py('"api": {"memorySize": 64}'), says="between 128 and 10240"),
    Case("timeout-too-long", "api.timeout", py('"api": {"timeout": 901}'), says="900 seconds"),
    Case("both-spellings", "app_name", py('"app_name": "other"'), says="given twice"),
    Case("unknown-key", "regoin", py('"regoin": "eu-west-1"'), says="did you mean 'region'?"),
    Case("nested-unknown-key", "api.memorySise", py('"api": {"memorySise": 512}'), says="did you mean 'memorySize'?"),
    Case(
        "routing-typo",
        "multi_region.routing",
        'CLOUD = {"appName": "badin", "multiRegion": {"enabled": True, "primaryRegion": "us-east-1",'
        ' "replicaRegions": ["eu-west-1"], "routing": "latncy"}}',
        says="did you mean 'latency'?",
    ),
    Case("region-typo", "region", py('"region": "us-est-1"'), says="us-east-1"),
    Case("app-name-upper", "app_name", 'CLOUD = {"appName": "My App", "multiRegion": {"enabled": False}}'),
    Case("environment-bad", "environment", py('"environment": "Prod!"')),
    Case(
        "environment-unset-env",
        "environment",
        py('"environment": from_env("BADIN_UNSET_VARIABLE")', "from stacks_cloud import from_env"),
        says="BADIN_UNSET_VARIABLE, which is not set",
    ),
    Case("driver-unknown", "driver", py('"driver": "gpc"'), says="use one of 'aws', 'terraform'"),
    Case(
        "duplicate-scheduled",
        "scheduled_functions.1.name",
        py(
            '"scheduledFunctions": [{"name": "Job", "schedule": "rate(1 day)", "handler": "a.b"},'
            ' {"name": "Job", "schedule": "rate(2 days)", "handler": "a.b"}]'
        ),
        says="different name",
    ),
    Case(
        "hook-arity",
        "hooks.pre_deploy.0",
        py('"hooks": {"preDeploy": pre}', "def pre():\n    pass"),
        says="called as (context)",
    ),
    Case(
        "on-error-arity",
        "hooks.on_error.0",
        py('"hooks": {"onError": failed}', "def failed(context):\n    pass"),
        says="(error, context)",
    ),
    Case("hook-not-callable", "hooks.pre_deploy.0", py('"hooks": {"preDeploy": ["not a function"]}')),
    Case(
        "endpoint-credentials",
        "aws.endpoint",
        py('"aws": {"endpoint": "http://admin:hunter2hunter@127.0.0.1:5000"}'),
        says="carries credentials",
    ),
    Case("s3-backend-missing", "state.s3", py('"state": {"backend": "s3"}'), says="is required"),
    Case(
        "replica-is-primary",
        "multi_region",
        py('"multiRegion": {"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": ["us-east-1"]}').replace(
            '"multiRegion": {"enabled": False}, ', ""
        ),
    ),
    # --- the config files themselves --------------------------------------------------------------------
    Case("py-syntax", "probe.py:1", "CLOUD = {\n", says="is not valid Python"),
    Case("py-raises", "probe.py:2", "import os\nraise RuntimeError('boom')\n", says="raised RuntimeError"),
    Case("py-no-cloud", "probe.py", "SETTINGS = {}\n", says="defines no CLOUD dict"),
    Case("py-cloud-list", "probe.py", "CLOUD = [1, 2]\n", says="defines no CLOUD dict"),
    Case("json-syntax", "probe.json:1", '{"appName": ', suffix=".json", says="is not valid JSON"),
    Case("json-empty", "probe.json:1", "", suffix=".json", says="is not valid JSON"),
    Case("json-array", "probe.json", "[]", suffix=".json", says="defines no CLOUD dict"),
    Case("json-bad-value", "api.memory_size", json.dumps({**BASE, "api": {"memorySize": 1}}), suffix=".json"),
    Case("wrong-suffix", "--config", "appName: x\n", suffix=".yaml", says="neither a .py nor a .json"),
    # --- the command line ---------------------------------------------------------------------------------
    Case(
        "unknown-stack",
        "--stacks",
        py(""),
        args=("plan", "--stacks", "badin-development-us-eats-1"),
        says="did you mean",
    ),
    Case("missing-config", "--config", None, args=("--config", "nowhere/cloud.py", "synth"), says="does not exist"),
    Case("missing-project", "--project", None, args=("--project", "no/such/folder", "synth"), says="does not exist"),
    Case("unknown-command", "invalid choice", None, args=("deplyo",), says="did you mean 'deploy'?"),
    Case("unknown-option", "unrecognized arguments", None, args=("synth", "--fast")),
    Case("concurrency-text", "--concurrency", None, args=("deploy", "--concurrency", "many")),
    Case("environment-typo", "environment", None, args=("--env", "prod", "synth"), says="did you mean 'production'?"),
    Case("plan-out-is-a-file", "--out", None, args=("plan", "--out", "main.py"), says="is a file, not a folder"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("bad-inputs"))
    (root / "cdktf.out").mkdir()
    (root / "cdktf.out" / "marker").write_text("an earlier synth")
    return root


def listing(root: Path) -> set[str]:
    return {
        str(path.relative_to(root))
        for path in root.rglob("*")
        if "__pycache__" not in path.parts and path.parts[len(root.parts)] not in {".venv", "node_modules"}
    }


def run_main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_exit_2_with_the_field_and_nothing_left(
    case: Case, project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    monkeypatch.delenv("APP_ENV", raising=False)
    args = list(case.args)
    if case.config is not None:
        (project / f"probe{case.suffix}").write_text(case.config)
        args = ["--config", f"probe{case.suffix}", *args]
    before = listing(project)
    try:
        code, out, err = run_main([*args, "--json"], capsys)
    finally:
        (project / f"probe{case.suffix}").unlink(missing_ok=True)
    assert code == 2, out + err
    assert "Traceback" not in err
    assert case.path in err, err
    assert case.says in err, err
    error = json.loads(out.strip().splitlines()[-1])  # --json: one error object on stdout
    assert error["success"] is False
    assert error["type"] in {"ConfigError", "UsageError"}
    assert listing(project) - {f"probe{case.suffix}"} == before - {f"probe{case.suffix}"}  # nothing written
    assert (project / "cdktf.out" / "marker").read_text() == "an earlier synth"  # the earlier synth is kept


def test_there_are_forty_distinct_cases() -> None:
    assert len({case.id for case in CASES}) == len(CASES) >= 40


# --- the same from real processes: exit codes, no traceback, a pipe closed early ------------------------


def cloud(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], cwd=project, capture_output=True, text=True, timeout=300, check=False, env=os.environ
    )


def test_real_processes_exit_2_without_tracebacks(project: Path) -> None:
    (project / "bad.py").write_text(py('"scheduledFunctions": [{"name": "J", "schedule": "cron(0 0 * * *)"}]'))
    try:
        for args in (["--config", "bad.py", "synth"], ["--config", "bad.py", "deploy"], ["nope"]):
            result = cloud(project, *args)
            assert result.returncode == 2, result.stderr
            assert "Traceback" not in result.stderr
    finally:
        (project / "bad.py").unlink()
    assert not (project / ".state").exists()  # a refused deploy records nothing


def test_a_closed_pipe_is_not_an_error(project: Path) -> None:
    result = subprocess.run(
        f"{CLI} status | head -c 1", shell=True, cwd=project, capture_output=True, text=True, timeout=300, check=False
    )
    assert "BrokenPipe" not in result.stderr
    assert "Traceback" not in result.stderr


def test_the_guides_multi_region_config_synthesizes_with_a_warning(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guide's `multiRegion` verbatim (no domain): the regional stacks, no global stack, a warning."""
    monkeypatch.chdir(project)
    (project / "guide.py").write_text(
        'CLOUD = {"appName": "guide", "multiRegion": {"enabled": True, "primaryRegion": "us-east-1",'
        ' "replicaRegions": ["eu-west-1", "ap-southeast-1"], "routing": "latency"}}\n'
    )
    try:
        code, _out, err = run_main(["--config", "guide.py", "synth"], capsys)
    finally:
        (project / "guide.py").unlink()
    assert code == 0, err
    assert "warning: multiRegion: latency routing needs `domainName`" in err
    stacks = sorted(path.name for path in (project / "cdktf.out" / "stacks").iterdir())
    assert stacks == ["guide-development-ap-southeast-1", "guide-development-eu-west-1", "guide-development-us-east-1"]
    assert not (project / "cdktf.out" / "marker").exists()  # a successful synth replaces the folder whole

    # A region removed from the config: its stack folder goes with the next synth, none is left stale.
    (project / "guide.py").write_text(
        'CLOUD = {"appName": "guide", "multiRegion": {"enabled": True, "primaryRegion": "us-east-1",'
        ' "replicaRegions": ["eu-west-1"], "routing": "latency"}}\n'
    )
    try:
        code, _out, err = run_main(["--config", "guide.py", "synth"], capsys)
    finally:
        (project / "guide.py").unlink()
    assert code == 0, err
    stacks = sorted(path.name for path in (project / "cdktf.out" / "stacks").iterdir())
    assert stacks == ["guide-development-eu-west-1", "guide-development-us-east-1"]
    assert not list(project.glob(".cdktf.out.*"))  # no staging folder left beside it
    (project / "cdktf.out" / "marker").write_text("an earlier synth")


# --- the Python API: the same checks, as `ConfigError` ------------------------------------------------------

CODE = Code.from_asset(Path(__file__).resolve().parent.parent / "dist")


def _function(**options: Any) -> Callable[[cdk.TerraformStack], object]:
    return lambda scope: Function(scope, "Fn", function_name="f", code=CODE, **options)


API_CASES: list[tuple[str, str, Callable[[cdk.TerraformStack], object]]] = [
    ("python-handler", "handler", _function(runtime=Runtime.PYTHON_3_12, handler="handler")),
    ("node-handler", "handler", _function(runtime=Runtime.NODEJS_22_X, handler="index")),
    ("memory", "memory_size", _function(handler="index.handler", memory_size=100_000)),
    (
        "schedule",
        "schedule",
        lambda scope: Rule(scope, "R", rule_name="r", schedule=Schedule.expression("cron(0 0 32 * ? *)")),
    ),
    (
        "duplicate-id",
        "construct_id",
        lambda scope: [_function(handler="a.b")(scope), _function(handler="a.b")(scope)],
    ),
]


@pytest.mark.parametrize(("name", "path", "build"), API_CASES, ids=[case[0] for case in API_CASES])
def test_the_api_raises_config_errors(
    stack_scope: cdk.TerraformStack, name: str, path: str, build: Callable[[cdk.TerraformStack], object]
) -> None:
    with pytest.raises(ConfigError) as error:
        build(stack_scope)
    assert path in error.value.paths or any(p.endswith(path) for p in error.value.paths), error.value


def test_deploy_time_values_skip_the_checks(stack_scope: cdk.TerraformStack) -> None:
    """A token (known at apply time) is passed through, as AWS CDK does: the cloud checks it then."""
    memory = cdk.Token.as_number(cdk.Fn.tonumber("512"))
    Function(stack_scope, "Fn", function_name="f", code=CODE, handler="index.handler", memory_size=memory)
    out = json.loads(cdk.Testing.synth(stack_scope))
    (function,) = out["resource"]["aws_lambda_function"].values()
    assert function["memory_size"] == '${tonumber("512")}'
