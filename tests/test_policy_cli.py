"""`cloud check` and the gate in `cloud deploy`, as users run them: the `cloud` console script in a copy
of the project, the real checkov. Nothing here reaches AWS: a failing gate stops a deploy before terraform."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from stacks_cloud.core.errors import ConfigError
from stacks_cloud.policy.gate import CHECKOV_ENV, find_checkov
from stacks_cloud.state import SqliteLedger
from tests.test_main import copy_project

CLI = Path(sys.executable).with_name("cloud")

CONFIG = """
CLOUD = {
    "appName": "gated",
    "multiRegion": {"enabled": False},
    "state": {"localDir": ".state"},
    "aws": {"endpoint": "http://127.0.0.1:9", "s3UsePathStyle": True, "skipAwsChecks": True},
}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        find_checkov()
    except ConfigError:
        pytest.skip(f"checkov is not installed here: ./scripts/setup installs it and sets {CHECKOV_ENV}")
    root = copy_project(tmp_path_factory.mktemp("gate"))
    (root / "gated.py").write_text(CONFIG)
    return root


def cloud(project: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--config", "gated.py", *args],
        cwd=project,
        env={**os.environ, "CI": "1", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def without_entry(checks: str, check_id: str) -> str:
    """The suppressions file without the entry that accepts `check_id`."""
    entries = re.split(r"(?m)^(?=\[\[suppress\]\])", checks)
    return "".join(entry for entry in entries if f'"{check_id}"' not in entry.split("\n", 2)[1])


def test_check_passes_the_reference_app_and_prints_reasons(project: Path) -> None:
    result = cloud(project, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    counts = re.match(
        r"policy gate \(development, 1 stack\(s\)\): (\d+) checks, (\d+) results: (\d+) passed, 0 failed,"
        r" (\d+) suppressed\n",
        result.stdout,
    )
    assert counts, result.stdout
    checks, results, passed, suppressed = map(int, counts.groups())
    assert results == passed + suppressed > checks > 0  # the counts add up: each result passed or was suppressed
    assert "suppressed CKV_AWS_145 on 1 resource(s): S3 server access logging delivers only" not in result.stdout
    assert "suppressed CKV2_AWS_51 on 1 resource(s): Mutual TLS needs every caller" in result.stdout
    report = json.loads(cloud(project, "check", "--json").stdout)
    assert report["ok"] is True
    assert report["failed"] == []
    assert report["results"] == report["passed"] + len(report["suppressed"]) == results
    assert {entry["check_id"] for entry in report["suppressed"]} >= {"CKV_AWS_59", "STACKS_API_AUTHORIZATION"}


def test_a_failing_gate_stops_the_deploy_and_is_recorded(project: Path) -> None:
    checks = project / "config" / "checks.toml"
    original = checks.read_text()
    checks.write_text(without_entry(original, "CKV_AWS_272"))
    try:
        result = cloud(project, "check")
        assert result.returncode == 1
        assert "FAILED CKV_AWS_272 gated-development-us-east-1/Api/Function/Function" in result.stdout
        assert "add a suppression with the check, the resources and a reason to config/checks.toml" in result.stdout

        deploy = cloud(project, "deploy", "--version", "gate-1")
        assert deploy.returncode == 1, deploy.stdout + deploy.stderr
        assert "FAILED CKV_AWS_272" in deploy.stderr
        (record,) = SqliteLedger(project / ".state" / "ledger.sqlite").history("gated", "development")
        assert (record.version, record.status) == ("gate-1", "failed")
        assert record.checks is not None
        assert record.checks.startswith("failed:")
        assert "CKV_AWS_272 gated-development-us-east-1/Api/Function/Function" in record.checks
        assert record.stacks == {}  # no stack was started: nothing applied
        assert not list((project / ".state").glob("*.tfstate"))
    finally:
        checks.write_text(original)


def test_a_bad_suppressions_file_is_a_usage_error_and_records_nothing(project: Path) -> None:
    checks = project / "config" / "checks.toml"
    original = checks.read_text()
    checks.write_text(original + '\n[[suppress]]\ncheck = "CKV_AWS_1"\nresources = ["*"]\nreason = "ok"\n')
    before = SqliteLedger(project / ".state" / "ledger.sqlite").history("gated", "development")
    try:
        for command in ("check", "deploy"):
            result = cloud(project, command)
            assert result.returncode == 2, result.stdout + result.stderr
            assert "suppress[" in result.stderr
            assert ".reason = 'ok': is required: say why the finding is acceptable" in result.stderr
            assert "Traceback" not in result.stderr
    finally:
        checks.write_text(original)
    assert SqliteLedger(project / ".state" / "ledger.sqlite").history("gated", "development") == before


def test_without_checkov_the_cli_says_how_to_get_it(project: Path) -> None:
    result = cloud(project, "check", env={CHECKOV_ENV: "/nonexistent/checkov"})
    assert result.returncode == 2
    assert f"{CHECKOV_ENV} = '/nonexistent/checkov': is not an executable file" in result.stderr
