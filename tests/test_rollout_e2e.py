"""Rollouts region by region through the `cloud` CLI, against moto, with a local HTTP server standing in for the
regions' health endpoints and error budgets, and an alarm in moto's CloudWatch: a three-region rollout in two waves
that completes; one halted because the first region turned unhealthy during its bake (rolled back, the second
wave never started); one interrupted during a bake and continued; one stopped after its first wave on purpose and
continued; a development environment without waves deploying as before.

The project is small on purpose (one tagged S3 bucket per region, whose `release` tag says which release a region
runs, and the region's API URL as an output): what is tested is the engine's order, gates and record. The tests
share one project and its deployments, in file order (each step builds on the one before).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud.models import DeploymentRecord
from stacks_cloud.state import SqliteLedger
from tests.servers import Moto, RecordingServer
from tests.test_main import PROJECT_DIR

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

CLI = Path(sys.executable).with_name("cloud")
US, EU, AP = "us-east-1", "eu-west-1", "ap-southeast-2"
REGIONS = (US, EU, AP)

MAIN = '''
import os
import sys

from rollout_config import CLOUD
from stacks_cloud import CloudApp, RegionalStack
from stacks_cloud.cdk import TerraformOutput
from stacks_cloud.cdk.aws import s3_bucket


class ReleaseStack(RegionalStack):
    """A bucket whose `release` tag is the release a region runs, and the region's API URL."""

    def __init__(self, scope, stack_id, props):
        super().__init__(scope, stack_id, props)
        s3_bucket.S3Bucket(
            self,
            "Release",
            bucket=f"waves-{props.environment}-{props.region}",
            tags={"release": os.environ["E2E_RELEASE"]},
        )
        TerraformOutput(self, "ApiUrl", value=f"{os.environ['E2E_HEALTH']}/{props.region}")


app = CloudApp(config=CLOUD, stack=ReleaseStack)

if __name__ == "__main__":
    sys.exit(app.main())
'''

CONFIG = '''
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from stacks_cloud.models import GateResult

MOTO = {moto!r}


def error_budget(context, region):
    """A Python gate: the region's error budget, as its metrics service reports it."""
    try:
        with urllib.request.urlopen(f"{{os.environ['E2E_HEALTH']}}/{{region}}/budget", timeout=5):
            return True
    except urllib.error.HTTPError as error:
        return GateResult(passed=False, reason=f"error budget spent (HTTP {{error.code}})")


def record_failure(error, context):
    """The on-error hook: what it was told about a halted rollout."""
    seen = {{name: getattr(error, name, None) for name in ("wave", "region", "gate", "reason", "rolled_back_to")}}
    with Path("on_error.jsonl").open("a") as log:
        log.write(json.dumps({{"deployment": context.deployment_id, **seen}}) + "\\n")


CLOUD = {{
    "appName": "waves",
    "multiRegion": {{
        "enabled": True,
        "primaryRegion": "{us}",
        "replicaRegions": ["{eu}", "{ap}"],
        "rollout": {{
            "waves": [["{us}"], ["{eu}", "{ap}"]],
            "bakeTime": float(os.environ.get("E2E_BAKE", "1.5")),
            "checkInterval": 1,
            "alarms": ["waves-5xx"],
            "gates": [error_budget],
            "environments": ["production"],
        }},
    }},
    "state": {{"localDir": ".state"}},
    "aws": {{"endpoint": MOTO, "s3UsePathStyle": True, "skipAwsChecks": True}},
    "hooks": {{"onError": record_failure}},
}}
'''


@dataclass
class Project:
    root: Path
    moto: Moto
    health: RecordingServer
    env: dict[str, str]

    def environment(self, release: str, bake: float) -> dict[str, str]:
        return {**self.env, "E2E_RELEASE": release, "E2E_BAKE": str(bake)}

    def cloud(self, *args: str, release: str, bake: float = 1.5) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *args],
            cwd=self.root,
            env=self.environment(release, bake),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    def start(self, *args: str, release: str, bake: float, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as sink:
            return subprocess.Popen(
                [str(CLI), *args],
                cwd=self.root,
                env=self.environment(release, bake),
                stdout=subprocess.DEVNULL,
                stderr=sink,
                start_new_session=True,
            )

    def releases(self, environment: str = "production") -> dict[str, str]:
        """The `release` tag of each region's bucket, as moto has it."""
        found = {}
        for region in REGIONS:
            tags = self.moto.client("s3", region).get_bucket_tagging(Bucket=f"waves-{environment}-{region}")
            found[region] = {tag["Key"]: tag["Value"] for tag in tags["TagSet"]}["release"]
        return found

    def history(self, environment: str = "production") -> list[DeploymentRecord]:
        return SqliteLedger(self.root / ".state" / "ledger.sqlite").history("waves", environment)

    def set_health(self, region: str, status: int) -> None:
        self.health.responses[f"/{region}/api/health"] = [(status, 0)]


def stack(region: str, environment: str = "production") -> str:
    return f"waves-{environment}-{region}"


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def wait_for(log: Path, pattern: str, process: subprocess.Popen[bytes], timeout: float = 300) -> float:
    """Wait until `log` has a line matching `pattern`; the time it was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, log.read_text(errors="replace"), re.M):
            return time.monotonic()
        assert process.poll() is None, f"exited {process.returncode} before {pattern!r}:\n{log.read_text()}"
        time.sleep(0.05)
    raise AssertionError(f"{pattern!r} not seen in {timeout}s:\n{log.read_text()}")


def gates_of(record: DeploymentRecord, wave: int) -> dict[str, dict[str, Any]]:
    assert record.rollout is not None
    (found,) = [w for w in record.rollout["waves"] if w["wave"] == wave]
    return {f"{g['gate']} in {g['region']}": g for g in found["gates"]}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, moto: Moto, tf_env: dict[str, str]) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("rollout") / "project"
    root.mkdir()
    (root / "cdktf.json").write_text((PROJECT_DIR / "cdktf.json").read_text())
    (root / "main.py").write_text(MAIN)
    (root / "rollout_config.py").write_text(CONFIG.format(moto=moto.url, us=US, eu=EU, ap=AP))
    for region in REGIONS:
        moto.client("cloudwatch", region).put_metric_alarm(
            AlarmName="waves-5xx", MetricName="5XXError", Namespace="AWS/ApiGateway", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        )  # fmt: skip
    responses = {f"/{region}/{path}": [(200, 0.0)] for region in REGIONS for path in ("api/health", "budget")}
    with RecordingServer(responses) as health:
        env = moto.aws_env({**os.environ, **tf_env, "CI": "1", "E2E_HEALTH": health.url})
        for name in ("APP_ENV", "CLOUD_CONFIG"):
            env.pop(name, None)
        yield Project(root, moto, health, env)


def test_a_three_region_rollout_in_two_waves_completes_with_each_gate_verdict_recorded(project: Project) -> None:
    result = ok(project.cloud("deploy", "--env", "production", "--version", "v1", "--skip-checks", release="v1"))
    lines = result.stderr.splitlines()

    def first(pattern: str) -> int:
        return next(index for index, line in enumerate(lines) if re.search(pattern, line))

    # wave 2 starts only after wave 1 baked; its two regions go together
    assert first(r"^\[rollout\] wave 1 of 2: us-east-1$") < first(rf"^\[{stack(US)}\] ")
    assert first(rf"^\[{stack(US)}\] wave 1 of 2: baked [\d.]+s, 3 gate\(s\) held, read \d+ times$") < first(
        r"^\[rollout\] wave 2 of 2: "
    )
    baked = first(r"^\[rollout\] wave 1 of 2 baked [\d.]+s: every gate held$")
    assert baked < first(r"^\[rollout\] wave 2 of 2: eu-west-1, ap-southeast-2$")
    assert baked < min(first(rf"^\[{stack(EU)}\] "), first(rf"^\[{stack(AP)}\] "))
    assert re.search(
        rf"^\[{stack(EU)}\] wave 2 of 2: baking until [\d:]+: health passed, alarm waves-5xx passed,"
        r" error_budget passed$",
        result.stderr,
        re.M,
    ), result.stderr
    assert project.releases() == {US: "v1", EU: "v1", AP: "v1"}
    (record,) = project.history()
    assert record.status == "running"
    assert record.rollout is not None
    assert [(w["wave"], w["regions"], w["status"]) for w in record.rollout["waves"]] == [
        (1, [US], "passed"),
        (2, [EU, AP], "passed"),
    ]
    assert record.rollout["complete"] is True
    for wave, regions in ((1, [US]), (2, [EU, AP])):
        verdicts = gates_of(record, wave)
        assert sorted(verdicts) == sorted(
            f"{gate} in {region}" for gate in ("health", "alarm waves-5xx", "error_budget") for region in regions
        )
        assert {v["verdict"] for v in verdicts.values()} == {"passed"}, verdicts
        # read right after the apply and each second until the bake time (1.5 s) was over: once or more
        (wave_record,) = [w for w in record.rollout["waves"] if w["wave"] == wave]
        assert wave_record["baked_seconds"] >= 1.5
        assert all(v["checks"] >= 1 for v in verdicts.values())


def test_a_region_turning_unhealthy_during_its_bake_halts_the_rollout_and_rolls_its_wave_back(
    project: Project, tmp_path: Path
) -> None:
    (live,) = project.history()
    log = tmp_path / "halt.log"
    deploy = project.start(
        "deploy", "--env", "production", "--version", "v2", "--skip-checks", release="v2", bake=60, log=log
    )
    try:
        wait_for(log, rf"^\[{stack(US)}\] wave 1 of 2: baking until", deploy)
        project.set_health(US, 503)  # the new release breaks the first region's API
        turned = time.monotonic()
        halted = wait_for(log, rf"^\[{stack(US)}\] gate health failed: ", deploy)
        assert deploy.wait(timeout=300) == 1
    finally:
        project.set_health(US, 200)
        if deploy.poll() is None:
            os.killpg(deploy.pid, signal.SIGKILL)
    output = log.read_text()
    print(f"from the region turning unhealthy to the halt: {halted - turned:.2f}s (check interval 1 s)")
    assert halted - turned < 10
    assert "Traceback" not in output
    assert re.search(
        rf"rollout halted in wave 1 of 2: gate 'health' failed in {US}: {stack(US)}: GET http://127\.0\.0\.1:\d+/{US}"
        r"/api/health: HTTP 503",
        output,
    ), output
    assert f"the deployed waves were rolled back to {live.id} (what was live)" in output
    # wave 2 never started, and the rollback applied again only the region the halted run touched
    assert f"[{stack(EU)}]" not in output
    assert f"[{stack(AP)}]" not in output
    assert project.releases() == {US: "v1", EU: "v1", AP: "v1"}  # the first region runs the live release again
    rollback, halted_record, _ = project.history()
    assert (halted_record.status, halted_record.version) == ("halted", "v2")
    assert halted_record.rollout is not None
    assert halted_record.rollout["halted"]["region"] == US
    assert halted_record.rollout["halted"]["gate"] == "health"
    assert [w["status"] for w in halted_record.rollout["waves"]] == ["halted", "pending"]
    assert gates_of(halted_record, 1)[f"health in {US}"]["verdict"] == "failed"
    assert set(halted_record.stacks) == {stack(US)}
    assert f"rolled back to {live.id}" in (halted_record.error or "")
    assert (rollback.kind, rollback.status, rollback.rollback_of, rollback.version) == (
        "rollback",
        "running",
        halted_record.id,
        "v1",
    )
    assert f"[{stack(US)}] rolled back: +0 ~1 -0 in " in output  # the live view's row ends rolled back
    status = ok(project.cloud("status", "--env", "production", release="v2")).stdout
    assert (
        f"rollout: wave 1 (us-east-1) halted {halted_record.rollout['waves'][0]['baked_seconds']:g}s, wave 2"
        f" (eu-west-1, ap-southeast-2) not started; gate health failed in us-east-1: {stack(US)}: GET "
    ) in status
    assert {name: run["status"] for name, run in rollback.stacks.items()} == dict.fromkeys(
        map(stack, REGIONS), "deployed"
    )
    assert rollback.stacks[stack(EU)]["seconds"] == 0  # as the live deployment left it: recorded, not applied
    (told,) = [json.loads(line) for line in (project.root / "on_error.jsonl").read_text().splitlines()]
    assert told == {
        "deployment": halted_record.id,
        "wave": 1,
        "region": US,
        "gate": "health",
        "reason": halted_record.rollout["halted"]["reason"],
        "rolled_back_to": live.id,
    }


def test_a_rollout_interrupted_during_a_bake_is_continued_by_the_next_deploy(project: Project, tmp_path: Path) -> None:
    log = tmp_path / "interrupted.log"
    deploy = project.start(
        "deploy", "--env", "production", "--version", "v3", "--skip-checks", release="v3", bake=60, log=log
    )
    try:
        wait_for(log, rf"^\[{stack(US)}\] wave 1 of 2: baking until", deploy)
        os.killpg(deploy.pid, signal.SIGINT)  # Ctrl-C during the bake
        assert deploy.wait(timeout=120) == 130
    finally:
        if deploy.poll() is None:
            os.killpg(deploy.pid, signal.SIGKILL)
    assert "Traceback" not in log.read_text()
    interrupted = project.history()[0]
    assert interrupted.status == "interrupted"
    assert interrupted.rollout is not None
    assert [w["status"] for w in interrupted.rollout["waves"]] == ["interrupted", "pending"]
    assert project.releases() == {US: "v3", EU: "v1", AP: "v1"}
    status = json.loads(ok(project.cloud("status", "--env", "production", "--json", release="v3")).stdout)
    assert status["unfinished"]["deployment_id"] == interrupted.id
    assert "continues the rollout" in status["unfinished"]["next_step"]

    result = ok(project.cloud("deploy", "--env", "production", "--version", "v3", "--skip-checks", release="v3"))
    assert (
        f"[rollout] continuing {interrupted.id} (interrupted): 1 stack(s) it applied are not applied again"
        in result.stderr
    )
    assert f"[{stack(US)}] applied by the earlier run of this release: skipped" in result.stderr
    assert re.search(r"^\[rollout\] wave 1 of 2 baked [\d.]+s: every gate held$", result.stderr, re.M)  # baked again
    assert project.releases() == {US: "v3", EU: "v3", AP: "v3"}
    continued = project.history()[0]
    assert continued.status == "running"
    assert continued.rollout is not None
    assert continued.rollout["continues"] == interrupted.id


def test_a_rollout_stopped_after_its_first_wave_on_purpose_is_continued(project: Project) -> None:
    first = ok(
        project.cloud("deploy", "--env", "production", "--version", "v4", "--skip-checks", "--wave", "1", release="v4")
    )
    assert "next: `cloud deploy` of the same release continues the rollout" in first.stdout
    assert project.releases() == {US: "v4", EU: "v3", AP: "v3"}
    partial = project.history()[0]
    assert partial.status == "partial"
    status = json.loads(ok(project.cloud("status", "--env", "production", "--json", release="v4")).stdout)
    assert status["version"] == "v3"  # the live deployment is still the last complete one
    assert status["unfinished"]["next_step"].startswith("wave(s) 1 of 2 passed: `cloud deploy` of the same release")

    rest = ok(project.cloud("deploy", "--env", "production", "--version", "v4", "--skip-checks", release="v4"))
    assert f"[rollout] wave 1 of 2 (us-east-1): passed in {partial.id}, skipped" in rest.stderr
    assert "wave 1 of 2 baked" not in rest.stderr
    assert project.releases() == {US: "v4", EU: "v4", AP: "v4"}
    assert project.history()[0].status == "running"
    asked = len(project.health.requests)
    again = ok(project.cloud("deploy", "--env", "production", "--version", "v4", "--skip-checks", release="v4"))
    for wave in ("1 of 2", "2 of 2"):  # nothing applied: nothing new to watch
        assert f"[rollout] wave {wave}: unchanged since the live deployment, not baked" in again.stderr
    assert len(project.health.requests) == asked
    bad = project.cloud("deploy", "--env", "production", "--wave", "3", "--skip-checks", release="v4")
    assert bad.returncode == 2, bad.stderr
    assert "--wave = 3: is not a wave of this rollout (1 to 2). Fix: pick one of them." in bad.stderr


def test_a_development_environment_without_waves_deploys_every_region_at_once(project: Project) -> None:
    asked = len(project.health.requests)
    result = ok(project.cloud("deploy", "--env", "development", "--version", "d1", "--skip-checks", release="d1"))
    assert "[rollout]" not in result.stderr
    assert "baking" not in result.stderr
    assert len(project.health.requests) == asked  # no gate was read
    lines = result.stderr.splitlines()
    starts = [
        next(i for i, line in enumerate(lines) if line.startswith(f"[{stack(r, 'development')}] ")) for r in REGIONS
    ]
    done = min(i for i, line in enumerate(lines) if re.search(r"\] deployed: ", line))
    assert max(starts) < done  # every region started before any finished: all at once, as before
    assert project.releases("development") == {US: "d1", EU: "d1", AP: "d1"}
    (record,) = project.history("development")
    assert (record.status, record.rollout) == ("running", None)
