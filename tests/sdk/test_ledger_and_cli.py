"""The ledger under concurrent writers, production safety in `destroy`, the CLI's error paths, progress output."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import stacks_cloud.cdk as cdk
from config.cloud import load_config
from stacks.custom_stack import CustomStack
from stacks_cloud.providers.cdktf_stacks import kept_addresses
from stacks_cloud.stacks import build_app
from stacks_cloud.state import SqliteLedger as Ledger
from stacks_cloud.testing import synth_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("cloud")


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite", busy_timeout=60)
    ids = [f"d{n}" for n in range(8)]
    for deployment_id in ids:
        ledger.start(deployment_id, app="a", environment="dev", version="1", provider="p", config_hash="h")

    def write(deployment_id: str) -> None:
        other = Ledger(tmp_path / "ledger.sqlite", busy_timeout=60)  # its own connection, as another process
        for n in range(40):
            other.set_stack(deployment_id, f"stack-{n}", "deployed", outputs={"n": n}, seconds=n)
        other.set_status(deployment_id, "running", url=f"https://{deployment_id}")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, ids))
    records = ledger.history("a", "dev", limit=100)
    assert len(records) == 8
    for record in records:
        assert record.status == "running"
        assert record.url == f"https://{record.id}"
        assert len(record.stacks) == 40
        assert record.stacks["stack-39"]["outputs"] == {"n": 39}


def test_archive_round_trip_leaves_provider_binaries_out(tmp_path: Path) -> None:
    outdir = tmp_path / "cdktf.out"
    (outdir / "stacks" / "s" / ".terraform" / "providers").mkdir(parents=True)
    (outdir / "stacks" / "s" / ".terraform" / "providers" / "huge").write_bytes(b"x" * 1000)
    (outdir / "stacks" / "s" / "cdk.tf.json").write_text('{"resource": {}}')
    (outdir / "manifest.json").write_text("{}")
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.start("d1", app="a", environment="dev", version="1", provider="p", config_hash="h")
    ledger.archive("d1", outdir)
    restored = ledger.extract("d1", tmp_path / "restored")
    assert sorted(str(p.relative_to(restored)) for p in restored.rglob("*") if p.is_file()) == [
        "manifest.json",
        "stacks/s/cdk.tf.json",
    ]


def test_production_destroy_keeps_the_assets_bucket_and_its_settings(tmp_path: Path) -> None:
    config = load_config("production", overrides={"state": {"localDir": str(tmp_path / ".state")}})
    build_app(config, CustomStack, project_dir=PROJECT_DIR, app=cdk.App(outdir=str(tmp_path / "out"))).synth()
    synthesized = synth_file(tmp_path / "out", "my-app-production-us-east-1")
    kept = kept_addresses(synthesized)
    assert "aws_s3_bucket.AssetsBucket_0DA5AAB6" in kept
    # only the retained constructs: the buckets and the key that encrypts the assets
    assert all(any(f".{c}_" in address for c in ("AssetsBucket", "AccessLogs", "AppKey")) for address in kept)
    assert any(address.startswith("aws_kms_key.AppKey") for address in kept)
    assert not any(address.startswith("aws_iam_role_policy.") for address in kept)  # grants go with their role
    assert len(kept) >= 3  # the bucket with its versioning, encryption, public access block
    development = load_config("development", overrides={"state": {"localDir": str(tmp_path / ".state")}})
    build_app(development, CustomStack, project_dir=PROJECT_DIR, app=cdk.App(outdir=str(tmp_path / "dev"))).synth()
    assert kept_addresses(synth_file(tmp_path / "dev", "my-app-development-us-east-1")) == []


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), *args], cwd=PROJECT_DIR, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("environment", ["production", "development"])
def test_destroying_any_environment_without_a_terminal_needs_yes(environment: str) -> None:
    result = run_cli("--env", environment, "destroy")  # stdin is not a terminal: nothing to confirm on
    assert result.returncode == 2
    assert f"destroying my-app {environment} needs --yes when there is no terminal to confirm on" in result.stderr


def test_cli_reports_config_errors_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"appName": "my-app", "region": "us-est-1", "driver": "nimbus"}))
    result = run_cli("--config", str(bad), "deploy")
    assert result.returncode == 2
    assert "region = 'us-est-1'" in result.stderr
    assert "Traceback" not in result.stderr
    nimbus = tmp_path / "nimbus.json"
    nimbus.write_text(json.dumps({"appName": "my-app", "driver": "nimbus", "state": {"localDir": str(tmp_path)}}))
    result = run_cli("--config", str(nimbus), "status")
    assert result.returncode == 2
    assert "driver = 'nimbus': is not a registered provider" in result.stderr


TINY_PROJECT = """
from stacks_cloud import CloudProvider, DeploymentResult, DeploymentStatus


class Noop(CloudProvider):
    name = "noop"

    async def deploy(self, config):
        return DeploymentResult(success=True, deployment_id=config.deployment_id)

    async def destroy(self, deployment_id):
        return True

    async def get_status(self, deployment_id):
        return DeploymentStatus(status="running")


CLOUD = {"appName": "tiny", "driver": "noop", "providers": {"noop": Noop()}}
"""


def tiny_project(root: Path) -> Path:
    (root / "config").mkdir(parents=True)
    (root / "cdktf.json").write_text('{"language": "python", "app": "python main.py"}')
    (root / "config" / "__init__.py").write_text("")
    (root / "config" / "cloud.py").write_text(TINY_PROJECT)
    return root


def test_a_damaged_ledger_is_exit_2_with_a_message_and_a_json_error(tmp_path: Path) -> None:
    project = tiny_project(tmp_path / "tiny")
    deployed = subprocess.run([str(CLI), "deploy", "--version", "1"], cwd=project, capture_output=True, text=True)
    assert deployed.returncode == 0, deployed.stderr
    ledger = project / ".state" / "ledger.sqlite"
    ledger.write_bytes(b"\0garbage" * 512)
    for name in ("ledger.sqlite-wal", "ledger.sqlite-shm"):
        (project / ".state" / name).unlink(missing_ok=True)
    for args in (["status"], ["--json", "status"], ["deploy"]):
        result = subprocess.run([str(CLI), *args], cwd=project, capture_output=True, text=True, check=False)
        assert result.returncode == 2, result.stderr  # the user must act: move the file aside
        assert "Traceback" not in result.stderr
        assert "is damaged" in result.stderr
        assert f"mv {ledger} {ledger}.damaged" in result.stderr
    error = json.loads(
        subprocess.run([str(CLI), "status", "--json"], cwd=project, capture_output=True, text=True).stdout
    )
    assert (error["success"], error["type"]) == (False, "LedgerError")


def test_unlock_asks_first_and_removes_a_stale_lock(tmp_path: Path) -> None:
    from stacks_cloud.state import LockHolder, SqliteLedger

    project = tiny_project(tmp_path / "tiny")
    ledger = SqliteLedger(project / ".state" / "ledger.sqlite")
    ledger.start(
        "development-old", app="tiny", environment="development", version="1", provider="noop", config_hash="h"
    )
    ledger.create_lock("tiny", "development", LockHolder.for_this_process("development-old", "deploy"))
    refused = subprocess.run([str(CLI), "deploy"], cwd=project, capture_output=True, text=True, check=False)
    assert refused.returncode == 1
    assert "is locked by another run: deploy development-old" in refused.stderr
    unasked = subprocess.run([str(CLI), "unlock"], cwd=project, capture_output=True, text=True, check=False)
    assert unasked.returncode == 2
    assert "Run with --yes to confirm without a terminal" in unasked.stderr
    assert ledger.read_lock("tiny", "development") is not None
    removed = subprocess.run([str(CLI), "--json", "unlock", "--yes"], cwd=project, capture_output=True, text=True)
    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout)["removed"]["deployment_id"] == "development-old"
    assert ledger.read_lock("tiny", "development") is None
    assert ledger.get("development-old").status == "interrupted"  # type: ignore[union-attr]
    deployed = subprocess.run([str(CLI), "deploy"], cwd=project, capture_output=True, text=True, check=False)
    assert deployed.returncode == 0, deployed.stderr
