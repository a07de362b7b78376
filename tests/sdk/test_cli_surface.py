"""What `cloud` says about itself: its version, and a summary that names every command."""

from __future__ import annotations

from pathlib import Path

import pytest

from stacks_cloud import __version__
from stacks_cloud.deploy.cli import build_parser, main

PROJECT_DIR = Path(__file__).resolve().parents[2]


def test_version_prints_the_sdk_version_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"cloud (stacks-cloud) {__version__}"


def test_the_summary_names_every_command() -> None:
    parser = build_parser()
    summary = parser.description or ""
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert commands is not None
    missing = [name for name in commands if name not in summary]
    assert missing == []


def test_an_unchanged_deploys_gate_note_names_the_verdict_once() -> None:
    from dataclasses import replace

    from stacks_cloud.deploy.policy_step import gate_verdict
    from stacks_cloud.models import DeploymentRecord

    checked = DeploymentRecord(
        id="dev-1",
        app="a",
        environment="dev",
        version="1",
        provider="aws",
        config_hash="h",
        status="superseded",
        url=None,
        error=None,
        rollback_of=None,
        started_at=1.0,
        finished_at=2.0,
        has_archive=True,
        stacks={},
        checks="passed: 61 checks, 47 passed, 14 suppressed",
    )
    once = replace(
        checked, id="dev-2", checks=f"not run: every stack is unchanged since dev-1 (its gate: {checked.checks})"
    )
    twice = replace(once, id="dev-3", checks=f"not run: every stack is unchanged since dev-2 (its gate: {once.checks})")
    assert gate_verdict(checked) == gate_verdict(once) == gate_verdict(twice) == checked.checks


def test_init_inside_a_project_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path / "outer")]) == 0
    capsys.readouterr()
    assert main(["init", str(tmp_path / "outer" / "inner")]) == 2
    error = capsys.readouterr().err
    assert f"is inside the project at {tmp_path / 'outer'}" in error
    assert not (tmp_path / "outer" / "inner").exists()


def test_synth_refuses_a_registered_provider_that_cannot_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "nimbus.py"
    config.write_text(
        "class Nimbus:\n    name = 'nimbus'\n\n\n"
        "CLOUD = {'appName': 'my-app', 'driver': 'nimbus', 'providers': {'nimbus': Nimbus()}}\n"
    )
    assert main(["--project", str(PROJECT_DIR), "--config", str(config), "synth"]) == 2
    error = capsys.readouterr().err
    assert "does not implement the CloudProvider interface: no async deploy, destroy, get_status" in error


def test_status_history_columns_line_up_with_long_versions() -> None:
    from stacks_cloud.config import CloudConfig
    from stacks_cloud.deploy.cli import _render_status
    from stacks_cloud.models import DeploymentStatus, State

    recent = [
        {"id": "dev-20261206T100000000-aaaaaa", "version": "v1", "status": "superseded"},
        {"id": "dev-20261206T110000000-bbbbbb", "version": "1.4.0-rc.2+build.20261206", "status": "running"},
    ]
    text = _render_status(
        CloudConfig.model_validate({"appName": "my-infra"}), DeploymentStatus(status=State.RUNNING), recent
    )
    rows = text.splitlines()[-2:]
    assert rows[0].index("superseded") == rows[1].index("running")
    assert text.startswith("my-infra development:")  # the app's name as configured


def _empty_project(root: Path) -> Path:
    root.mkdir()
    (root / "cdktf.json").write_text('{"app": "python main.py"}')
    return root


def test_env_prints_the_shell_lines_for_plain_cdktf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`eval "$(cloud env)"`: cdktf on PATH and terraform as `cloud` runs it, from a subfolder too."""
    import json

    from stacks_cloud.terraform.cli_config import discover_provider_mirror

    project = _empty_project(tmp_path / "infra")
    (project / "stacks").mkdir()
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    monkeypatch.delenv("STACKS_CLOUD_CHECKOV", raising=False)
    monkeypatch.chdir(project / "stacks")
    assert main(["env", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    config = project / ".cache" / "terraform" / "terraform.tfrc"
    assert data["path"] == [str(project / "node_modules" / ".bin")]
    assert data["variables"]["TF_CLI_CONFIG_FILE"] == str(config)
    assert data["variables"]["CHECKPOINT_DISABLE"] == "1"
    mirror = discover_provider_mirror()
    assert ("CDKTF_SKIP_PROVIDER_LOCK" in data["variables"]) is (mirror is not None)
    assert ("filesystem_mirror" in config.read_text()) is (mirror is not None)
    assert "run `npm install`" in data["notes"][0]
    assert main(["env"]) == 0
    shell = capsys.readouterr().out
    assert f'export PATH={project / "node_modules" / ".bin"}:"$PATH"' in shell
    assert f"export TF_CLI_CONFIG_FILE={config}" in shell


def test_env_and_setup_refuse_a_bad_mirror_and_a_folder_outside_a_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["env"]) == 2
    assert "is not inside a stacks-cloud project" in capsys.readouterr().err
    project = _empty_project(tmp_path / "infra")
    monkeypatch.chdir(project)
    monkeypatch.delenv("TF_CLI_CONFIG_FILE", raising=False)
    monkeypatch.setenv("TF_PROVIDER_MIRROR", str(tmp_path / "no-mirror"))
    for command in (["env"], ["setup", "--no-checkov"]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "TF_PROVIDER_MIRROR" in err
        assert "is not a provider mirror" in err
        assert "Traceback" not in err
    assert not (project / ".cache").exists()
