"""A team on Terraform Cloud shares its history and its lock there, as a team on S3 does: two clones (a laptop
and a CI runner) of one project, `state.backend = "cloud"` on the TFE test server, the `terraform` driver's
stacks in two regions (terraform_data: the guarantees under test are the engine's, not AWS's).

In order, sharing the environment as a team's day does: the runner deploys and the laptop, with no local
files, sees it; two deploys started together, exactly one runs and the other is refused at once naming
the holder; a CLI killed while it holds the lock, taken over by the other clone; rollback and destroy from
the laptop. Nothing is kept in either clone's `.state`.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud.config import CloudStateSettings
from stacks_cloud.state.cloud.ledger import TfcLedger, ledger_workspace
from stacks_cloud.terraform import discover_provider_mirror
from stacks_cloud.terraform.tfe_api import TfeClient
from tests.test_main import copy_project
from tests.tfe_server import TfeServer

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

CLI = Path(sys.executable).with_name("cloud")
ORG = "acme"
STACKS = ("crew-development-us-east-1", "crew-development-eu-west-1")

CONFIG = """
import os
import time


def hold(context):
    # E2E_HOLD seconds in the pre-deploy hook: the environment lock is held meanwhile.
    time.sleep(float(os.environ.get("E2E_HOLD", "0")))
    if os.environ.get("E2E_HELD_UNTIL"):  # when the hold ended, on the machine's monotonic clock
        with open(os.environ["E2E_HELD_UNTIL"], "w") as out:
            out.write(repr(time.monotonic()))


CLOUD = {{
    "appName": "crew",
    "driver": "terraform",
    "multiRegion": {{"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": ["eu-west-1"]}},
    "state": {{"backend": "cloud", "cloud": {{"organization": "{org}", "hostname": "{host}"}}}},
    "hooks": {{"preDeploy": [hold]}},
}}
"""


@dataclass
class Clone:
    name: str
    root: Path
    env: dict[str, str]

    def run(self, *args: str, hold: float = 0, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *args],
            cwd=self.root,
            env={**self.env, "E2E_HOLD": str(hold)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self, *args: str, hold: float, log: Path, held_until: Path | None = None) -> subprocess.Popen[bytes]:
        marker = {"E2E_HELD_UNTIL": str(held_until)} if held_until else {}
        with log.open("wb") as sink:
            return subprocess.Popen(
                [str(CLI), *args],
                cwd=self.root,
                env={**self.env, "E2E_HOLD": str(hold), **marker},
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


@dataclass
class Team:
    server: TfeServer
    laptop: Clone
    runner: Clone
    work: Path

    @property
    def ledger(self) -> TfcLedger:
        context = ssl.create_default_context(cafile=str(self.server.ca_file))
        client = TfeClient(self.server.hostname, self.server.token, context=context)
        settings = CloudStateSettings(organization=ORG, hostname=self.server.hostname)
        return TfcLedger(client, settings, app="crew", environment="development")

    def versions(self) -> list[str]:
        return [str(state["outputs"]["Version"]["value"]) for state in map(self.state, STACKS) if state]

    def state(self, stack: str) -> dict[str, Any] | None:
        return self.server.current_state(ORG, stack)


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    work = tmp_path_factory.mktemp("team-cloud")
    mirror = discover_provider_mirror()
    with TfeServer([ORG], work_dir=work, mirror=mirror, default_execution_mode="local") as server:
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(server.cli_config(work / "cli.tfrc", mirror=mirror)),
            "SSL_CERT_FILE": str(server.ca_file),
            "CHECKPOINT_DISABLE": "1",
            "CI": "1",
            "CLOUD_CONFIG": "team_config.py",
            # what the deliberately killed CLI leaves (its jsii kernel's folder) stays in the test's folder
            "TMPDIR": str(work / "tmp"),
        }
        (work / "tmp").mkdir()
        env.pop("APP_ENV", None)
        clones = []
        for name in ("laptop", "runner"):
            root = copy_project(work / name)
            (root / "team_config.py").write_text(CONFIG.format(org=ORG, host=server.hostname))
            clones.append(Clone(name, root, env))
        yield Team(server, clones[0], clones[1], work)


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_the_laptop_sees_what_the_runner_deployed(team: Team) -> None:
    ok(team.runner.run("deploy", "--version", "v1", "--skip-checks"))
    status = json.loads(ok(team.laptop.run("--json", "status")).stdout)
    assert (status["status"], status["version"], status["lock"]) == ("running", "v1", None)
    assert set(status["stacks"].values()) == {"deployed"}
    # each stack's record says where its state is: the workspace and the state version the apply wrote
    (record,) = status["history"]
    for stack in STACKS:
        workspace = team.server.workspace(ORG, stack)
        assert workspace is not None
        assert record["stacks"][stack]["run"]["state_version"] == workspace.current_state
        assert record["stacks"][stack]["run"]["url"].endswith(
            f"/app/{ORG}/workspaces/{stack}/states/{workspace.current_state}"
        )
    shown = ok(team.laptop.run("status")).stdout
    assert f"applied https://{team.server.hostname}/app/{ORG}/workspaces/{STACKS[0]}/states/sv-" in shown, shown
    assert team.server.workspace(ORG, ledger_workspace("crew", "development")) is not None
    assert not (team.laptop.root / ".state").exists()
    assert not (team.runner.root / ".state").exists()


def test_two_deploys_started_together_exactly_one_runs(team: Team) -> None:
    clones = (team.laptop, team.runner)
    logs = [team.work / f"together-{clone.name}.log" for clone in clones]
    held = [team.work / f"together-{clone.name}.held" for clone in clones]
    started = time.monotonic()
    runs = [
        clone.start("deploy", "--version", f"v2-{clone.name}", "--skip-checks", hold=10, log=log, held_until=until)
        for clone, log, until in zip(clones, logs, held, strict=True)
    ]
    ended: dict[int, tuple[int, float]] = {}
    while len(ended) < 2:
        for index, run in enumerate(runs):
            if index not in ended and run.poll() is not None:
                ended[index] = (run.returncode, time.monotonic())
        time.sleep(0.1)
    codes = [ended[0][0], ended[1][0]]
    assert sorted(codes) == [0, 1], [log.read_text()[-2000:] for log in logs]
    loser = codes.index(1)
    refused = logs[loser].read_text()
    winner = ("laptop", "runner")[codes.index(0)]
    assert "is locked by another run: deploy development-" in refused
    assert f"by {os.environ.get('USER', '')}" in refused or "@" in refused  # the holder: user@host, pid, since
    assert "(pid " in refused
    # refused at once: it ended while the winner still held the lock in its hook, it did not wait for the lock
    # (both clocks are the machine's monotonic one, so this holds however slowly the two CLIs started)
    assert not held[loser].exists()  # the loser never reached its hooks
    winner_held_until = float(held[codes.index(0)].read_text())
    assert ended[loser][1] < winner_held_until, (ended[loser][1] - started, winner_held_until - started)
    print(f"refused after {ended[loser][1] - started:.1f} s: {refused.strip().splitlines()[-1]}")
    history = team.ledger.history("crew", "development")
    assert [(r.version, r.status) for r in history[:2]] == [(f"v2-{winner}", "running"), ("v1", "superseded")]
    assert team.versions() == [f"v2-{winner}"] * 2
    assert team.ledger.read_lock("crew", "development") is None


def test_a_killed_cli_is_taken_over_by_the_other_clone(team: Team) -> None:
    log = team.work / "killed.log"
    deploy = team.laptop.start("deploy", "--version", "v3", "--skip-checks", hold=60, log=log)
    deadline = time.monotonic() + 120

    def in_its_hook() -> bool:  # the lock is taken, then the deployment recorded, then the hooks run
        newest = team.ledger.history("crew", "development", limit=1)
        return bool(newest) and newest[0].version == "v3" and newest[0].status == "pending"

    while not in_its_hook() and time.monotonic() < deadline:
        time.sleep(0.5)
    holder = team.ledger.read_lock("crew", "development")
    assert holder is not None
    assert holder.pid == deploy.pid
    os.killpg(deploy.pid, signal.SIGKILL)  # the CLI dies with the lock held (in its pre-deploy hook)
    deploy.wait(timeout=60)
    status = json.loads(ok(team.runner.run("--json", "status")).stdout)
    assert status["lock"]["stale"] is True
    taken = ok(team.runner.run("deploy", "--version", "v3", "--skip-checks"))
    assert "stopped without finishing; recording it as interrupted" in taken.stderr
    assert [(r.version, r.status) for r in team.ledger.history("crew", "development")[:2]] == [
        ("v3", "running"),
        ("v3", "interrupted"),
    ]
    assert team.versions() == ["v3", "v3"]


def test_rollback_and_destroy_from_the_other_clone(team: Team) -> None:
    ok(team.laptop.run("rollback"))
    assert team.versions() == ["v2-laptop"] * 2 or team.versions() == ["v2-runner"] * 2  # the completed one before v3
    status = json.loads(ok(team.runner.run("--json", "status")).stdout)
    assert status["version"].startswith("v2-")
    ok(team.laptop.run("destroy", "--yes"))
    for stack in STACKS:
        state = team.state(stack)
        assert state is not None
        assert [r for r in state["resources"] if r["mode"] == "managed"] == []
    refused = ok(team.runner.run("rollback"), 2)
    assert "pass --recreate" in refused.stderr
    assert not (team.laptop.root / ".state").exists()
    assert not (team.runner.root / ".state").exists()
