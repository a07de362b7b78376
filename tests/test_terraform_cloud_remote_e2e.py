"""Remote execution for real: every stack's plan and apply is a Terraform Cloud run, which the engine starts,
follows, counts, records and stops, against `tests/tfe_server.py` (whose worker runs the real terraform)
with AWS on moto. The reference app, two regions and the global stack, `executionMode: "remote"`.

In order: missing credentials refused before any run; the deploy (runs applied, resources in moto, the
global stack's run reading the regions' outputs through remote-state consumers, the run's counts and
URLs in the output and the ledger, credentials only as sensitive variables); an unchanged redeploy that
starts no run; a plan after a change, read from the redacted plan; drift; a run queued behind another
canceled by the engine's timeout; Ctrl-C during a run; destroy. Agent execution is a separate module
fixture with the `terraform` driver.
"""

from __future__ import annotations

import io
import json
import os
import signal
import ssl
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stacks_cloud.terraform import discover_provider_mirror
from tests.servers import Moto
from tests.test_main import copy_project
from tests.test_tfe_runs import Tfc, start_run, wait_for
from tests.tfe_server import TfeServer

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

CLI = Path(sys.executable).with_name("cloud")
ORG = "acme"
APP = "remoteapp"
ZONE = "remote.test"
US, EU, GLOBAL = (f"{APP}-development-{suffix}" for suffix in ("us-east-1", "eu-west-1", "global"))
SECRET = "remote-e2e-secret-Zq81xK"
POOL = "apool-e2eAgents1"

CONFIG = """
import os

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
    "state": {{
        "backend": "cloud",
        "cloud": {{"organization": "{org}", "hostname": "{host}", "executionMode": "remote"}},
    }},
    "aws": {{"endpoint": {moto!r}, "s3UsePathStyle": True, "skipAwsChecks": True}},
}}
"""


@pytest.fixture(scope="module")
def tfc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tfc]:
    work = tmp_path_factory.mktemp("tfc-remote")
    (work / "plugins").mkdir()
    mirror = discover_provider_mirror()
    with TfeServer(
        [ORG], work_dir=work, mirror=mirror, plugin_cache=work / "plugins", agent_pools={POOL: "e2e agents"}
    ) as server:
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(server.cli_config(work / "cli.tfrc", mirror=mirror)),
            "SSL_CERT_FILE": str(server.ca_file),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TMPDIR": str(work / "tmp"),  # what an interrupted CLI leaves stays in the test's folder
        }
        (work / "tmp").mkdir()
        yield Tfc(server, env, ssl.create_default_context(cafile=str(server.ca_file)))


@dataclass
class App:
    root: Path
    moto: Moto
    env: dict[str, str]

    def cloud(
        self, *args: str, memory: int = 512, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *args],
            cwd=self.root,
            env={**(env or self.env), "E2E_MEMORY": str(memory)},
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )

    def memory(self, region: str) -> int:
        function = self.moto.client("lambda", region).get_function_configuration(FunctionName=f"{APP}-development-api")
        return int(function["MemorySize"])


@pytest.fixture(scope="module")
def app(tfc: Tfc, moto: Moto, tmp_path_factory: pytest.TempPathFactory) -> App:
    root = copy_project(tmp_path_factory.mktemp("remote-app"))
    (root / "remote_config.py").write_text(
        CONFIG.format(moto=moto.url, app=APP, zone=ZONE, org=ORG, host=tfc.server.hostname)
    )
    moto.client("route53").create_hosted_zone(Name=ZONE, CallerReference=f"{APP}-remote")
    env = moto.aws_env({**tfc.env, "CI": "1", "CLOUD_CONFIG": "remote_config.py"})
    env["AWS_SECRET_ACCESS_KEY"] = SECRET  # moto takes any secret: a distinctive one, to look for
    env.pop("APP_ENV", None)
    return App(root, moto, env)


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def runs_of(tfc: Tfc, name: str) -> list[dict[str, object]]:
    workspace = tfc.server.workspace(ORG, name)
    assert workspace is not None
    _, payload = tfc.api("GET", f"workspaces/{workspace.id}/runs?page%5Bsize%5D=100")
    return list(payload["data"])


def test_missing_credentials_are_refused_before_any_run(app: App, tfc: Tfc) -> None:
    env = {k: v for k, v in app.env.items() if k != "AWS_SECRET_ACCESS_KEY"}
    refused = ok(app.cloud("deploy", "--skip-checks", env=env), 2)
    assert refused.stderr.startswith("Invalid Terraform Cloud run environment (1 problem):\n  - AWS_SECRET_ACCESS_KEY")
    assert "is not set: the stacks run in Terraform Cloud (state.cloud.executionMode 'remote')" in refused.stderr
    assert not tfc.server.store.runs  # nothing ran
    assert not (app.root / ".state" / "ledger.sqlite").exists()  # nothing recorded


def test_a_remote_deploy_runs_each_stack_in_terraform_cloud(app: App, tfc: Tfc) -> None:
    result = json.loads(ok(app.cloud("--json", "deploy", "--version", "v1", "--skip-checks")).stdout)
    assert result["url"] == f"https://api.{ZONE}"
    store = tfc.server.store
    for name in (US, EU, GLOBAL):
        (run,) = runs_of(tfc, name)
        assert run["attributes"]["status"] == "applied"  # type: ignore[index]
        reported = result["stacks"][name]
        assert reported["run"]["run"] == run["id"]
        assert reported["run"]["url"].endswith(f"/app/{ORG}/{name}/runs/{run['id']}")
        apply = store.runs[str(run["id"])].apply
        # the counts the engine reports are the run's own (read from its apply log)
        assert reported["applied"] == {"add": apply.additions, "change": apply.changes, "destroy": apply.destructions}
        assert apply.additions > 0
        workspace = tfc.server.workspace(ORG, name)
        assert workspace is not None
        assert not workspace.locked
    assert app.memory("us-east-1") == app.memory("eu-west-1") == 512  # the runs created the functions in moto
    # the global stack's run read each region's outputs: the regional workspaces share state with it alone
    global_id = tfc.server.workspace(ORG, GLOBAL).id  # type: ignore[union-attr]
    for name in (US, EU):
        assert tfc.server.workspace(ORG, name).consumers == {global_id}  # type: ignore[union-attr]
    routing = tfc.server.current_state(ORG, GLOBAL)
    assert routing is not None
    assert {r["name"] for r in routing["resources"] if r["type"] == "terraform_remote_state"} == {
        f"cross-stack-reference-input-{US}",
        f"cross-stack-reference-input-{EU}",
    }
    # the credentials reached the runs only as sensitive workspace variables, never in an upload
    for variable in store.variables.values():
        if variable.key == "AWS_SECRET_ACCESS_KEY":
            assert variable.sensitive
    assert {v.key for v in store.variables.values() if v.workspace_id == global_id} >= {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
    }
    for version in store.configuration_versions.values():
        with tarfile.open(fileobj=io.BytesIO(version.archive or b""), mode="r:gz") as tar:
            for member in tar.getmembers():
                data = tar.extractfile(member)
                assert data is None or SECRET.encode() not in data.read(), member.name
    assert SECRET not in json.dumps(result)
    # the ledger keeps each stack's run, and `cloud status` shows it
    assert f"applied https://{tfc.server.hostname}/app/{ORG}/{US}/runs/run-" in ok(app.cloud("status")).stdout
    history = json.loads(ok(app.cloud("--json", "status")).stdout)["history"]
    assert {stack: run["run"]["run"] for stack, run in history[0]["stacks"].items()} == {
        name: runs_of(tfc, name)[0]["id"] for name in (US, EU, GLOBAL)
    }


def test_an_unchanged_redeploy_starts_no_run(app: App, tfc: Tfc) -> None:
    before = len(tfc.server.store.runs)
    ok(app.cloud("deploy", "--version", "v1", "--skip-checks"))
    assert len(tfc.server.store.runs) == before


def test_a_plan_after_a_change_is_read_from_the_runs_redacted_plan(app: App, tfc: Tfc) -> None:
    planned = ok(app.cloud("plan", "--detailed-exitcode", memory=1024), 2)
    assert "memory_size: 512 -> 1024" in planned.stdout, planned.stdout
    assert f"run: https://{tfc.server.hostname}/app/{ORG}/{US}/runs/run-" in planned.stdout
    answered = [(method, path) for method, path, _ in tfc.server.store.answers]
    assert not [path for _, path in answered if path.endswith("/json-output")]  # only the redacted plan
    assert app.memory("us-east-1") == 512  # a plan changes nothing
    assert all(not w.locked for w in tfc.server.store.workspaces.values())


def test_drift_is_found_by_a_refresh_only_run(app: App, tfc: Tfc) -> None:
    app.moto.client("lambda", "eu-west-1").update_function_configuration(
        FunctionName=f"{APP}-development-api", MemorySize=640
    )
    drifted = ok(app.cloud("drift", "--stacks", EU), 2)
    assert "memory_size" in drifted.stdout, drifted.stdout
    (latest, *_) = runs_of(tfc, EU)
    assert latest["attributes"]["refresh-only"] is True  # type: ignore[index]
    ok(app.cloud("deploy", "--version", "v1", "--skip-checks", "--force", "--stacks", EU))  # put it back
    assert app.memory("eu-west-1") == 512


def test_a_run_queued_behind_another_is_canceled_by_the_engines_timeout(app: App, tfc: Tfc, tmp_path: Path) -> None:
    workspace = tfc.server.workspace(ORG, US)
    assert workspace is not None
    # A colleague's run of the same stack, plus one resource, not auto-applied: it waits for a confirmation,
    # holding the workspace's queue.
    synthesized = max(app.root.glob(f".cache/deployments/*/cdktf.out/stacks/{US}/cdk.tf.json"), key=os.path.getmtime)
    stack = json.loads(synthesized.read_text())
    stack["resource"]["terraform_data"] = {"hold": {"input": "x"}}
    folder = tmp_path / "blocker"
    folder.mkdir()
    (folder / "cdk.tf.json").write_text(json.dumps(stack))
    blocker = start_run(tfc, folder, workspace.id)
    wait_for(tfc, blocker, {"planned"})
    started = time.monotonic()
    timed_out = ok(app.cloud("deploy", "--stacks", US, "--timeout", "15", "--skip-checks", memory=768), 1)
    assert time.monotonic() - started < 120
    assert "did not finish in time (it was pending, position" in timed_out.stderr, timed_out.stderr
    assert "the engine canceled it" in timed_out.stderr
    ours = runs_of(tfc, US)[0]
    assert ours["attributes"]["status"] == "canceled"  # type: ignore[index]
    assert tfc.api("POST", f"runs/{blocker}/actions/discard", {})[0] == 202
    wait_for(tfc, blocker, {"discarded"})
    assert app.memory("us-east-1") == 512


def test_ctrl_c_cancels_the_runs_in_flight_and_leaves_no_workspace_locked(app: App, tfc: Tfc) -> None:
    process = subprocess.Popen(
        [str(CLI), "deploy", "--version", "v3", "--skip-checks"],
        cwd=app.root,
        env={**app.env, "E2E_MEMORY": "896"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    before = set(tfc.server.store.runs)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        running = [r for i, r in list(tfc.server.store.runs.items()) if i not in before and r.status == "planning"]
        if running:
            break
        time.sleep(0.2)
    assert running, "no run started"
    os.killpg(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr
    new = [r for i, r in tfc.server.store.runs.items() if i not in before]
    assert new
    assert all(r.final for r in new), [r.status for r in new]
    assert "canceled" in {r.status for r in new}
    assert all(not w.locked for w in tfc.server.store.workspaces.values())
    status = json.loads(ok(app.cloud("--json", "status")).stdout)
    assert status["history"][0]["status"] == "interrupted"


def test_destroy_runs_destroy_plans(app: App, tfc: Tfc) -> None:
    ok(app.cloud("destroy", "--yes"))
    for name in (US, EU, GLOBAL):
        latest = runs_of(tfc, name)[0]
        assert latest["attributes"]["is-destroy"] is True  # type: ignore[index]
        assert latest["attributes"]["status"] == "applied"  # type: ignore[index]
    functions = app.moto.client("lambda", "us-east-1").list_functions()["Functions"]
    assert f"{APP}-development-api" not in {f["FunctionName"] for f in functions}


AGENT_CONFIG = """
CLOUD = {{
    "appName": "agentapp",
    "driver": "terraform",
    "multiRegion": {{"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": ["eu-west-1"]}},
    "state": {{
        "backend": "cloud",
        "cloud": {{"organization": "{org}", "hostname": "{host}", "executionMode": "agent", "agentPoolId": "{pool}"}},
    }},
}}
"""


def test_agent_execution_runs_on_the_pool(tfc: Tfc, tmp_path: Path) -> None:
    root = copy_project(tmp_path)
    (root / "agent_config.py").write_text(AGENT_CONFIG.format(org=ORG, host=tfc.server.hostname, pool=POOL))
    env = {**tfc.env, "CI": "1", "CLOUD_CONFIG": "agent_config.py"}
    env.pop("APP_ENV", None)
    deployed = subprocess.run(
        [str(CLI), "--json", "deploy", "--version", "a1", "--skip-checks"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    result = json.loads(ok(deployed).stdout)
    for name in ("agentapp-development-us-east-1", "agentapp-development-eu-west-1"):
        workspace = tfc.server.workspace(ORG, name)
        assert workspace is not None
        assert (workspace.execution_mode, workspace.agent_pool_id) == ("agent", POOL)
        (run,) = runs_of(tfc, name)
        assert run["attributes"]["status"] == "applied"  # type: ignore[index]
        assert result["stacks"][name]["run"]["run"] == run["id"]
        assert result["outputs"][name]["Version"] == "a1"


POLICY_CONFIG = """
CLOUD = {{
    "appName": "policyapp",
    "driver": "terraform",
    "state": {{
        "backend": "cloud",
        "cloud": {{"organization": "{org}", "hostname": "{host}", "executionMode": "remote"}},
    }},
}}
"""


def test_a_run_stopped_by_a_policy_check_is_reported_with_its_url_and_never_overridden(
    tfc: Tfc, tmp_path: Path
) -> None:
    root = copy_project(tmp_path)
    (root / "policy_config.py").write_text(POLICY_CONFIG.format(org=ORG, host=tfc.server.hostname))
    env = {**tfc.env, "CI": "1", "CLOUD_CONFIG": "policy_config.py"}
    env.pop("APP_ENV", None)
    tfc.server.store.policy_soft_fail.add("policyapp-development-us-east-1")
    stopped = subprocess.run(
        [str(CLI), "deploy", "--version", "p1", "--skip-checks"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert stopped.returncode == 1, stopped.stdout + stopped.stderr
    (run,) = runs_of(tfc, "policyapp-development-us-east-1")
    assert run["attributes"]["status"] == "policy_override"  # type: ignore[index]
    assert "stopped by a policy check in Terraform Cloud" in stopped.stderr
    assert f"/app/{ORG}/policyapp-development-us-east-1/runs/{run['id']}" in stopped.stderr
    assert "never overrides a policy" in stopped.stderr
    assert not tfc.server.store.overrides
    assert tfc.api("POST", f"runs/{run['id']}/actions/discard", {})[0] == 202
