"""What a user sees, against moto with two regions and a global stack, through the `cloud` console script
and plain cdktf: plans that name resources, actions and attributes; a reviewed plan applied as saved;
drift; the CI lines and the live view under a pseudo-terminal; status per region; failures with the next
step; `cdktf diff` and `cdktf deploy` as the README shows them.

The tests share one project and its deployments, in file order (each step builds on the one before).
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Moto
from tests.test_main import copy_project

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

CLI = Path(sys.executable).with_name("cloud")
README = Path(__file__).resolve().parent.parent / "README.md"
APP = "pland"
ZONE = "pland.test"
US, EU, GLOBAL = (f"{APP}-development-{suffix}" for suffix in ("us-east-1", "eu-west-1", "global"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

CONFIG = """
import os

MOTO = {moto!r}

CLOUD = {{
    "appName": "{app}",
    "multiRegion": {{
        "enabled": True,
        "primaryRegion": "us-east-1",
        "replicaRegions": ["eu-west-1"],
        "routing": "latency",
        "domainName": "api.{zone}",
    }},
    "api": {{"memorySize": int(os.environ.get("E2E_MEMORY", "512"))}},
    "state": {{"localDir": ".state"}},
    "aws": {{"endpoint": MOTO, "s3UsePathStyle": True, "skipAwsChecks": True}},
}}
"""

NO_BUCKET = """
MOTO = {moto!r}
CLOUD = {{
    "appName": "{app}",
    "multiRegion": {{"enabled": False}},
    "state": {{
        "backend": "s3",
        "s3": {{"bucket": "{app}-missing-state", "region": "us-east-1", "usePathStyle": True, "skipAwsChecks": True,
               "endpoints": {{"s3": MOTO, "sts": MOTO, "iam": MOTO, "dynamodb": MOTO}}}},
    }},
    "aws": {{"endpoint": MOTO, "s3UsePathStyle": True, "skipAwsChecks": True}},
}}
"""


@dataclass
class Project:
    root: Path
    moto: Moto
    env: dict[str, str]

    def cloud(self, *args: str, memory: int = 512, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *args],
            cwd=self.root,
            env={**self.env, "E2E_MEMORY": str(memory)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def memory(self, region: str) -> int:
        function = self.moto.client("lambda", region).get_function_configuration(FunctionName=f"{APP}-development-api")
        return int(function["MemorySize"])


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, moto: Moto, tf_env: dict[str, str]) -> Project:
    root = copy_project(tmp_path_factory.mktemp("plan-drift"))
    if not (root / "node_modules" / ".bin" / "cdktf").exists():
        pytest.skip("the cdktf CLI is not installed: run ./scripts/setup")
    (root / "e2e_config.py").write_text(CONFIG.format(moto=moto.url, app=APP, zone=ZONE))
    (root / "no_bucket.py").write_text(NO_BUCKET.format(moto=moto.url, app=APP))
    moto.client("route53").create_hosted_zone(Name=ZONE, CallerReference=f"{APP}-e2e")
    env = moto.aws_env({**os.environ, **tf_env, "CI": "1", "CLOUD_CONFIG": "e2e_config.py"})
    env.pop("APP_ENV", None)
    return Project(root, moto, env)


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def by_stack(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {summary["stack"]: summary for summary in data["stacks"]}


def stack_lines(stderr: str, stack: str) -> list[str]:
    """The CI lines of one stack, its name (given once at the start) removed, durations as N."""
    prefix = f"[{stack}] "
    return [
        re.sub(r"\b\d+s\b", "Ns", line.removeprefix(prefix)) for line in stderr.splitlines() if line.startswith(prefix)
    ]


def test_a_new_environment_plans_every_stack_and_saves_the_plans(project: Project) -> None:
    result = ok(project.cloud("--json", "plan", "--detailed-exitcode", "--out", "plans"), 2)
    data = json.loads(result.stdout)
    assert (data["environment"], data["changes"]) == ("development", True)
    stacks = by_stack(data)
    assert list(stacks) == [EU, US, GLOBAL]  # the regions, then the stack that reads them
    for name in (US, EU):
        regional = stacks[name]
        assert regional["error"] is None
        assert regional["deployed"] is False
        assert regional["add"] == len(regional["resources"]) > 30
        assert {r["action"] for r in regional["resources"]} == {"create"}
        assert "aws_lambda_function.Api_Function_FF61B543" in {r["address"] for r in regional["resources"]}
    routing = stacks[GLOBAL]
    assert routing["error"] is None  # not "No stored state was found"
    assert routing["note"].startswith(f"{EU}, {US} are not deployed yet: every resource is shown to create")
    assert routing["add"] == len(routing["resources"]) > 0
    meta = json.loads((project.root / "plans" / "plan.json").read_text())
    assert meta["app"] == APP
    assert {name: plan["saved"] for name, plan in meta["plans"].items()} == {US: True, EU: True, GLOBAL: False}


def test_the_reviewed_plans_are_applied_as_saved_with_ci_lines(project: Project) -> None:
    result = ok(project.cloud("deploy", "--plan", "plans", "--version", "v1"))
    lines = stack_lines(result.stderr, US)
    planned = json.loads((project.root / "plans" / "plan.json").read_text())["plans"][US]["add"]
    assert lines[:3] == ["init", "apply: the saved plan", f"plan: {planned} to add, 0 to change, 0 to destroy"]
    assert lines[-1] == f"deployed: +{planned} ~0 -0 in Ns"
    assert sum(line.endswith("creating") for line in lines) == planned
    assert stack_lines(result.stderr, GLOBAL)[:2] == [
        "init",
        "refresh and plan (no saved plan: planned when its dependencies were not deployed)",
    ]
    for line in result.stderr.splitlines():
        if line.startswith("["):
            assert line.count(f"{APP}-development-") <= 1, line  # the stack is named once
    assert re.search(rf"{US}\s+us-east-1\s+deployed\s+\+{planned} ~0 -0\s+\d+s\s+https://", result.stderr)
    assert result.stdout.startswith("deployed development-")
    assert project.memory("us-east-1") == 512
    # applied: the same plans cannot be applied twice (terraform refuses a stale plan)
    again = project.cloud("--json", "deploy", "--plan", "plans", "--version", "v1-again")
    assert again.returncode == 1, again.stderr
    failure = json.loads(again.stdout.strip().splitlines()[-1])
    assert "Saved plan is stale" in failure["error"]
    assert (failure["version"], failure["environment"]) == ("v1-again", "development")
    assert failure["deployment_id"].startswith("development-")
    assert failure["stack"] in (US, EU)


def test_plans_show_the_resource_the_action_and_the_attribute(project: Project) -> None:
    unchanged = ok(project.cloud("plan", "--detailed-exitcode"))
    assert unchanged.stdout.splitlines() == [f"{EU}: no changes", f"{US}: no changes", f"{GLOBAL}: no changes"]

    # one stack from here on (`--stacks`): the same plan, a third of the time
    changed = ok(project.cloud("plan", "--stacks", US, "--detailed-exitcode", memory=1024), 2)
    assert changed.stdout.splitlines() == [
        f"{US}: 0 to add, 1 to change, 0 to destroy",
        "    ~ aws_lambda_function.Api_Function_FF61B543  update in place",
        "        memory_size: 512 -> 1024",
    ]
    # In a pipe the plan keeps stdout for itself; each stack's phases go to stderr as they happen.
    phases = [line for line in changed.stderr.splitlines() if line.startswith(f"[{US}] ")]
    assert phases[:2] == [f"[{US}] init", f"[{US}] refresh and plan"], changed.stderr
    assert re.fullmatch(rf"\[{US}\] planned: \+0 ~1 -0 in \d+s", phases[-1]), changed.stderr
    # without --detailed-exitcode, changes are not a failure (exit 0)
    data = json.loads(ok(project.cloud("--json", "plan", "--stacks", US, memory=1024)).stdout)
    (function,) = by_stack(data)[US]["resources"]
    assert function["action"] == "update"
    assert function["attributes"] == [
        {"path": "memory_size", "before": 512, "after": 1024, "forces_replacement": False}
    ]


def test_drift_is_reported_with_the_attribute_until_re_applied(project: Project) -> None:
    sqs = project.moto.client("sqs")
    queue = sqs.get_queue_url(QueueName=f"{APP}-development-jobs")["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "45"})  # behind terraform's back

    drift = ok(project.cloud("drift"), 2)
    assert drift.stdout.splitlines() == [
        f"{EU}: no drift",
        f"{US}: 1 drifted",
        "    ~ aws_sqs_queue.JobsQueue_315937AB  changed outside Terraform",
        "        visibility_timeout_seconds: 300 -> 45",
        f"{GLOBAL}: no drift",
    ]
    data = json.loads(ok(project.cloud("--json", "drift", "--stacks", US), 2).stdout)
    assert data["drifted"] is True
    assert [d["address"] for d in by_stack(data)[US]["drift"]] == ["aws_sqs_queue.JobsQueue_315937AB"]

    # A deploy with a code change re-applies the queue: two resources change in us-east-1.
    deploy = ok(project.cloud("deploy", "--version", "v2", memory=1024))
    lines = stack_lines(deploy.stderr, US)
    assert lines[:3] == ["init", "refresh and plan", "plan: 0 to add, 2 to change, 0 to destroy"]
    events = lines[3:7]
    assert sorted(line for line in events if line.endswith("updating")) == [
        "aws_lambda_function.Api_Function: updating",
        "aws_sqs_queue.JobsQueue: updating",
    ]
    assert len([line for line in events if re.search(r": updated \([12]/2, Ns\)$", line)]) == 2
    assert lines[7:] == ["deployed: +0 ~2 -0 in Ns"]  # a two-resource change: eight lines, nothing else
    assert project.memory("us-east-1") == 1024

    after = ok(project.cloud("drift", memory=1024))
    assert after.stdout.splitlines() == [f"{EU}: no drift", f"{US}: no drift", f"{GLOBAL}: no drift"]


def test_status_per_region_with_outputs_urls_and_health(project: Project) -> None:
    status = json.loads(ok(project.cloud("status", "--json")).stdout)  # the global option after the command
    assert (status["status"], status["version"], status["environment"]) == ("running", "v2", "development")
    regions = {entry["stack"]: entry for entry in status["regions"]}
    assert [regions[name]["region"] for name in (US, EU, GLOBAL)] == ["us-east-1", "eu-west-1", None]
    for name in (US, EU):
        assert regions[name]["url"].startswith("https://")
        assert regions[name]["outputs"]["BucketName"] == f"{name.replace('-development-', '-development-assets-')}"
        # moto's execute-api hosts are fake: each region's health check fails, and says which
        assert regions[name]["health"] == "unhealthy"
        assert regions[name]["health_reason"].startswith(f"GET {regions[name]['url']}/api/health: ")
    assert US in status["health_reason"]
    assert EU in status["health_reason"]
    assert regions[GLOBAL]["url"] == f"https://api.{ZONE}"
    text = ok(project.cloud("status")).stdout
    assert re.search(rf"us-east-1\s+{US}: deployed, health unhealthy\n\s+why GET https://\S+/api/health: ", text)
    assert re.search(rf"global\s+{GLOBAL}: deployed", text)


def run_in_a_terminal(project: Project, *args: str, memory: int) -> tuple[int, str]:
    """Run `cloud` under a pseudo-terminal (as a user's shell does); its exit code and screen output."""
    env = {key: value for key, value in project.env.items() if key != "CI"}
    env |= {"E2E_MEMORY": str(memory), "COLUMNS": "160", "LINES": "40", "TERM": "xterm-256color"}
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes `cloud` on the terminal
        os.chdir(project.root)
        os.execve(str(CLI), [str(CLI), *args], env)
    output = bytearray()
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")


def test_the_live_view_under_a_terminal(project: Project) -> None:
    code, screen = run_in_a_terminal(project, "deploy", "--version", "v3", memory=768)
    assert code == 0, screen
    plain = ANSI.sub("", screen)
    assert "\x1b[" in screen  # redrawn in place, not printed line by line
    assert f"[{US}]" not in plain  # no CI lines on a terminal
    assert re.search(r"stack\s+phase\s+resources\s+elapsed\s+now", plain)
    assert re.search(r"us-east-1\s+apply\s+0/1\s+\d+s\s+updating aws_lambda_function.Api_Function", plain), plain
    assert re.search(r"us-east-1\s+deployed\s+1/1\s+\d+s", plain)
    assert re.search(rf"{US}\s+us-east-1\s+deployed\s+\+0 ~1 -0\s+\d+s\s+https://", plain)
    # the global stack's Terraform did not change: skipped, with its URL from the live deployment
    assert re.search(rf"{GLOBAL}\s+global\s+unchanged\s+-\s+\d+s\s+https://api.{ZONE}", plain), plain
    assert project.memory("eu-west-1") == 768
    (project.root.parent / "live-view.txt").write_text(plain)  # kept with the test's files, for the README


def test_a_failure_names_its_cause_once_and_the_next_step(project: Project) -> None:
    plan = ok(project.cloud("--config", "no_bucket.py", "plan", "--detailed-exitcode"), 1)
    assert plan.stdout.count(f'S3 bucket "{APP}-missing-state" does not exist') == 1
    assert "next: the state bucket does not exist: `cloud bootstrap` creates it" in plan.stdout


def test_plain_cdktf_as_the_readme_shows_it(project: Project) -> None:
    """The README's "Plain cdktf" block, line by line, with this app's name for `my-app`."""
    text = README.read_text()
    block = text.split("### Plain cdktf", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].strip().replace("my-app", APP) for line in block.splitlines()]
    commands = [command for command in commands if command]
    assert commands[0] == "source scripts/env.sh"
    results = {}
    for command in commands[1:]:
        results[command.split()[1]] = subprocess.run(
            ["bash", "-c", f"source scripts/env.sh && {command}"],
            cwd=project.root,
            env={**project.env, "E2E_MEMORY": "640"},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    for name, result in results.items():
        assert result.returncode == 0, f"cdktf {name}:\n{result.stdout}\n{result.stderr}"
    assert (project.root / "cdktf.out" / "stacks" / US / "cdk.tf.json").is_file()
    diff = ANSI.sub("", results["diff"].stdout)
    assert re.search(r"~ memory_size\s+= 768 -> 640", diff), diff
    assert "Could not retrieve providers for locking" not in diff
    assert project.memory("us-east-1") == 640  # cdktf deploy applied it
    assert project.memory("eu-west-1") == 768  # one stack, as asked
