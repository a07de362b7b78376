"""`Cloud` with the guide's `CustomCloudProvider` ported to Python: registration, hooks, errors, rollback."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud import (
    Cloud,
    CloudError,
    CloudProvider,
    CloudProviderError,
    ConfigError,
    DeploymentConfig,
    DeploymentResult,
    DeploymentStatus,
    HookError,
    InfrastructureError,
    State,
)
from stacks_cloud.config import CloudConfig
from stacks_cloud.hooks import hook
from stacks_cloud.models import DeploymentContext
from stacks_cloud.state import SqliteLedger as Ledger


class CustomCloudProvider(CloudProvider):
    """The guide's example, in Python. It keeps what it deployed so the test can look."""

    name = "custom"

    def __init__(self, fail_on_version: str | None = None) -> None:
        self.deployed: list[DeploymentConfig] = []
        self.destroyed: list[str] = []
        self.fail_on_version = fail_on_version

    async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
        if config.version == self.fail_on_version:
            raise CloudProviderError("the custom cloud refused the deployment", provider=self.name)
        resources = await self.create_resources(config)
        self.deployed.append(config)
        return DeploymentResult(success=True, url=resources["url"], deployment_id=config.deployment_id)

    async def destroy(self, deployment_id: str) -> bool:
        self.destroyed.append(deployment_id)
        return True

    async def get_status(self, deployment_id: str) -> DeploymentStatus:
        return DeploymentStatus(status="running", health="healthy")

    async def create_resources(self, config: DeploymentConfig) -> dict[str, str]:
        return {"id": config.deployment_id, "url": "https://app.custom-cloud.com"}


def make_config(provider: CloudProvider, tmp_path: Path, **overrides: Any) -> CloudConfig:
    return CloudConfig.model_validate(
        {
            "appName": "my-app",
            "driver": "custom",
            "providers": {"custom": provider},
            "custom": {"apiKey": "sk-test-123", "region": "us-east-1"},
            "state": {"localDir": str(tmp_path / ".state")},
            **overrides,
        }
    )


def deploy(config: CloudConfig, tmp_path: Path, **options: Any) -> DeploymentResult:
    return asyncio.run(Cloud.deploy(config, project_dir=tmp_path, **options))


def ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / ".state" / "ledger.sqlite")


def test_registered_provider_deploys_with_its_settings(tmp_path: Path) -> None:
    provider = CustomCloudProvider()
    result = deploy(make_config(provider, tmp_path), tmp_path, version="1.0.0")
    assert result.success
    assert result.url == "https://app.custom-cloud.com"
    (received,) = provider.deployed
    assert received.version == "1.0.0"
    assert received.settings is not None
    assert received.settings.api_key is not None
    assert received.settings.api_key.get_secret_value() == "sk-test-123"
    assert received.regions == ["us-east-1"]
    record = ledger(tmp_path).get(result.deployment_id)
    assert record is not None
    assert (record.status, record.version, record.provider, record.url) == (
        "running",
        "1.0.0",
        "custom",
        "https://app.custom-cloud.com",
    )
    status = asyncio.run(Cloud.status(make_config(provider, tmp_path), project_dir=tmp_path))
    assert (status.status, status.health) == (State.RUNNING, "healthy")


def test_unknown_driver_names_what_is_available(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:  # at config time: before any synth or deploy
        CloudConfig.model_validate({"appName": "my-app", "driver": "nimbus", "state": {"localDir": str(tmp_path)}})
    assert error.value.paths == ["driver"]
    assert "'aws'" in str(error.value)
    assert "'terraform'" in str(error.value)


def test_a_provider_without_the_interface_is_a_config_error(tmp_path: Path) -> None:
    class Incomplete:
        async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
            raise AssertionError("never called")

    config = make_config(Incomplete(), tmp_path)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as error:
        deploy(config, tmp_path)
    assert error.value.paths == ["providers.custom"]
    assert "no async destroy, get_status" in str(error.value)


def test_the_guides_error_handling_works_as_written(tmp_path: Path) -> None:
    config = make_config(CustomCloudProvider(fail_on_version="2.0.0"), tmp_path)
    caught = ""
    try:
        deploy(config, tmp_path, version="2.0.0")
    except CloudProviderError as error:
        caught = f"Provider error: {error}"
    except InfrastructureError as error:
        caught = f"Infrastructure error: {error}"
    except Exception as error:
        caught = f"Unknown error: {error}"
    assert caught.startswith("Provider error: the custom cloud refused the deployment (provider=custom)")
    assert issubclass(CloudProviderError, CloudError)
    assert issubclass(HookError, CloudError)


# --- hooks ------------------------------------------------------------------------------------------------


def test_hooks_run_in_order_around_the_deploy_sync_and_async(tmp_path: Path) -> None:
    events: list[str] = []
    provider = CustomCloudProvider()
    original = provider.deploy

    async def deploy_and_note(config: DeploymentConfig) -> DeploymentResult:
        events.append("deploy")
        return await original(config)

    provider.deploy = deploy_and_note  # type: ignore[method-assign]

    def pre_one(context: DeploymentContext) -> None:
        events.append(f"pre-1 {context.version} {context.environment}")

    async def pre_two(context: DeploymentContext) -> None:
        await asyncio.sleep(0.01)
        events.append("pre-2")

    async def post(context: DeploymentContext) -> None:
        events.append(f"post {context.url}")

    config = make_config(provider, tmp_path, hooks={"preDeploy": [pre_one, pre_two], "postDeploy": post})
    deploy(config, tmp_path, version="3.1.0")
    assert events == ["pre-1 3.1.0 development", "pre-2", "deploy", "post https://app.custom-cloud.com"]


def test_pre_deploy_failure_applies_nothing_and_names_the_hook(tmp_path: Path) -> None:
    provider = CustomCloudProvider()
    errors: list[BaseException] = []

    def check_database(context: DeploymentContext) -> None:
        raise RuntimeError("database unreachable")

    def on_error(error: BaseException, context: DeploymentContext) -> None:
        errors.append(error)

    config = make_config(provider, tmp_path, hooks={"preDeploy": check_database, "onError": on_error})
    with pytest.raises(HookError) as error:
        deploy(config, tmp_path)
    assert (error.value.hook, error.value.phase) == ("check_database", "pre_deploy")
    assert "database unreachable" in str(error.value)
    assert provider.deployed == []  # nothing applied
    assert errors == [error.value]  # on_error saw the typed error
    (record,) = ledger(tmp_path).history("my-app", "development")
    assert record.status == "failed"
    assert "check_database" in (record.error or "")


def test_hook_timeout_and_may_fail(tmp_path: Path) -> None:
    events: list[str] = []

    @hook(timeout=0.2, may_fail=True)
    async def slow_optional(context: DeploymentContext) -> None:
        await asyncio.sleep(5)

    @hook(name="flaky", may_fail=True)
    def flaky(context: DeploymentContext) -> None:
        raise RuntimeError("flaked")

    def after(context: DeploymentContext) -> None:
        events.append("after")

    provider = CustomCloudProvider()
    config = make_config(provider, tmp_path, hooks={"postDeploy": [slow_optional, flaky, after]})
    started = time.monotonic()
    result = deploy(config, tmp_path)
    assert result.success
    assert events == ["after"]  # both failures tolerated, the next hook still ran
    assert time.monotonic() - started < 4  # the timeout cut the 5 s hook short

    @hook(timeout=0.2)
    def slow_required(context: DeploymentContext) -> None:
        threading.Event().wait(1)

    config = make_config(provider, tmp_path, hooks={"postDeploy": slow_required})
    with pytest.raises(HookError) as error:
        deploy(config, tmp_path)
    assert (error.value.hook, error.value.phase) == ("slow_required", "post_deploy")
    assert "timed out after 0.2 s" in str(error.value)


def test_hooks_only_run_in_their_environments(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ran: list[str] = []

    @hook(environments={"production"})
    def production_backup(context: DeploymentContext) -> None:
        ran.append(context.environment)

    provider = CustomCloudProvider()
    caplog.set_level(logging.INFO, logger="stacks_cloud")
    deploy(make_config(provider, tmp_path, hooks={"preDeploy": production_backup}), tmp_path)
    assert ran == []
    assert "production_backup skipped: not for development" in caplog.text
    deploy(make_config(provider, tmp_path, environment="production", hooks={"preDeploy": production_backup}), tmp_path)
    assert ran == ["production"]


def test_on_error_rollback_redeploys_the_last_good_version(tmp_path: Path) -> None:
    provider = CustomCloudProvider()
    rolled_back: list[str | None] = []

    async def on_error(error: BaseException, context: DeploymentContext) -> None:
        await context.rollback()
        rolled_back.append(context.rolled_back_to)

    def smoke_test(context: DeploymentContext) -> None:
        if context.version == "2.0.0":
            raise RuntimeError("smoke test failed")

    config = make_config(provider, tmp_path, hooks={"postDeploy": smoke_test, "onError": on_error})
    good = deploy(config, tmp_path, version="1.0.0")
    with pytest.raises(HookError):
        deploy(config, tmp_path, version="2.0.0")
    assert [d.version for d in provider.deployed] == ["1.0.0", "2.0.0", "1.0.0"]
    assert provider.deployed[-1].rollback_of is not None
    assert rolled_back == [good.deployment_id]
    history = ledger(tmp_path).history("my-app", "development")
    assert [(r.version, r.status, r.kind) for r in history] == [
        ("1.0.0", "running", "rollback"),  # the rollback deployment, live now
        ("2.0.0", "rolled_back", "deploy"),
        ("1.0.0", "superseded", "deploy"),  # replaced by its own re-deployment
    ]
    assert history[0].rollback_of == history[1].id


def test_destroy_and_rollback_through_cloud(tmp_path: Path) -> None:
    provider = CustomCloudProvider()
    config = make_config(provider, tmp_path)
    first = deploy(config, tmp_path, version="1")
    deploy(config, tmp_path, version="2")
    result = asyncio.run(Cloud.rollback(config, project_dir=tmp_path))
    assert provider.deployed[-1].version == "1"
    assert result.deployment_id != first.deployment_id
    assert asyncio.run(Cloud.destroy(config, project_dir=tmp_path)) is True
    assert provider.destroyed == [result.deployment_id]
    assert ledger(tmp_path).history("my-app", "development")[0].status == "destroyed"
