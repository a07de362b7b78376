"""Deployments a team can share, with fast providers (no terraform): one run per environment, interruption
recorded and never rolled back unasked, rollback only after something was applied and only to what was live,
exactly as it was deployed; history and the lock in the state bucket (moto) seen from another clone."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud import (
    Cloud,
    CloudConfig,
    CloudProvider,
    ConfigError,
    DeploymentConfig,
    DeploymentContext,
    DeploymentResult,
    DeploymentStatus,
    HookError,
    State,
    hook,
)
from stacks_cloud.core.errors import DeploymentLockedError
from stacks_cloud.state import Ledger, LockHolder, S3Ledger, SqliteLedger
from tests.servers import MOTO_ACCESS_KEY, Moto


class RecordingProvider(CloudProvider):
    """Deploys nothing real: records each deploy's version and settings; can fail, or take its time."""

    name = "recording"

    def __init__(self, *, fail_versions: tuple[str, ...] = (), seconds: float = 0.0) -> None:
        self.deployed: list[tuple[str, dict[str, Any]]] = []
        self.destroyed: list[str] = []
        self.fail_versions = fail_versions
        self.seconds = seconds
        self.started = asyncio.Event()

    async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
        self.started.set()
        await asyncio.sleep(self.seconds)
        settings = config.settings.model_dump(exclude_none=True) if config.settings else {}
        self.deployed.append((config.version, settings))
        if config.version in self.fail_versions:
            raise RuntimeError(f"version {config.version} does not start")
        return DeploymentResult(
            success=True, url=f"https://{config.version}.example", deployment_id=config.deployment_id
        )

    async def destroy(self, deployment_id: str) -> bool:
        self.destroyed.append(deployment_id)
        return True

    async def get_status(self, deployment_id: str) -> DeploymentStatus:
        return DeploymentStatus(status=State.RUNNING, health="healthy")


def config_of(provider: CloudProvider, tmp_path: Path, **overrides: Any) -> CloudConfig:
    return CloudConfig.model_validate(
        {
            "appName": "shop",
            "driver": "recording",
            "providers": {"recording": provider},
            "recording": {"size": 1, "apiKey": "sk-live-1"},
            "state": {"localDir": str(tmp_path / ".state")},
            **overrides,
        }
    )


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def ledger_of(tmp_path: Path) -> SqliteLedger:
    return SqliteLedger(tmp_path / ".state" / "ledger.sqlite")


def statuses(ledger: Ledger) -> list[tuple[str, str]]:
    return [(record.version, record.status) for record in ledger.history("shop", "development")]


# --- one deployment per environment -----------------------------------------------------------------------


def test_a_held_lock_refuses_at_once_naming_the_holder_and_records_nothing(tmp_path: Path) -> None:
    provider = RecordingProvider()
    config = config_of(provider, tmp_path)
    ledger = ledger_of(tmp_path)
    holder = LockHolder.for_this_process("development-other", "deploy")  # this test's own, live, pid
    assert ledger.create_lock("shop", "development", holder) is not None
    ran: list[str] = []
    config = config_of(
        provider,
        tmp_path,
        hooks={"preDeploy": lambda c: ran.append("pre"), "onError": lambda e, c: ran.append("error")},
    )
    with pytest.raises(DeploymentLockedError) as error:
        run(Cloud.deploy(config, version="2", project_dir=tmp_path))
    message = str(error.value)
    assert "development-other" in message
    assert f"pid {os.getpid()}" in message
    assert holder.user in message
    assert holder.host in message
    assert error.value.holder.deployment_id == "development-other"
    assert (provider.deployed, ran, ledger.history("shop", "development")) == ([], [], [])


def test_two_deploys_started_together_exactly_one_runs(tmp_path: Path) -> None:
    provider = RecordingProvider(seconds=0.5)
    config = config_of(provider, tmp_path)

    async def both() -> tuple[Any, ...]:
        return await asyncio.gather(
            Cloud.deploy(config, version="a", project_dir=tmp_path),
            Cloud.deploy(config, version="b", project_dir=tmp_path),
            return_exceptions=True,
        )

    results = run(both())
    refused = [r for r in results if isinstance(r, DeploymentLockedError)]
    done = [r for r in results if isinstance(r, DeploymentResult)]
    assert (len(done), len(refused)) == (1, 1)
    assert len(provider.deployed) == 1
    ledger = ledger_of(tmp_path)
    assert [record.status for record in ledger.history("shop", "development")] == ["running"]
    assert ledger.read_lock("shop", "development") is None  # released


def test_a_dead_holder_is_taken_over_and_its_deployment_recorded_interrupted(tmp_path: Path) -> None:
    provider = RecordingProvider()
    config = config_of(provider, tmp_path)
    ledger = ledger_of(tmp_path)
    ledger.start(
        "development-dead", app="shop", environment="development", version="1", provider="recording", config_hash="h"
    )
    ledger.set_status("development-dead", "deploying")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = LockHolder.for_this_process("development-dead", "deploy")
    dead = dataclasses.replace(dead, pid=int(gone.stdout))
    assert ledger.create_lock("shop", "development", dead) is not None
    status = run(Cloud.status(config, project_dir=tmp_path))
    assert status.lock is not None  # reported, not changed, by a read
    assert status.lock["stale"] is True
    assert ledger.get("development-dead").status == "deploying"  # type: ignore[union-attr]
    run(Cloud.deploy(config, version="2", project_dir=tmp_path))
    assert statuses(ledger) == [("2", "running"), ("1", "interrupted")]
    assert "stopped without finishing" in (ledger.get("development-dead").error or "")  # type: ignore[union-attr]


def test_unlock_removes_the_lock_and_records_its_deployment_interrupted(tmp_path: Path) -> None:
    config = config_of(RecordingProvider(), tmp_path)
    ledger = ledger_of(tmp_path)
    ledger.start(
        "development-x", app="shop", environment="development", version="1", provider="recording", config_hash="h"
    )
    ledger.create_lock("shop", "development", LockHolder.for_this_process("development-x", "deploy"))
    report = run(Cloud.unlock(config, project_dir=tmp_path))
    assert report.environment_lock is not None
    assert report.environment_lock.deployment_id == "development-x"
    assert ledger.read_lock("shop", "development") is None
    assert statuses(ledger) == [("1", "interrupted")]


# --- interruption --------------------------------------------------------------------------------------------


def test_an_interruption_is_recorded_releases_the_lock_and_rolls_nothing_back(tmp_path: Path) -> None:
    provider = RecordingProvider(seconds=30)
    events: list[str] = []

    async def on_error(error: BaseException, context: DeploymentContext) -> None:
        events.append("on_error")
        await context.rollback()

    config = config_of(provider, tmp_path, hooks={"onError": on_error})
    run(
        Cloud.deploy(
            config.model_copy(update={"providers": {"recording": RecordingProvider()}}),
            version="1",
            project_dir=tmp_path,
        )
    )

    async def interrupted() -> None:
        task = asyncio.ensure_future(Cloud.deploy(config, version="2", project_dir=tmp_path))
        await provider.started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(interrupted())
    ledger = ledger_of(tmp_path)
    assert statuses(ledger) == [("2", "interrupted"), ("1", "running")]
    assert ledger.read_lock("shop", "development") is None
    assert events == []  # no on-error hook, no rollback of an interruption unless asked


def test_rollback_on_interrupt_when_asked(tmp_path: Path) -> None:
    first = RecordingProvider()
    config = config_of(first, tmp_path, hooks={"onError": lambda error, context: context.rollback()})
    run(Cloud.deploy(config, version="1", project_dir=tmp_path))
    slow = RecordingProvider(seconds=30)
    slow_config = config.model_copy(update={"providers": {"recording": slow}})

    async def interrupted() -> None:
        task = asyncio.ensure_future(
            Cloud.deploy(slow_config, version="2", project_dir=tmp_path, rollback_on_interrupt=True)
        )
        await slow.started.wait()
        slow.seconds = 0  # the rollback's own deploy is quick
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(interrupted())
    assert statuses(ledger_of(tmp_path)) == [("1", "running"), ("2", "rolled_back"), ("1", "superseded")]


# --- rollback: only when it helps, only to what was live, exactly ------------------------------------------------


def test_a_pre_deploy_failure_rolls_nothing_back(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    provider = RecordingProvider()
    results: list[object] = []

    def check(context: DeploymentContext) -> None:
        if context.version == "2":
            raise RuntimeError("database unreachable")

    async def on_error(error: BaseException, context: DeploymentContext) -> None:
        results.append(await context.rollback())

    config = config_of(provider, tmp_path, hooks={"preDeploy": check, "onError": on_error})
    run(Cloud.deploy(config, version="1", project_dir=tmp_path))
    caplog.set_level("INFO", logger="stacks_cloud")
    with pytest.raises(HookError):
        run(Cloud.deploy(config, version="2", project_dir=tmp_path))
    assert results == [None]
    assert [version for version, _ in provider.deployed] == ["1"]  # nothing re-applied
    assert "applied nothing, so nothing changed" in caplog.text
    assert statuses(ledger_of(tmp_path)) == [("2", "failed"), ("1", "running")]


def test_a_usage_error_records_nothing_and_rolls_nothing_back(tmp_path: Path) -> None:
    config = CloudConfig.model_validate(
        {"appName": "shop", "driver": "terraform", "state": {"localDir": str(tmp_path / ".state")}}
    )
    with pytest.raises(ConfigError) as error:
        run(Cloud.deploy(config, stacks=["shop-development-us-est-1"], project_dir=tmp_path))
    assert error.value.paths == ["--stacks"]
    assert "did you mean 'shop-development-us-east-1'" in str(error.value)
    assert ledger_of(tmp_path).history("shop", "development") == []


def test_a_failed_deployment_rolls_back_to_the_first_ones_config(tmp_path: Path) -> None:
    provider = RecordingProvider(fail_versions=("2",))
    config = config_of(provider, tmp_path, hooks={"onError": lambda error, context: context.rollback()})
    run(Cloud.deploy(config, version="1", project_dir=tmp_path))
    changed = config_of(
        provider, tmp_path, recording={"size": 2, "apiKey": "sk-live-2"}, hooks={"onError": lambda e, c: c.rollback()}
    )
    with pytest.raises(Exception, match="does not start"):
        run(Cloud.deploy(changed, version="2", project_dir=tmp_path))
    (_, first), (_, failed), (version, restored) = provider.deployed
    assert (first["size"], failed["size"]) == (1, 2)
    assert (version, restored["size"]) == ("1", 1)  # version 1 with version 1's settings, not the failing ones
    assert restored["api_key"].get_secret_value() == "sk-live-2"  # secrets come from the current config
    ledger = ledger_of(tmp_path)
    assert statuses(ledger) == [("1", "running"), ("2", "rolled_back"), ("1", "superseded")]
    assert "sk-live" not in str(ledger.history("shop", "development")[0].config_snapshot)
    status = run(Cloud.status(changed, project_dir=tmp_path))
    assert (status.version, status.deployment_id) == ("1", ledger.history("shop", "development")[0].id)


def test_a_rollback_is_not_cut_short_by_the_hooks_timeout(tmp_path: Path) -> None:
    provider = RecordingProvider(fail_versions=("2",))

    @hook(timeout=0.2)
    async def roll_back(error: BaseException, context: DeploymentContext) -> None:
        provider.seconds = 1.0  # the rollback's deploy takes five times the hook's timeout
        await context.rollback()

    config = config_of(provider, tmp_path, hooks={"onError": roll_back})
    run(Cloud.deploy(config, version="1", project_dir=tmp_path))
    with pytest.raises(Exception, match="does not start"):
        run(Cloud.deploy(config, version="2", project_dir=tmp_path))
    assert statuses(ledger_of(tmp_path))[0] == ("1", "running")  # the rollback finished, and is live


def test_status_names_the_live_version_after_a_failure(tmp_path: Path) -> None:
    provider = RecordingProvider(fail_versions=("2",))
    config = config_of(provider, tmp_path)
    run(Cloud.deploy(config, version="1", project_dir=tmp_path))
    with pytest.raises(Exception, match="does not start"):
        run(Cloud.deploy(config, version="2", project_dir=tmp_path))
    status = run(Cloud.status(config, project_dir=tmp_path))
    assert (status.status, status.version) == (State.RUNNING, "1")


def test_rollback_after_a_destroy_needs_recreate(tmp_path: Path) -> None:
    provider = RecordingProvider()
    config = config_of(provider, tmp_path)
    assert run(Cloud.status(config, project_dir=tmp_path)).status == State.PENDING  # nothing deployed yet
    run(Cloud.deploy(config, version="1", project_dir=tmp_path))
    run(Cloud.deploy(config, version="2", project_dir=tmp_path))
    assert run(Cloud.destroy(config, project_dir=tmp_path)) is True
    assert run(Cloud.status(config, project_dir=tmp_path)).status == State.DESTROYED  # nothing live, since a destroy
    with pytest.raises(ConfigError, match="pass --recreate"):
        run(Cloud.rollback(config, project_dir=tmp_path))
    assert [v for v, _ in provider.deployed] == ["1", "2"]
    run(Cloud.rollback(config, recreate=True, project_dir=tmp_path))
    assert [v for v, _ in provider.deployed] == ["1", "2", "2"]  # the destroyed version, created again
    status = run(Cloud.status(config, project_dir=tmp_path))
    assert (status.status, status.version) == (State.RUNNING, "2")


def test_explicit_rollback_goes_back_one_completed_deployment(tmp_path: Path) -> None:
    provider = RecordingProvider()
    config = config_of(provider, tmp_path)
    run(Cloud.deploy(config, version="1", project_dir=tmp_path))
    run(Cloud.deploy(config, version="2", project_dir=tmp_path))
    run(Cloud.rollback(config, project_dir=tmp_path))
    assert statuses(ledger_of(tmp_path)) == [("1", "running"), ("2", "rolled_back"), ("1", "superseded")]


# --- history beside the state: another clone sees it ------------------------------------------------------------


def test_history_and_lock_in_the_state_bucket_work_from_a_second_clone(
    moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", MOTO_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", MOTO_ACCESS_KEY)
    bucket = f"team-{uuid.uuid4().hex[:10]}"
    moto.client("s3").create_bucket(Bucket=bucket)
    state = {
        "backend": "s3",
        "s3": {"bucket": bucket, "region": "us-east-1", "endpoints": {"s3": moto.url}, "usePathStyle": True},
    }
    laptop, runner = tmp_path / "laptop", tmp_path / "ci-runner"
    laptop.mkdir()
    runner.mkdir()
    provider = RecordingProvider()
    config = config_of(provider, tmp_path, state=state)
    run(Cloud.deploy(config, version="1", project_dir=laptop))
    run(Cloud.deploy(config, version="2", project_dir=laptop))
    assert not (runner / ".state").exists()
    status = run(Cloud.status(config, project_dir=runner))  # a fresh clone, no local files
    assert (status.status, status.version) == (State.RUNNING, "2")
    run(Cloud.rollback(config, project_dir=runner))
    assert [v for v, _ in provider.deployed] == ["1", "2", "1"]
    assert run(Cloud.destroy(config, project_dir=runner)) is True
    ledger = S3Ledger(config.state.s3, app="shop", environment="development")  # type: ignore[arg-type]
    assert [(r.version, r.status) for r in ledger.history("shop", "development")] == [
        ("1", "destroyed"),
        ("2", "rolled_back"),
        ("1", "superseded"),
    ]
    assert not (laptop / ".state").exists()  # all of it in the bucket
    assert not (runner / ".state").exists()
    keys = [o["Key"] for o in moto.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert all(key.startswith("shop/development/_stacks-cloud/deployments/") for key in keys)
