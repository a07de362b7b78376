"""The built-in `aws` provider: the project's stacks (its `CloudApp`) deployed with the cdktf CLI."""

from __future__ import annotations

import asyncio
import os
import urllib.error
import urllib.request
from typing import Any, ClassVar

from pydantic import BaseModel

from stacks_cloud.cdk import App
from stacks_cloud.config import AwsSettings, CloudConfig
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.secrets import register_secret
from stacks_cloud.models import DeploymentConfig, GateResult, Health, HealthCheck
from stacks_cloud.providers.cdktf_stacks import CdktfStacksProvider

RUN_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


class AwsProvider(CdktfStacksProvider):
    """Deploys the project's regional stack per region and the global stack; health from each region's API."""

    name: ClassVar[str] = "aws"
    settings_model: ClassVar[type[BaseModel] | None] = AwsSettings
    health_timeout: float = 5.0

    def build(self, config: DeploymentConfig, app: App) -> None:
        project_app = self.runtime.app
        if project_app is None or project_app.stack is None:
            raise ConfigError(
                "project",
                [
                    Problem(
                        "main.py",
                        None,
                        "declares no app with a regional stack, which the 'aws' driver deploys.",
                        "define `app = CloudApp(config=CLOUD, stack=YourStack)` in the project's main.py,"
                        " or pass app=... to Cloud.deploy.",
                    )
                ],
            )
        project_app.build(config.cloud, app=app, project_dir=config.project_dir)

    def run_environment(self, config: CloudConfig) -> dict[str, str]:
        """The AWS credentials of this machine's environment, for runs in Terraform Cloud (copied to each
        workspace as sensitive variables): `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, and
        `AWS_SESSION_TOKEN` when set. A profile or an SSO login cannot travel: export the keys."""
        missing = [name for name in RUN_CREDENTIALS if not os.environ.get(name)]
        if missing:
            raise ConfigError(
                "Terraform Cloud run environment",
                [
                    Problem(
                        name,
                        None,
                        "is not set: the stacks run in Terraform Cloud (state.cloud.executionMode"
                        f" {config.state.cloud.execution_mode if config.state.cloud else 'remote'!r}), and their"
                        " runs get the AWS credentials from this environment as sensitive workspace variables.",
                        'export the keys the runs should use (e.g. `eval "$(aws configure export-credentials'
                        ' --format env)"`), then deploy again.',
                    )
                    for name in missing
                ],
            )
        names = [*RUN_CREDENTIALS, *(["AWS_SESSION_TOKEN"] if os.environ.get("AWS_SESSION_TOKEN") else [])]
        environment = {name: os.environ[name] for name in names}
        for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if name in environment:
                register_secret(environment[name])
        return environment

    def url_from(self, outputs: dict[str, dict[str, Any]]) -> str | None:
        """The global stack's URL; without one, the API URL of the first region in the config's order (the
        primary region's), whatever order the stacks finished in."""
        for stack, values in outputs.items():
            if stack.endswith("-global") and "Url" in values:
                return str(values["Url"])
        urls = {stack: str(values["ApiUrl"]) for stack, values in outputs.items() if "ApiUrl" in values}
        if not urls:
            return None
        cloud = self.runtime.cloud if self.attached else None  # not attached: the stacks' names' order
        order = self.stack_names(cloud) if cloud is not None else []
        first = min(urls, key=lambda stack: (order.index(stack) if stack in order else len(order), stack))
        return urls[first]

    async def stacks_health(self, outputs: dict[str, dict[str, Any]]) -> dict[str, Health]:
        return {stack: check.health for stack, check in (await self.check_health(outputs)).items()}

    async def check_health(self, outputs: dict[str, dict[str, Any]]) -> dict[str, HealthCheck]:
        """Each regional stack's health from its own API's health-check endpoint (the global stack's
        routing follows the same checks), with what the check got when it is not healthy; stacks
        without an API: unknown."""
        cloud = self.runtime.cloud if self.attached else None
        path = cloud.multi_region.health_check_path if cloud is not None else "/api/health"
        urls = {stack: f"{values['ApiUrl']}{path}" for stack, values in outputs.items() if "ApiUrl" in values}
        results = await asyncio.gather(*(asyncio.to_thread(self._check, url) for url in urls.values()))
        checked = dict(zip(urls, results, strict=True))
        return {stack: checked.get(stack, HealthCheck()) for stack in outputs}

    async def check_alarms(self, config: CloudConfig, region: str, names: list[str]) -> dict[str, GateResult]:
        """Each CloudWatch alarm in `region` (`DescribeAlarms`, metric and composite): failed when it is in
        ALARM, or when no alarm has that name (a gate that cannot be read must not pass)."""
        return await asyncio.to_thread(self._alarms, config, region, names)

    def _alarms(self, config: CloudConfig, region: str, names: list[str]) -> dict[str, GateResult]:
        import boto3  # only a rollout with alarms needs it

        client = boto3.client("cloudwatch", region_name=region, endpoint_url=config.aws.endpoint or None)
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(names), 100):  # DescribeAlarms takes up to 100 names
            pages = client.get_paginator("describe_alarms").paginate(
                AlarmNames=names[start : start + 100], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
            )
            for page in pages:
                for alarm in [*page.get("MetricAlarms", []), *page.get("CompositeAlarms", [])]:
                    found[alarm["AlarmName"]] = alarm
        verdicts = {}
        for name in names:
            alarm = found.get(name)
            if alarm is None:
                verdicts[name] = GateResult(passed=False, reason=f"no alarm named {name!r} in {region}")
            elif alarm["StateValue"] == "ALARM":
                verdicts[name] = GateResult(passed=False, reason=f"in ALARM: {alarm.get('StateReason', '')}".strip())
            else:
                verdicts[name] = GateResult(passed=True, reason=None if alarm["StateValue"] == "OK" else "no data yet")
        return verdicts

    def stack_url(self, stack: str, outputs: dict[str, Any]) -> str | None:
        value = outputs.get("Url" if stack.endswith("-global") else "ApiUrl")
        return str(value) if value else None

    def _check(self, url: str) -> HealthCheck:
        """GET `url`: healthy on a 2xx or 3xx answer; otherwise unhealthy, with what came back."""
        try:
            with urllib.request.urlopen(url, timeout=self.health_timeout) as response:
                status = int(response.status)
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            return HealthCheck(health=Health.UNHEALTHY, reason=f"GET {url}: {reason or type(error).__name__}")
        if 200 <= status < 400:
            return HealthCheck(health=Health.HEALTHY)
        return HealthCheck(health=Health.UNHEALTHY, reason=f"GET {url}: HTTP {status}")
