"""Rollouts region by region: the config's waves and their checks, the wave plan, and each gate read against its
real counterpart (a local HTTP server for health, moto's CloudWatch for alarms, Python gates), through the bake."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud import CloudConfig, ConfigError
from stacks_cloud.config import RolloutConfig
from stacks_cloud.core.errors import RolloutHaltedError
from stacks_cloud.deploy.rollout import Rollout, plan_waves, rollout_of, select_waves
from stacks_cloud.deploy.snapshots import config_snapshot, restore_config
from stacks_cloud.hooks.base import hook
from stacks_cloud.models import DeploymentConfig, DeploymentContext, GateResult
from stacks_cloud.providers.aws import AwsProvider
from stacks_cloud.state import SqliteLedger
from tests.servers import MOTO_ACCESS_KEY, Moto, RecordingServer

US, EU, AP = "us-east-1", "eu-west-1", "ap-southeast-2"


def config(rollout: dict[str, Any] | None, *, environment: str = "production", **extra: Any) -> CloudConfig:
    return CloudConfig.model_validate(
        {
            "appName": "waves",
            "environment": environment,
            "multiRegion": {"enabled": True, "primaryRegion": US, "replicaRegions": [EU, AP], "rollout": rollout},
            **extra,
        }
    )


def problems(rollout: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        config(rollout)
    return [problem.render() for problem in raised.value.problems]


# --- the config ---------------------------------------------------------------------------------------------------


def test_default_waves_are_the_primary_region_then_the_rest() -> None:
    rollout = config({}).multi_region.rollout
    assert rollout is not None
    assert rollout.region_waves([US, EU, AP]) == [[US], [EU, AP]]
    assert rollout.region_waves([US]) == [[US]]
    assert RolloutConfig(waves="together").region_waves([US, EU, AP]) == [[US, EU, AP]]
    assert (rollout.bake_time, rollout.check_interval, rollout.health) == (timedelta(0), timedelta(seconds=30), True)


def test_every_region_must_be_in_exactly_one_wave() -> None:
    found = problems({"waves": [[US], [EU, US], ["eu-central-1"]]})
    assert "multi_region.rollout.waves.1.1 = 'us-east-1': is already in waves.0. Fix: list each region once." in found
    assert any(
        p.startswith("multi_region.rollout.waves.2.0 = 'eu-central-1': is not one of the app's regions") for p in found
    )
    assert any("leaves out ap-southeast-2: every region of the app must be in one wave" in p for p in found)
    assert problems({"waves": [[US], [], [EU, AP]]}) == [
        "multi_region.rollout.waves.1 = []: is empty. Fix: remove the empty wave."
    ]


def test_bad_timings_environments_and_gates_are_named() -> None:
    found = problems({"checkInterval": 0.2, "bakeTime": -1, "environments": ["prod"], "gates": [lambda context: True]})
    assert any(p.startswith("multi_region.rollout.check_interval = 0.2: must be at least 1 second") for p in found)
    assert any(p.startswith("multi_region.rollout.bake_time = -1.0: is negative") for p in found)
    assert any(
        p.startswith("multi_region.rollout.environments.0 = 'prod': is not one of this app's environments")
        for p in found
    )
    assert any("gates are called as (context, region)" in p for p in found)


def test_a_rollout_applies_only_to_its_environments_and_only_with_multi_region() -> None:
    rollout = {"environments": ["production"]}
    assert config(rollout).multi_region.rollout_for("production") is not None
    assert config(rollout, environment="development").multi_region.rollout_for("development") is None
    single = CloudConfig.model_validate({"appName": "waves", "multiRegion": {"rollout": {}}})
    assert single.multi_region.rollout_for("development") is None


def test_gates_never_reach_the_snapshot_and_come_back_from_the_current_config() -> None:
    async def gate(context: DeploymentContext, region: str) -> bool:
        return True

    current = config({"gates": [gate], "alarms": ["waves-5xx"]})
    snapshot = config_snapshot(current)
    assert snapshot["multi_region"]["rollout"]["alarms"] == ["waves-5xx"]
    assert "gates" not in snapshot["multi_region"]["rollout"]
    restored = restore_config(current, snapshot)
    assert restored.multi_region.rollout is not None
    assert restored.multi_region.rollout.gates == [gate]


# --- the wave plan -----------------------------------------------------------------------------------------------


def test_the_global_stack_follows_the_last_wave_and_only_a_whole_rollout() -> None:
    cloud = config({"waves": [[US], [EU], [AP]]})
    rollout = cloud.multi_region.rollout
    assert rollout is not None
    region_stacks = {region: [f"waves-production-{region}"] for region in cloud.regions}
    every = [*region_stacks[US], *region_stacks[EU], *region_stacks[AP], "waves-production-global"]
    plan = plan_waves(rollout, cloud, region_stacks, every)
    assert [wave.stacks for wave in plan.waves] == [[f"waves-production-{r}"] for r in (US, EU, AP)]
    assert plan.after == ["waves-production-global"]
    part, whole = select_waves(plan, wave=2, regions=None)
    assert ([w.number for w in part.waves], part.after, whole) == ([1, 2], [], False)
    part, whole = select_waves(plan, wave=None, regions=[AP, US])
    assert ([w.regions for w in part.waves], part.after, whole) == ([[US], [AP]], [], False)
    part, whole = select_waves(plan, wave=None, regions=None)
    assert (part.after, whole) == (["waves-production-global"], True)
    with pytest.raises(ConfigError) as raised:
        select_waves(plan, wave=4, regions=["mars-1"])
    assert [p.render() for p in raised.value.problems] == [
        "--wave = 4: is not a wave of this rollout (1 to 3). Fix: pick one of them.",
        "--regions = 'mars-1': is not one of the app's regions. Fix: use some of us-east-1, eu-west-1, ap-southeast-2.",
    ]


def test_wave_or_regions_without_a_rollout_is_a_usage_error() -> None:
    cloud = config({"environments": ["production"]}, environment="development")
    with pytest.raises(ConfigError) as raised:
        rollout_of(AwsProvider(), cloud, wave=1, regions=None)
    assert raised.value.problems[0].path == "--wave"
    assert "'development' rolls out every region at once" in raised.value.problems[0].message
    assert rollout_of(AwsProvider(), cloud, wave=None, regions=None) is None


# --- gates, read against their counterparts, through the bake ---------------------------------------------------


class _Bake:
    """A rollout of `cloud` whose wave 1 has been applied with `outputs`: its bake, and what it recorded."""

    def __init__(self, tmp_path: Path, cloud: CloudConfig, provider: AwsProvider) -> None:
        self.ledger = SqliteLedger(tmp_path / "ledger.sqlite")
        self.ledger.start(
            "d-1", app="waves", environment=cloud.environment, version="1", provider="aws", config_hash="h"
        )
        deploy = DeploymentConfig(
            deployment_id="d-1",
            version="1",
            environment=cloud.environment,
            app_name=cloud.app_name,
            regions=cloud.regions,
            cloud=cloud,
            project_dir=tmp_path,
            work_dir=tmp_path / "work",
        )
        context = DeploymentContext(
            "d-1", "1", cloud.environment, cloud.regions, cloud.app_name, logging.getLogger("t")
        )
        self.events: list[tuple[str, str, str]] = []
        self.lines: list[str] = []
        assert cloud.multi_region.rollout is not None
        self.rollout = Rollout(
            provider,
            cloud.multi_region.rollout,
            deploy,
            context,
            self.ledger,
            say=lambda source, line: self.lines.append(line),
            on_event=lambda stack, event: self.events.append((stack, event["phase"], event["message"] or "")),
        )

    def bake(self, wave: int, outputs: dict[str, dict[str, Any]]) -> None:
        asyncio.run(self.rollout._bake(self.rollout.plan.waves[wave - 1], outputs))

    def gates(self) -> dict[str, dict[str, Any]]:
        record = self.ledger.get("d-1")
        assert record is not None
        assert record.rollout is not None
        return {f"{g['gate']} in {g['region']}": g for wave in record.rollout["waves"] for g in wave["gates"]}


def test_a_region_turning_unhealthy_during_its_bake_halts_at_the_next_check(tmp_path: Path) -> None:
    health = f"/{US}/api/health"
    with RecordingServer({health: [(200, 0), (200, 0), (503, 0)]}) as server:
        cloud = config({"bakeTime": 30, "checkInterval": 1})
        bake = _Bake(tmp_path, cloud, AwsProvider())
        started = time.monotonic()
        with pytest.raises(RolloutHaltedError) as raised:
            bake.bake(1, {f"waves-production-{US}": {"ApiUrl": f"{server.url}/{US}"}})
        elapsed = time.monotonic() - started
    halt = raised.value
    assert (halt.wave, halt.waves, halt.region, halt.gate) == (1, 2, US, "health")
    assert halt.reason == f"waves-production-{US}: GET {server.url}{health}: HTTP 503"
    assert str(halt).startswith(f"waves-production-{US}: rollout halted in wave 1 of 2: gate 'health' failed in {US}")
    assert server.paths() == [health] * 3  # read each second, halted at the first failure: not after 30 s
    assert 1.9 < elapsed < 10
    recorded = bake.gates()[f"health in {US}"]
    assert (recorded["verdict"], recorded["checks"], recorded["reason"]) == ("failed", 3, halt.reason)
    assert [phase for _, phase, _ in bake.events] == ["baking", "baking", "halted"]
    assert "health passed" in bake.events[0][2]
    assert "health failed" in bake.events[1][2]


def test_every_gate_holding_for_the_bake_time_passes_the_wave(
    tmp_path: Path, moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, MOTO_ACCESS_KEY)
    for region in (EU, AP):
        moto.client("cloudwatch", region).put_metric_alarm(
            AlarmName="bake-pass-5xx", MetricName="5XXError", Namespace="AWS/ApiGateway", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        )  # fmt: skip
    moto.client("cloudwatch", EU).set_alarm_state(
        AlarmName="bake-pass-5xx", StateValue="INSUFFICIENT_DATA", StateReason="no datapoints"
    )
    calls: list[str] = []

    @hook(timeout=5)
    async def error_budget(context: DeploymentContext, region: str) -> GateResult:
        calls.append(region)
        return GateResult(passed=True, reason=f"{context.version} within budget in {region}")

    with RecordingServer({f"/{EU}/api/health": [(200, 0)], f"/{AP}/api/health": [(204, 0)]}) as server:
        rollout = {"bakeTime": 2.5, "checkInterval": 1, "alarms": ["bake-pass-5xx"], "gates": [error_budget]}
        cloud = config(rollout, aws={"endpoint": moto.url})
        bake = _Bake(tmp_path, cloud, AwsProvider())
        outputs = {f"waves-production-{r}": {"ApiUrl": f"{server.url}/{r}"} for r in (EU, AP)}
        bake.bake(2, outputs)
    gates = bake.gates()
    assert sorted(gates) == sorted(
        f"{gate} in {region}" for gate in ("health", "alarm bake-pass-5xx", "error_budget") for region in (EU, AP)
    )
    assert {g["verdict"] for g in gates.values()} == {"passed"}
    # read together, each second and once more when the bake time is over: 0, 1, 2 and 2.5 s (less when slow)
    (checks,) = {g["checks"] for g in gates.values()}
    assert 3 <= checks <= 4
    assert gates[f"error_budget in {EU}"]["reason"] == f"1 within budget in {EU}"
    assert gates[f"alarm bake-pass-5xx in {AP}"]["reason"] is None  # OK
    assert gates[f"alarm bake-pass-5xx in {EU}"]["reason"] == "no data yet"  # INSUFFICIENT_DATA does not halt
    assert sorted(set(calls)) == [AP, EU]
    assert len(bake.lines) == 1
    assert re.fullmatch(r"wave 2 of 2 baked [\d.]+s: every gate held", bake.lines[0])
    assert [phase for stack, phase, _ in bake.events if stack.endswith(EU)] == ["baking", "baked"]


def test_an_alarm_firing_or_missing_fails_its_gate(tmp_path: Path, moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, MOTO_ACCESS_KEY)
    cloudwatch = moto.client("cloudwatch", US)
    cloudwatch.put_metric_alarm(
        AlarmName="bake-fire-5xx", MetricName="5XXError", Namespace="AWS/ApiGateway", Statistic="Sum",
        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )  # fmt: skip
    cloudwatch.set_alarm_state(AlarmName="bake-fire-5xx", StateValue="ALARM", StateReason="5XX errors over 1 for 1 min")
    verdicts = asyncio.run(
        AwsProvider().check_alarms(config({}, aws={"endpoint": moto.url}), US, ["bake-fire-5xx", "bake-nowhere"])
    )
    assert verdicts == {
        "bake-fire-5xx": GateResult(passed=False, reason="in ALARM: 5XX errors over 1 for 1 min"),
        "bake-nowhere": GateResult(passed=False, reason=f"no alarm named 'bake-nowhere' in {US}"),
    }


@pytest.mark.parametrize(
    ("answer", "verdict", "reason"),
    [
        (None, "passed", None),
        (False, "failed", "returned False"),
        ("ok", "failed", "returned 'ok': a gate returns True, False, None or a GateResult"),
        (ValueError("p99 latency 2300 ms > 800 ms"), "failed", "raised ValueError: p99 latency 2300 ms > 800 ms"),
        ("sleep", "failed", "timed out after 1s"),
    ],
)
def test_a_python_gate_fails_on_false_a_wrong_answer_an_exception_or_a_timeout(
    tmp_path: Path, answer: object, verdict: str, reason: str | None
) -> None:
    @hook(timeout=1)
    async def latency(context: DeploymentContext, region: str) -> Any:
        if answer == "sleep":
            await asyncio.sleep(5)
        if isinstance(answer, Exception):
            raise answer
        return answer

    bake = _Bake(tmp_path, config({"health": False, "gates": [latency]}), AwsProvider())
    if verdict == "failed":
        with pytest.raises(RolloutHaltedError) as raised:
            bake.bake(1, {})
        assert (raised.value.gate, raised.value.reason) == ("latency", reason)
    else:
        bake.bake(1, {})
    assert (bake.gates()[f"latency in {US}"]["verdict"], bake.gates()[f"latency in {US}"]["reason"]) == (
        verdict,
        reason,
    )


def test_a_region_without_a_health_check_passes_it_as_not_applicable(tmp_path: Path) -> None:
    bake = _Bake(tmp_path, config({}), AwsProvider())
    bake.bake(1, {f"waves-production-{US}": {"BucketName": "b"}})
    assert bake.gates()[f"health in {US}"]["verdict"] == "not applicable"
