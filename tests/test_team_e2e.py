"""A team deploys one environment from two clones (a laptop and a CI runner), for real: the `cloud` CLI, cdktf
synth, terraform, the S3 backend and ledger in a moto state bucket, two regions of the guide's stack.

The tests run in order and share the environment, as a team's day does: Ctrl-C in the middle of the first
deploy; the other clone converges it; two deploys at once; a killed CLI whose terraform finishes on its own; a
crash that leaves state locks (`cloud unlock --stack`); rollback and destroy from the clone that never deployed.

Deploys pass `--skip-checks`: the policy gate is `test_policy_cli.py`'s subject, here it would only add a
checkov scan (~4 CPU-s) to each of a dozen deploys. What a killed first create leaves unrecorded is
`test_team_import_e2e.py`'s (an environment of its own, so that it runs beside this file on another worker).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud.config import S3StateSettings, StateEndpoints
from stacks_cloud.state import S3Ledger, pid_alive
from tests.servers import Moto
from tests.test_main import copy_project

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

PROJECT_DIR = Path(__file__).resolve().parent.parent
CLI = Path(sys.executable).with_name("cloud")
REGIONS = ("us-east-1", "eu-west-1")
STACKS = tuple(f"team-development-{region}" for region in REGIONS)

CONFIG = """
import os

MOTO = {moto!r}
CLOUD = {{
    "appName": "team",
    # The guide's multi-region config, without a domain: two regional stacks, no global routing stack.
    "multiRegion": {{"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": ["eu-west-1"]}},
    "api": {{"memorySize": int(os.environ.get("E2E_MEMORY", "512"))}},
    # Changing the queue takes ~25 s per region (the provider waits for SQS to propagate it): a window to kill in.
    "jobs": {{"visibilityTimeout": int(os.environ.get("E2E_VISIBILITY", "300"))}},
    "state": {{
        "backend": "s3",
        "s3": {{
            "bucket": {bucket!r},
            "region": "us-east-1",
            "endpoints": {{"s3": MOTO, "sts": MOTO, "iam": MOTO, "dynamodb": MOTO}},
            "usePathStyle": True,
            "skipAwsChecks": True,
        }},
    }},
    "aws": {{"endpoint": MOTO, "s3UsePathStyle": True, "skipAwsChecks": True}},
}}
"""


@dataclass
class Clone:
    """One checkout of the project, with its own (initially empty) local folders."""

    name: str
    root: Path
    config_file: Path
    env: dict[str, str]

    def command(self, *args: str) -> list[str]:
        return [str(CLI), "--config", str(self.config_file), *args]

    def run(
        self, *args: str, memory: int = 512, visibility: int = 300, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.root,
            env={**self.env, "E2E_MEMORY": str(memory), "E2E_VISIBILITY": str(visibility)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, memory: int, log: Path, visibility: int = 300) -> subprocess.Popen[bytes]:
        """Start a command in its own process group (as a terminal's foreground job), output to `log`."""
        with log.open("wb") as sink:
            return subprocess.Popen(
                self.command(*args),
                cwd=self.root,
                env={**self.env, "E2E_MEMORY": str(memory), "E2E_VISIBILITY": str(visibility)},
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


@dataclass
class Team:
    moto: Moto
    bucket: str
    laptop: Clone
    runner: Clone
    work: Path

    @property
    def ledger(self) -> S3Ledger:
        settings = S3StateSettings(
            bucket=self.bucket, region="us-east-1", endpoints=StateEndpoints(s3=self.moto.url), use_path_style=True
        )
        return S3Ledger(settings, app="team", environment="development", client=self.moto.client("s3"))

    def keys(self, suffix: str = "") -> list[str]:
        listed = self.moto.client("s3").list_objects_v2(Bucket=self.bucket, Prefix="team/development/")
        return [o["Key"] for o in listed.get("Contents", []) if o["Key"].endswith(suffix)]

    def state(self, stack: str) -> dict[str, Any]:
        body = self.moto.client("s3").get_object(Bucket=self.bucket, Key=f"team/development/{stack}.tfstate")
        data: dict[str, Any] = json.loads(body["Body"].read())
        return data

    def visibility(self, region: str) -> int:
        queue = self.moto.client("sqs", region).get_queue_url(QueueName="team-development-jobs")["QueueUrl"]
        attributes = self.moto.client("sqs", region).get_queue_attributes(
            QueueUrl=queue, AttributeNames=["VisibilityTimeout"]
        )["Attributes"]
        return int(attributes["VisibilityTimeout"])

    def function_names(self, region: str) -> list[str]:
        functions = self.moto.client("lambda", region).list_functions()["Functions"]
        return sorted(f["FunctionName"] for f in functions if f["FunctionName"].startswith("team-"))

    def memory(self, region: str) -> int:
        function = self.moto.client("lambda", region).get_function_configuration(FunctionName="team-development-api")
        return int(function["MemorySize"])


@pytest.fixture(scope="module")
def team(moto: Moto, tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]) -> Team:
    return make_team(moto, tmp_path_factory.mktemp("team"), tf_env)


def make_team(moto: Moto, work: Path, tf_env: dict[str, str]) -> Team:
    """Two clones of the project in `work`, sharing the name of a new state bucket (not yet bootstrapped)."""
    if not (PROJECT_DIR / "node_modules" / ".bin" / "cdktf").exists():
        pytest.skip("the cdktf CLI is not installed: run ./scripts/setup")
    bucket = f"team-state-{uuid.uuid4().hex[:8]}"
    config_file = work / "team_config.py"
    config_file.write_text(CONFIG.format(moto=moto.url, bucket=bucket))
    env = moto.aws_env({k: v for k, v in os.environ.items() if not k.startswith("E2E_") and k != "APP_ENV"})
    env |= {"CI": "1", "TF_CLI_CONFIG_FILE": tf_env["TF_CLI_CONFIG_FILE"]}
    # The tests SIGKILL a CLI and its terraform on purpose: what the killed processes leave in their temp
    # folder (the jsii kernel's folder, terraform's plugin sockets) stays in this test's folder.
    scratch = work / "tmp"
    scratch.mkdir()
    env["TMPDIR"] = str(scratch)
    clones = []
    for name in ("laptop", "runner"):
        folder = work / name
        folder.mkdir()
        clones.append(Clone(name, copy_project(folder), config_file, env))
    return Team(moto, bucket, clones[0], clones[1], work)


def wait_for(log: Path, patterns: list[str], timeout: float = 300) -> str:
    """Wait until `log` has a line matching each of the regular expressions `patterns`; return the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if all(re.search(pattern, content, re.M) for pattern in patterns):
            return content
        time.sleep(0.2)
    raise AssertionError(f"{log.name} never showed {patterns}:\n{log.read_text(errors='replace')[-3000:]}")


def creating(stack: str, kind: str) -> str:
    return rf"^\[{re.escape(stack)}\] {kind}\.\S+: creating$"


def modifying(stack: str, kind: str) -> str:
    return rf"^\[{re.escape(stack)}\] {kind}\.\S+: updating$"


def managed(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [resource for resource in state["resources"] if resource["mode"] == "managed"]


def names_in_state(team: Team, kind: str, attribute: str) -> list[str]:
    return sorted(
        str(instance["attributes"][attribute])
        for stack in STACKS
        for resource in managed(team.state(stack))
        if resource["type"] == kind
        for instance in resource["instances"]
    )


def test_ctrl_c_in_the_middle_of_the_first_regional_applies(team: Team) -> None:
    bootstrap = team.laptop.run("--json", "bootstrap")
    assert bootstrap.returncode == 0, bootstrap.stderr
    log = team.work / "interrupted.log"
    first, second = sorted(STACKS)  # one stack at a time: the second waits for the first
    deploy = team.laptop.start("deploy", "--skip-checks", "--version", "v1", "--concurrency", "1", memory=512, log=log)
    # The SQS queue takes ~25 s to create (the provider waits for its attributes): the first stack is mid-apply.
    wait_for(log, [creating(first, "aws_sqs_queue")])
    os.killpg(deploy.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the CLI's whole process group
    assert deploy.wait(timeout=300) == 130
    output = log.read_text()
    assert "SIGINT: stopping. No new stack starts; running terraform finishes its stack" in output
    assert "Traceback" not in output
    assert "BrokenPipeError" not in output
    assert "Interrupt received" not in output  # terraform was left to finish, not interrupted
    assert re.search(rf"^\[{re.escape(first)}\] deployed: \+\d+ ~0 -0 in \d+s$", output, re.M), output
    assert f"[{second}]" not in output  # never started
    (record,) = team.ledger.history("team", "development")
    assert (record.version, record.status) == ("v1", "interrupted")
    assert {stack: run["status"] for stack, run in record.stacks.items()} == {first: "deployed"}
    assert team.keys(".tflock") == []  # no state lock left
    assert team.keys("lock.json") == []  # and the environment lock is released
    region_of = {stack: stack.removeprefix("team-development-") for stack in STACKS}
    assert team.function_names(region_of[first]) == ["team-development-api"]
    assert team.function_names(region_of[second]) == []


def test_the_other_clone_converges_it_with_no_duplicates_or_orphans(team: Team) -> None:
    deploy = team.runner.run("--json", "deploy", "--skip-checks", "--version", "v1")
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr
    assert "warning: multiRegion: latency routing needs `domainName`" in deploy.stderr
    assert sorted(json.loads(deploy.stdout)["outputs"]) == sorted(STACKS)
    for region in REGIONS:
        queues = team.moto.client("sqs", region).list_queues(QueueNamePrefix="team-").get("QueueUrls", [])
        names = sorted(url.rsplit("/", 1)[1] for url in queues)
        assert names == ["team-development-jobs", "team-development-jobs-dead-letters"]  # each once
        functions = team.moto.client("lambda", region).list_functions()["Functions"]
        assert sorted(f["FunctionName"] for f in functions if f["FunctionName"].startswith("team-")) == [
            "team-development-api"
        ]
    roles = [r["RoleName"] for r in team.moto.client("iam").list_roles()["Roles"] if r["RoleName"].startswith("team-")]
    assert sorted(roles) == names_in_state(team, "aws_iam_role", "name")  # every role in AWS is in a state
    assert sorted(roles) == sorted(  # each once: the function's role, and API Gateway's logging role
        [f"team-development-api-{region}" for region in REGIONS]
        + [f"team-development-{region}-apigw" for region in REGIONS]
    )
    assert [(r.version, r.status) for r in team.ledger.history("team", "development")] == [
        ("v1", "running"),
        ("v1", "interrupted"),
    ]


def test_the_laptop_sees_what_the_runner_deployed(team: Team) -> None:
    status = team.laptop.run("--json", "status")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert (data["status"], data["version"], data["lock"]) == ("running", "v1", None)
    assert set(data["stacks"].values()) == {"deployed"}


def test_two_deploys_started_together_exactly_one_runs(team: Team) -> None:
    logs = [team.work / f"together-{clone.name}.log" for clone in (team.laptop, team.runner)]
    runs = [
        clone.start("deploy", "--skip-checks", "--version", f"v2-{clone.name}", memory=768, log=log)
        for clone, log in zip((team.laptop, team.runner), logs, strict=True)
    ]
    codes = [run.wait(timeout=900) for run in runs]
    assert sorted(codes) == [0, 1], [log.read_text()[-2000:] for log in logs]
    refused = logs[codes.index(1)].read_text()
    winner = ("laptop", "runner")[codes.index(0)]
    assert "is locked by another run: deploy development-" in refused
    assert "(pid " in refused  # the holder: deployment id, user@host, pid, since when
    assert "@" in refused
    history = team.ledger.history("team", "development")
    assert [(r.version, r.status) for r in history[:2]] == [(f"v2-{winner}", "running"), ("v1", "superseded")]
    assert all(team.memory(region) == 768 for region in REGIONS)
    assert team.keys("lock.json") == []
    assert team.keys(".tflock") == []


def test_a_second_ctrl_c_interrupts_terraform_once_and_the_next_deploy_converges(team: Team) -> None:
    log = team.work / "double-ctrl-c.log"
    deploy = team.laptop.start("deploy", "--skip-checks", "--version", "v2b", memory=768, visibility=200, log=log)
    wait_for(log, [modifying(stack, "aws_sqs_queue") for stack in STACKS])
    time.sleep(3)  # well into the update (the provider then waits for the attributes to propagate)
    os.killpg(deploy.pid, signal.SIGINT)
    time.sleep(1)
    os.killpg(deploy.pid, signal.SIGINT)
    assert deploy.wait(timeout=300) == 130
    output = log.read_text()
    assert "SIGINT again: interrupting terraform" in output
    assert output.count("Interrupt received") == len(STACKS)  # each terraform got SIGINT exactly once
    assert "Two interrupts received" not in output
    assert team.keys(".tflock") == []
    assert team.keys("lock.json") == []
    assert team.ledger.history("team", "development")[0].status == "interrupted"
    again = team.runner.run("deploy", "--skip-checks", "--version", "v2b", memory=768, visibility=200)
    assert again.returncode == 0, again.stderr
    assert all(team.visibility(region) == 200 for region in REGIONS)
    assert all(team.function_names(region) == ["team-development-api"] for region in REGIONS)


def stack_pids(team: Team) -> list[int]:
    holder = team.ledger.read_lock("team", "development")
    return list(holder.children) if holder else []


def test_a_killed_cli_leaves_terraform_to_finish_and_the_next_run_takes_over(team: Team) -> None:
    log = team.work / "killed-cli.log"
    deploy = team.laptop.start("deploy", "--skip-checks", "--version", "v3", memory=1024, visibility=120, log=log)
    wait_for(log, [modifying(stack, "aws_sqs_queue") for stack in STACKS])
    children = stack_pids(team)
    assert len(children) == 2, "the lock names both running terraform processes"
    deploy.send_signal(signal.SIGKILL)  # the CLI only: terraform runs in its own process group
    deploy.wait(timeout=60)
    # Hold the orphaned terraform still while the other clone tries, so it is certainly still running
    # then (its remaining provider waits are ~25 s, shorter than a busy machine's CLI start-up).
    for pid in children:
        os.kill(pid, signal.SIGSTOP)
    try:
        status = json.loads(team.runner.run("--json", "status").stdout)
        assert status["lock"]["stale"] is True
        assert status["lock"]["deployment_id"].startswith("development-")
        early = team.runner.run("deploy", "--skip-checks", "--version", "v3", memory=1024, visibility=120)
        assert early.returncode == 1, early.stdout + early.stderr
        assert "its terraform is still finishing (pid" in early.stderr
    finally:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    wait_gone(children, timeout=300)  # terraform finishes on its own, writes its state, releases its lock
    assert team.keys(".tflock") == []
    assert all(team.memory(region) == 1024 for region in REGIONS)  # the killed deploy's change was applied
    deploy_again = team.runner.run("deploy", "--skip-checks", "--version", "v3", memory=1024, visibility=120)
    assert deploy_again.returncode == 0, deploy_again.stderr
    assert "stopped without finishing; recording it as interrupted" in deploy_again.stderr
    assert [(r.version, r.status) for r in team.ledger.history("team", "development")[:2]] == [
        ("v3", "running"),
        ("v3", "interrupted"),
    ]


def wait_gone(pids: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(pid_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not any(pid_alive(pid) for pid in pids)


def test_a_crash_that_kills_terraform_too_leaves_locks_that_unlock_clears(team: Team) -> None:
    log = team.work / "crash.log"
    deploy = team.laptop.start("deploy", "--skip-checks", "--version", "v4", memory=256, visibility=60, log=log)
    wait_for(log, [modifying(stack, "aws_sqs_queue") for stack in STACKS])
    children = stack_pids(team)
    for pid in [deploy.pid, *children]:  # the machine goes away: everything dies at once
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    deploy.wait(timeout=60)
    wait_gone(children)
    left = sorted(team.keys(".tflock"))
    assert left, "terraform killed while holding its S3 state locks leaves them"
    refused = team.runner.run("deploy", "--skip-checks", "--version", "v4", memory=256, visibility=60)
    assert refused.returncode == 1
    assert "stack state lock(s) are held" in refused.stderr
    for key in left:
        stack = key.rsplit("/", 1)[1].removesuffix(".tfstate.tflock")
        lock_id = json.loads(team.moto.client("s3").get_object(Bucket=team.bucket, Key=key)["Body"].read())["ID"]
        assert f"{stack}: lock {lock_id}" in refused.stderr
        assert "cloud unlock --stack NAME" in refused.stderr
    stacks = [key.rsplit("/", 1)[1].removesuffix(".tfstate.tflock") for key in left]
    unlock = team.runner.run("unlock", *(arg for stack in stacks for arg in ("--stack", stack)), "--yes")
    assert unlock.returncode == 0, unlock.stderr
    assert team.keys(".tflock") == []
    converged = team.runner.run("--json", "deploy", "--skip-checks", "--version", "v4", memory=256, visibility=60)
    assert converged.returncode == 0, converged.stderr
    assert all(team.memory(region) == 256 for region in REGIONS)
    statuses = [(r.version, r.status) for r in team.ledger.history("team", "development")[:2]]
    assert statuses == [("v4", "running"), ("v4", "interrupted")]


def test_rollback_status_and_destroy_from_the_clone_that_never_deployed_first(team: Team) -> None:
    rollback = team.runner.run("--json", "rollback", memory=256, visibility=60)  # the current config is v4's
    assert rollback.returncode == 0, rollback.stderr
    assert all(team.memory(region) == 1024 for region in REGIONS)  # v3's configuration, exactly
    assert all(team.visibility(region) == 120 for region in REGIONS)
    status = json.loads(team.laptop.run("--json", "status").stdout)
    assert (status["version"], status["status"]) == ("v3", "running")
    destroy = team.runner.run("destroy", "--yes")
    assert destroy.returncode == 0, destroy.stderr
    for region in REGIONS:
        functions = team.moto.client("lambda", region).list_functions()["Functions"]
        assert [f for f in functions if f["FunctionName"].startswith("team-")] == []
    refused = team.laptop.run("rollback")
    assert refused.returncode == 2
    assert "pass --recreate" in refused.stderr
    assert not (team.laptop.root / ".state").exists()
    assert not (team.runner.root / ".state").exists()
