"""Terraform Cloud, for real against the TFE v2 API: the real terraform's `cloud` block (and the remote
backend behind cdktf's cross-stack references) talking HTTPS to `tests/tfe_server.py`, with AWS on moto.

First the fixture's own faithfulness (workspaces, state round trip, lock conflict, outputs, refusal
without a token, a stale serial refused), then the reference app, two regions and the global stack,
deployed with `state.backend = "cloud"`: bootstrap creates the workspaces with tags, project and local
execution; deploy, a second plan with no changes, a run refused on a locked workspace, `cloud unlock`,
`cdktf deploy` of one stack, status, destroy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stacks_cloud.terraform import discover_provider_mirror
from tests.servers import Moto
from tests.test_main import copy_project
from tests.test_tfe_runs import Tfc
from tests.tfe_server import TfeServer

pytestmark = [pytest.mark.terraform, pytest.mark.e2e]

CLI = Path(sys.executable).with_name("cloud")
ORG = "acme"
APP = "tfcapp"
ZONE = "tfc.test"
US, EU, GLOBAL = (f"{APP}-development-{suffix}" for suffix in ("us-east-1", "eu-west-1", "global"))

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
    "state": {{
        "backend": "cloud",
        "cloud": {{"organization": "{org}", "hostname": "{host}", "project": "platform", "tags": ["team:web"]}},
    }},
    "aws": {{"endpoint": MOTO, "s3UsePathStyle": True, "skipAwsChecks": True}},
}}
"""


@pytest.fixture(scope="module")
def tfc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tfc]:
    work = tmp_path_factory.mktemp("tfc")
    with TfeServer([ORG], projects=["platform"], work_dir=work) as server:
        cli_config = server.cli_config(work / "cli.tfrc", mirror=discover_provider_mirror())
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "SSL_CERT_FILE": str(server.ca_file),  # terraform (Go) and Python both trust the throw-away CA
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_PLUGIN_CACHE_DIR": str(work / "plugins"),
        }
        (work / "plugins").mkdir()
        yield Tfc(server, env, ssl.create_default_context(cafile=str(server.ca_file)))


# --- the fixture is faithful --------------------------------------------------------------------------

MODULE = """
terraform {{
  cloud {{
    hostname     = "{host}"
    organization = "{org}"
    workspaces {{ name = "{name}" }}
  }}
}}
resource "terraform_data" "greeting" {{ input = "{value}" }}
output "greeting" {{ value = terraform_data.greeting.output }}
"""


def terraform(tfc: Tfc, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["terraform", *args, "-no-color"], cwd=folder, env=tfc.env, capture_output=True, text=True, timeout=300
    )


def test_state_is_written_read_back_and_guarded(tfc: Tfc, tmp_path: Path) -> None:
    folder = tmp_path / "fixture"
    folder.mkdir()
    (folder / "main.tf").write_text(MODULE.format(host=tfc.server.hostname, org=ORG, name="fixture-a", value="one"))
    assert terraform(tfc, folder, "init", "-input=false").returncode == 0
    # terraform created the workspace with the organization's default execution mode, remote, as
    # app.terraform.io does: a local apply needs the workspace switched to local execution first.
    workspace = tfc.server.workspace(ORG, "fixture-a")
    assert workspace is not None
    assert workspace.execution_mode == "remote"
    status, _ = tfc.api("PATCH", f"workspaces/{workspace.id}", {"data": {"attributes": {"execution-mode": "local"}}})
    assert status == 200
    applied = terraform(tfc, folder, "apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    state = tfc.server.current_state(ORG, "fixture-a")
    assert state is not None
    assert state["outputs"]["greeting"]["value"] == "one"
    assert terraform(tfc, folder, "plan", "-detailed-exitcode", "-input=false").returncode == 0  # read back: no change

    status, outputs = tfc.api("GET", f"workspaces/{workspace.id}/current-state-version-outputs")
    assert status == 200
    assert [(o["attributes"]["name"], o["attributes"]["value"]) for o in outputs["data"]] == [("greeting", "one")]

    # no token, a wrong token: 401
    assert tfc.api("GET", f"organizations/{ORG}/workspaces/fixture-a", token="")[0] == 401
    assert tfc.api("GET", f"organizations/{ORG}/workspaces/fixture-a", token="not-the-token")[0] == 401

    # a held lock: 409 to the API, and terraform's apply refused with its lock error
    assert tfc.api("POST", f"workspaces/{workspace.id}/actions/lock", {"reason": "test"})[0] == 200
    assert tfc.api("POST", f"workspaces/{workspace.id}/actions/lock", {"reason": "again"})[0] == 409
    (folder / "main.tf").write_text(MODULE.format(host=tfc.server.hostname, org=ORG, name="fixture-a", value="two"))
    locked = terraform(tfc, folder, "apply", "-auto-approve", "-input=false", "-lock-timeout=0s")
    assert locked.returncode == 1
    assert "Error acquiring the state lock" in locked.stderr
    assert "workspace already locked" in locked.stderr

    # a state version whose serial is not above the current one: refused (the lock is still held)
    serial = state["serial"]
    raw = json.dumps({**state, "serial": serial}).encode()
    stale = {
        "data": {
            "type": "state-versions",
            "attributes": {
                "serial": serial,
                "md5": hashlib.md5(raw).hexdigest(),
                "lineage": state["lineage"],
                "state": base64.b64encode(raw).decode(),
            },
        }
    }
    status, payload = tfc.api("POST", f"workspaces/{workspace.id}/state-versions", stale)
    assert status == 409
    assert "must be greater than the current serial" in payload["errors"][0]["detail"]
    assert tfc.api("POST", f"workspaces/{workspace.id}/actions/unlock")[0] == 200
    assert terraform(tfc, folder, "apply", "-auto-approve", "-input=false").returncode == 0
    after = tfc.server.current_state(ORG, "fixture-a")
    assert after is not None
    assert after["outputs"]["greeting"]["value"] == "two"
    assert after["serial"] > serial


# --- the app, deployed through Terraform Cloud -----------------------------------------------------------


@dataclass
class App:
    root: Path
    moto: Moto
    env: dict[str, str]

    def cloud(self, *args: str, memory: int = 512) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLI), *args],
            cwd=self.root,
            env={**self.env, "E2E_MEMORY": str(memory)},
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
    root = copy_project(tmp_path_factory.mktemp("tfc-app"))
    (root / "tfc_config.py").write_text(
        CONFIG.format(moto=moto.url, app=APP, zone=ZONE, org=ORG, host=tfc.server.hostname)
    )
    moto.client("route53").create_hosted_zone(Name=ZONE, CallerReference=f"{APP}-tfc")
    env = moto.aws_env({**tfc.env, "CI": "1", "CLOUD_CONFIG": "tfc_config.py"})
    env.pop("APP_ENV", None)
    return App(root, moto, env)


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> subprocess.CompletedProcess[str]:
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result


def test_bootstrap_creates_the_workspaces_with_tags_project_and_local_execution(app: App, tfc: Tfc) -> None:
    created = json.loads(ok(app.cloud("--json", "bootstrap")).stdout)
    assert created == {"created": [US, EU, GLOBAL], "updated": [], "existing": []}
    for name in (US, EU, GLOBAL):
        workspace = tfc.server.workspace(ORG, name)
        assert workspace is not None
        assert workspace.execution_mode == "local"
        assert workspace.tags == sorted(["stacks-cloud", f"app:{APP}", "env:development", "team:web"])
        assert workspace.project_id == tfc.server.store.organizations[ORG]["platform"]
    again = ok(app.cloud("bootstrap")).stdout
    assert again.startswith(f"{tfc.server.hostname}/{ORG}: nothing to create")


def test_deploy_keeps_each_stacks_state_in_its_workspace(app: App, tfc: Tfc) -> None:
    result = json.loads(ok(app.cloud("--json", "deploy", "--version", "v1")).stdout)
    assert result["url"] == f"https://api.{ZONE}"
    for name in (US, EU, GLOBAL):
        state = tfc.server.current_state(ORG, name)
        assert state is not None
        assert [r for r in state["resources"] if r["mode"] == "managed"], name
    # the global stack read each region's outputs from its workspace (cdktf's cross-stack references)
    routing = tfc.server.current_state(ORG, GLOBAL)
    assert routing is not None
    remote = {r["name"] for r in routing["resources"] if r["type"] == "terraform_remote_state"}
    assert remote == {f"cross-stack-reference-input-{US}", f"cross-stack-reference-input-{EU}"}
    assert not (app.root / ".state" / f"{US}.tfstate").exists()  # nothing local
    ok(app.cloud("plan", "--detailed-exitcode"))  # a second plan: no changes anywhere


def test_a_run_on_a_locked_workspace_is_refused_then_unlocked(app: App, tfc: Tfc) -> None:
    workspace = tfc.workspace_id(US)
    assert tfc.api("POST", f"workspaces/{workspace}/actions/lock", {"reason": "a colleague's run"})[0] == 200
    refused = ok(app.cloud("deploy", "--version", "v2", memory=1024), 1)
    # refused before anything runs: the workspace locks are read through the API first
    assert "1 stack state lock(s) are held" in refused.stderr
    assert f"- {US}: lock {workspace} (workspace lock" in refused.stderr
    assert "cloud unlock --stack NAME" in refused.stderr
    assert app.memory("us-east-1") == app.memory("eu-west-1") == 512  # nothing applied anywhere

    listed = json.loads(ok(app.cloud("--json", "unlock", "--stack", US, "--yes")).stdout)
    (removed,) = listed["removed"]
    assert removed.startswith(f"{US}: lock {workspace} (workspace lock")
    assert removed.endswith(f"in {tfc.server.hostname}/{ORG}/workspaces/{US}")
    assert tfc.server.workspace(ORG, US).locked is False  # type: ignore[union-attr]
    ok(app.cloud("deploy", "--version", "v2", memory=1024))
    assert app.memory("us-east-1") == 1024


def test_plain_cdktf_deploys_through_the_workspace(app: App, tfc: Tfc) -> None:
    serial = tfc.server.current_state(ORG, EU)["serial"]  # type: ignore[index]
    result = subprocess.run(
        ["bash", "-c", f"source scripts/env.sh && cdktf deploy {EU} --auto-approve"],
        cwd=app.root,
        env={**app.env, "E2E_MEMORY": "640"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert app.memory("eu-west-1") == 640
    assert tfc.server.current_state(ORG, EU)["serial"] > serial  # type: ignore[index]


def test_status_and_destroy(app: App, tfc: Tfc) -> None:
    status = json.loads(ok(app.cloud("--json", "status")).stdout)
    assert (status["status"], status["version"]) == ("running", "v2")
    assert {entry["stack"] for entry in status["regions"]} == {US, EU, GLOBAL}
    ok(app.cloud("destroy", "--yes", memory=1024))
    for name in (US, EU, GLOBAL):
        state = tfc.server.current_state(ORG, name)
        assert state is not None
        assert [r for r in state["resources"] if r["mode"] == "managed"] == [], name
