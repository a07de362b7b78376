"""The guide's `CustomCloudProvider` (providers/custom_provider.py), registered as in config/cloud.py and chosen
with `driver: "custom"`, deploys, reports and destroys through a real HTTP deployment API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from config.cloud import load_config
from stacks_cloud import Cloud, CloudProviderError, ConfigError, State
from stacks_cloud.state import SqliteLedger as Ledger
from tests.servers import CustomCloudServer

API_KEY = "ck-live-0f1e2d3c4b5a"


def custom_config(endpoint: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_config(
        "staging",
        overrides={
            "driver": "custom",
            "custom": {"apiKey": API_KEY, "region": "eu-west-1", "endpoint": endpoint},
            "hooks": {},
            "state": {"localDir": str(tmp_path / ".state")},
        },
    )


def test_deploy_status_and_destroy_through_the_custom_clouds_api(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with CustomCloudServer(API_KEY) as cloud:
        config = custom_config(cloud.url, tmp_path)
        result = asyncio.run(Cloud.deploy(config, version="2.1.0", project_dir=tmp_path))
        assert result.success
        assert result.url == "https://my-app.custom-cloud.test"
        assert cloud.deployments == {
            result.deployment_id: {
                "app": "my-app",
                "environment": "staging",
                "version": "2.1.0",
                "region": "eu-west-1",
                "status": "running",
                "health": "healthy",
            }
        }
        status = asyncio.run(Cloud.status(config, project_dir=tmp_path))
        assert (status.status, status.health) == (State.RUNNING, "healthy")
        assert asyncio.run(Cloud.destroy(config, project_dir=tmp_path)) is True
        assert cloud.deployments == {}
        assert [(r.method, r.path.rsplit("/", 1)[0]) for r in cloud.requests] == [
            ("PUT", "/deployments"),
            ("GET", "/deployments"),
            ("DELETE", "/deployments"),
        ]
    record = Ledger(tmp_path / ".state" / "ledger.sqlite").get(result.deployment_id)
    assert record is not None
    assert (record.status, record.provider, record.url) == ("destroyed", "custom", result.url)
    assert API_KEY not in caplog.text


def test_a_wrong_api_key_is_a_provider_error_that_does_not_show_the_key(tmp_path: Path) -> None:
    with CustomCloudServer("the-right-key") as cloud:
        config = custom_config(cloud.url, tmp_path)
        with pytest.raises(CloudProviderError) as error:
            asyncio.run(Cloud.deploy(config, version="1", project_dir=tmp_path))
    assert "refused (HTTP 401): check the apiKey" in str(error.value)
    assert error.value.provider == "custom"
    assert API_KEY not in str(error.value)


def test_the_custom_section_is_validated_when_custom_is_the_driver(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(overrides={"driver": "custom", "custom": {"region": "eu-wst-1"}})
    assert error.value.paths == ["custom.region"]
    config = load_config(overrides={"driver": "custom", "custom": {}, "state": {"localDir": str(tmp_path)}})
    with pytest.raises(ConfigError) as missing:
        asyncio.run(Cloud.deploy(config, project_dir=tmp_path))
    assert missing.value.paths == ["custom.api_key"]
