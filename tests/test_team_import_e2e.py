"""What a CLI killed with its terraform during the first create of a stack leaves unrecorded: named with the
command to import each resource, imported round by round as printed, never created twice (issue 26).

An environment of its own (its own moto server and state bucket, the `team` app of `test_team_e2e.py` in
two clones): it needs none of that file's history, and so runs beside it on another worker. Its deploys skip
the policy gate (`--skip-checks`), as that file's do.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import moto_server
from tests.test_team_e2e import REGIONS, STACKS, Team, make_team, stack_pids, wait_for, wait_gone

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, tf_env: dict[str, str]) -> Iterator[Team]:
    work = tmp_path_factory.mktemp("team-import")
    with moto_server(work) as moto:  # its own: no other file's REST APIs in us-east-1
        yield make_team(moto, work, tf_env)


IMPORT = re.compile(r"cd (?P<dir>\S+) && terraform import '(?P<address>[^']+)' '(?P<id>[^']+)'")


def _rest_apis(team: Team, region: str) -> list[str]:
    return [api["id"] for api in team.moto.client("apigateway", region).get_rest_apis()["items"]]


def test_what_a_killed_first_create_left_unrecorded_is_named_and_imported_not_duplicated(team: Team) -> None:
    """Issue 26, finding 9: everything dies during the first create of a stack. A REST API's id is picked by
    AWS, so no name collides: terraform's own log of the killed apply names it. The next deploy creates
    nothing twice; the printed commands import what exists; then it converges.

    The killed deploy is of us-east-1's stack alone (`--stacks`): only its resources are in flight when it
    dies, so there are 18 commands to run here, not ~30 (each is a terraform run). The deploys after it
    are of the whole environment: eu-west-1's stack, never started, is created by the first of them."""
    us = STACKS[0]
    bootstrap = team.laptop.run("--json", "bootstrap")
    assert bootstrap.returncode == 0, bootstrap.stderr
    assert _rest_apis(team, "us-east-1") == []
    log = team.work / "killed-create.log"
    deploy = team.laptop.start("deploy", "--skip-checks", "--version", "v5", "--stacks", us, memory=512, log=log)
    wait_for(log, [rf"^\[{re.escape(us)}\] aws_api_gateway_rest_api\.\S+: created"])
    children = stack_pids(team)
    for pid in [deploy.pid, *children]:  # the machine goes away
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    deploy.wait(timeout=60)
    wait_gone(children)
    (api_id,) = _rest_apis(team, "us-east-1")
    locks = [key.rsplit("/", 1)[1].removesuffix(".tfstate.tflock") for key in team.keys(".tflock")]
    if locks:
        unlocked = team.laptop.run("unlock", *(arg for stack in locks for arg in ("--stack", stack)), "--yes")
        assert unlocked.returncode == 0, unlocked.stderr

    refused = team.laptop.run("deploy", "--skip-checks", "--version", "v5", memory=512)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "exist in the cloud but not in this stack's state" in refused.stderr
    us_error = team.ledger.history("team", "development")[0].stacks[us]["error"] or ""  # each stack's report
    assert "terraform import 'aws_api_gateway_rest_api." in us_error
    assert f"' '{api_id}'" in us_error
    assert _rest_apis(team, "us-east-1") == [api_id]  # the refused deploy created no second API

    # The user runs the printed commands, round by round: an id that needs another resource's attribute
    # (a method needs its API's root resource) can be filled in once that one is imported. What the killed
    # apply was only creating has no id: when nothing else is left, the log is deleted, as documented.
    def reports(result: subprocess.CompletedProcess[str]) -> str:
        """What the user reads: the CLI's error and each failed stack's (`cloud status` shows them too)."""
        stacks = team.ledger.history("team", "development")[0].stacks.values()
        return result.stderr + "\n".join(str(run.get("error") or "") for run in stacks)

    output = reports(refused)
    commands = 0
    for _ in range(6):
        # each command once (the CLI's error repeats a stack's report)
        ready = list({(m["dir"], m["address"]): m for m in IMPORT.finditer(output) if "<" not in m["id"]}.values())
        for match in ready:
            imported = subprocess.run(
                ["terraform", "import", "-input=false", match["address"], match["id"]],
                cwd=match["dir"],
                env=team.laptop.env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert imported.returncode == 0, imported.stdout + imported.stderr
            commands += 1
        if not ready:
            for crashed_log in re.findall(r"log of the apply that was killed: (\S+?)[.,]\s", output):
                Path(crashed_log).unlink(missing_ok=True)
        again = team.laptop.run("deploy", "--skip-checks", "--version", "v5", memory=512)
        if again.returncode == 0:
            break
        output = reports(again)
    assert again.returncode == 0, again.stdout + again.stderr
    print(f"converged after {commands} terraform import commands")
    assert _rest_apis(team, "us-east-1") == [api_id]  # imported, not created twice
    assert all(len(_rest_apis(team, region)) == 1 for region in REGIONS)
