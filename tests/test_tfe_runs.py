"""The TFE test server runs runs as Terraform Cloud's workers do, and terraform's own client drives them.

No SDK code here: terraform 1.11's `cloud` block in a workspace with remote execution uploads the
configuration, creates the run, streams its plan and apply logs and reads the redacted JSON plan, all
against `tests/tfe_server.py`, whose worker runs the real terraform. The server's faithful edges are
checked through the API: lock owners, state versions from the lock holder only, run actions and their
409s, pagination, sensitive variables never echoed, remote-state consumers.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud.terraform import discover_provider_mirror
from tests.tfe_server import TfeServer

pytestmark = pytest.mark.terraform

ORG = "acme"


@dataclass
class Tfc:
    server: TfeServer
    env: dict[str, str]
    context: ssl.SSLContext

    def api(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"https://{self.server.hostname}/api/v2/{path}",
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.server.token if token is None else token}",
                "Content-Type": "application/vnd.api+json",
            },
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def workspace_id(self, name: str) -> str:
        return str(self.workspace(name)["id"])

    def workspace(self, name: str) -> dict[str, Any]:
        status, payload = self.api("GET", f"organizations/{ORG}/workspaces/{name}")
        assert status == 200, payload
        return dict(payload["data"])

    def terraform(self, folder: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["terraform", *args, "-no-color"], cwd=folder, env=self.env, capture_output=True, text=True, timeout=timeout
        )


@pytest.fixture(scope="module")
def tfc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tfc]:
    work = tmp_path_factory.mktemp("tfc-runs")
    (work / "plugins").mkdir()
    mirror = discover_provider_mirror()
    with TfeServer([ORG], work_dir=work, mirror=mirror, plugin_cache=work / "plugins") as server:
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(server.cli_config(work / "cli.tfrc", mirror=mirror)),
            "SSL_CERT_FILE": str(server.ca_file),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
        }
        yield Tfc(server, env, ssl.create_default_context(cafile=str(server.ca_file)))


def module(tfc: Tfc, folder: Path, name: str, greeting: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "main.tf").write_text(
        f'terraform {{\n  cloud {{\n    hostname = "{tfc.server.hostname}"\n    organization = "{ORG}"\n'
        f'    workspaces {{ name = "{name}" }}\n  }}\n}}\n'
        'variable "greeting" { type = string }\n'
        'resource "terraform_data" "greeting" { input = var.greeting }\n'
        'output "greeting" { value = terraform_data.greeting.output }\n'
    )
    status, _ = tfc.api("GET", f"organizations/{ORG}/workspaces/{name}")
    if status == 404:
        created = {"data": {"type": "workspaces", "attributes": {"name": name, "execution-mode": "remote"}}}
        assert tfc.api("POST", f"organizations/{ORG}/workspaces", created)[0] == 201
    workspace_id = tfc.workspace(name)["id"]
    variable = {
        "data": {
            "type": "vars",
            "attributes": {"key": "greeting", "value": greeting, "category": "terraform", "sensitive": False},
        }
    }
    found = tfc.api("GET", f"workspaces/{workspace_id}/vars")[1]["data"]
    if found:
        assert tfc.api("PATCH", f"workspaces/{workspace_id}/vars/{found[0]['id']}", variable)[0] == 200
    else:
        assert tfc.api("POST", f"workspaces/{workspace_id}/vars", variable)[0] == 201
    return folder


def test_terraform_applies_in_a_remote_workspace_through_the_servers_runs(tfc: Tfc, tmp_path: Path) -> None:
    folder = module(tfc, tmp_path / "remote", "remote-a", "hello")
    init = tfc.terraform(folder, "init", "-input=false")
    assert init.returncode == 0, init.stdout + init.stderr
    applied = tfc.terraform(folder, "apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    # terraform's own client streamed the run's plan and apply from the server's logs
    assert "Running apply in HCP Terraform" in applied.stdout or "Running apply in" in applied.stdout, applied.stdout
    assert "terraform_data.greeting: Creation complete" in applied.stdout, applied.stdout
    assert "Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in applied.stdout, applied.stdout
    # the run's state became the workspace's state
    state = tfc.server.current_state(ORG, "remote-a")
    assert state is not None
    assert state["outputs"]["greeting"]["value"] == "hello"

    planned = tfc.terraform(folder, "plan", "-input=false")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "No changes." in planned.stdout, planned.stdout

    module(tfc, folder, "remote-a", "bonjour")
    changed = tfc.terraform(folder, "plan", "-input=false")
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in changed.stdout, changed.stdout
    assert '~ input  = "hello" -> "bonjour"' in changed.stdout, changed.stdout  # rendered from the redacted plan
    workspace = tfc.workspace("remote-a")
    assert not workspace["attributes"]["locked"]  # every run released its lock
    runs = tfc.api("GET", f"workspaces/{workspace['id']}/runs")[1]["data"]
    assert [r["attributes"]["status"] for r in runs] == ["planned_and_finished", "planned_and_finished", "applied"]


def test_a_lock_has_an_owner_and_state_versions_come_from_the_holder(tfc: Tfc, tmp_path: Path) -> None:
    module(tfc, tmp_path / "owner", "owner-a", "x")
    workspace_id = tfc.workspace("owner-a")["id"]
    state = {"data": {"type": "state-versions", "attributes": {"serial": 1, "md5": "0" * 32, "lineage": "l"}}}
    status, payload = tfc.api("POST", f"workspaces/{workspace_id}/state-versions", state)
    assert status == 409, payload  # not locked by this token: refused
    assert tfc.api("POST", f"workspaces/{workspace_id}/actions/lock", {"reason": "test"})[0] == 200
    assert tfc.api("POST", f"workspaces/{workspace_id}/actions/lock", {})[0] == 409
    assert tfc.api("POST", f"workspaces/{workspace_id}/state-versions", state)[0] == 201
    assert tfc.api("POST", f"workspaces/{workspace_id}/actions/unlock", {})[0] == 200
    assert tfc.api("POST", f"workspaces/{workspace_id}/actions/unlock", {})[0] == 409


def test_run_actions_follow_the_runs_state_with_the_apis_409s(tfc: Tfc, tmp_path: Path) -> None:
    folder = module(tfc, tmp_path / "actions", "actions-a", "one")
    assert tfc.terraform(folder, "init", "-input=false").returncode == 0
    workspace_id = tfc.workspace("actions-a")["id"]
    # A user's lock holds the queue: the run stays pending, and a pending run can be canceled, once.
    assert tfc.api("POST", f"workspaces/{workspace_id}/actions/lock", {})[0] == 200
    run = start_run(tfc, folder, workspace_id)
    time.sleep(1)
    assert tfc.api("GET", f"runs/{run}")[1]["data"]["attributes"]["status"] == "pending"
    assert tfc.api("POST", f"runs/{run}/actions/apply", {})[0] == 409  # nothing planned to confirm
    assert tfc.api("POST", f"runs/{run}/actions/discard", {})[0] == 409
    assert tfc.api("POST", f"runs/{run}/actions/cancel", {})[0] == 202
    assert tfc.api("POST", f"runs/{run}/actions/cancel", {})[0] == 409
    assert tfc.api("GET", f"runs/{run}")[1]["data"]["attributes"]["status"] == "canceled"
    assert tfc.api("POST", f"workspaces/{workspace_id}/actions/unlock", {})[0] == 200
    # Without auto-apply a run waits for confirmation; discarding it releases the workspace.
    run = start_run(tfc, folder, workspace_id)
    attributes = wait_for(tfc, run, {"planned"})
    assert attributes["actions"]["is-confirmable"]
    assert attributes["actions"]["is-discardable"]
    assert tfc.workspace("actions-a")["attributes"]["locked"]  # the run holds it
    assert tfc.api("POST", f"workspaces/{workspace_id}/actions/unlock", {})[0] == 409  # not the user's lock
    assert tfc.api("POST", f"runs/{run}/actions/discard", {})[0] == 202
    wait_for(tfc, run, {"discarded"})
    deadline = time.monotonic() + 30
    while tfc.workspace("actions-a")["attributes"]["locked"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not tfc.workspace("actions-a")["attributes"]["locked"]


def start_run(tfc: Tfc, folder: Path, workspace_id: str, **attributes: object) -> str:
    """A run through the API, as CI tooling makes one: a configuration version, its upload, the run."""
    import io
    import tarfile

    created = {"data": {"type": "configuration-versions", "attributes": {"auto-queue-runs": False}}}
    status, version = tfc.api("POST", f"workspaces/{workspace_id}/configuration-versions", created)
    assert status == 201, version
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix in (".tf", ".json"):
                tar.add(path, arcname=path.name)
    upload = urllib.request.Request(version["data"]["attributes"]["upload-url"], data=buffer.getvalue(), method="PUT")
    with urllib.request.urlopen(upload, context=tfc.context, timeout=30) as response:
        assert response.status == 200
    run = {
        "data": {
            "type": "runs",
            "attributes": attributes,
            "relationships": {
                "workspace": {"data": {"type": "workspaces", "id": workspace_id}},
                "configuration-version": {"data": {"type": "configuration-versions", "id": version["data"]["id"]}},
            },
        }
    }
    status, payload = tfc.api("POST", "runs", run)
    assert status == 201, payload
    return str(payload["data"]["id"])


def wait_for(tfc: Tfc, run: str, states: set[str], timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        attributes: dict[str, Any] = tfc.api("GET", f"runs/{run}")[1]["data"]["attributes"]
        if attributes["status"] in states or time.monotonic() > deadline:
            assert attributes["status"] in states, attributes["status"]
            return attributes
        time.sleep(0.2)


def test_lists_are_paginated_and_sensitive_variables_never_echoed(tfc: Tfc) -> None:
    for index in range(23):
        body = {"data": {"type": "workspaces", "attributes": {"name": f"page-{index:02d}", "execution-mode": "local"}}}
        assert tfc.api("POST", f"organizations/{ORG}/workspaces", body)[0] == 201
    status, first = tfc.api("GET", f"organizations/{ORG}/workspaces?search%5Bname%5D=page-")
    assert status == 200
    assert len(first["data"]) == 20  # the API's default page size
    assert first["meta"]["pagination"]["next-page"] == 2
    _, second = tfc.api("GET", f"organizations/{ORG}/workspaces?search%5Bname%5D=page-&page%5Bnumber%5D=2")
    assert [w["attributes"]["name"] for w in second["data"]] == ["page-20", "page-21", "page-22"]

    workspace_id = tfc.workspace("page-00")["id"]
    secret = {
        "data": {
            "type": "vars",
            "attributes": {"key": "TOKEN", "value": "s3cr3t-value", "category": "env", "sensitive": True},
        }
    }
    status, created = tfc.api("POST", f"workspaces/{workspace_id}/vars", secret)
    assert status == 201
    assert created["data"]["attributes"]["value"] is None
    assert "s3cr3t-value" not in json.dumps(tfc.api("GET", f"workspaces/{workspace_id}/vars")[1])


def test_a_runs_token_reads_only_the_state_shared_with_its_workspace(tfc: Tfc, tmp_path: Path) -> None:
    folder = module(tfc, tmp_path / "producer", "producer-a", "shared")
    assert tfc.terraform(folder, "init", "-input=false").returncode == 0
    assert tfc.terraform(folder, "apply", "-auto-approve", "-input=false").returncode == 0
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "main.tf").write_text(
        f'terraform {{\n  cloud {{\n    hostname = "{tfc.server.hostname}"\n    organization = "{ORG}"\n'
        '    workspaces { name = "consumer-a" }\n  }\n}\n'
        'data "terraform_remote_state" "producer" {\n  backend = "remote"\n  config = {\n'
        f'    hostname = "{tfc.server.hostname}"\n    organization = "{ORG}"\n'
        '    workspaces = { name = "producer-a" }\n  }\n}\n'
        'output "read" { value = data.terraform_remote_state.producer.outputs.greeting }\n'
    )
    created = {"data": {"type": "workspaces", "attributes": {"name": "consumer-a", "execution-mode": "remote"}}}
    assert tfc.api("POST", f"organizations/{ORG}/workspaces", created)[0] == 201
    assert tfc.terraform(consumer, "init", "-input=false").returncode == 0
    refused = tfc.terraform(consumer, "apply", "-auto-approve", "-input=false")
    assert refused.returncode != 0  # the run's token may not read producer-a's state
    assert "producer-a" in refused.stdout + refused.stderr, refused.stdout + refused.stderr

    producer_id, consumer_id = tfc.workspace("producer-a")["id"], tfc.workspace("consumer-a")["id"]
    share = {"data": [{"type": "workspaces", "id": consumer_id}]}
    assert tfc.api("POST", f"workspaces/{producer_id}/relationships/remote-state-consumers", share)[0] == 204
    applied = tfc.terraform(consumer, "apply", "-auto-approve", "-input=false")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    state = tfc.server.current_state(ORG, "consumer-a")
    assert state is not None
    assert state["outputs"]["read"]["value"] == "shared"


def test_an_unknown_route_fails_the_test_naming_it(tmp_path: Path) -> None:
    server = TfeServer([ORG], work_dir=tmp_path)
    server.__enter__()
    request = urllib.request.Request(
        f"https://{server.hostname}/api/v2/no/such/route", headers={"Authorization": f"Bearer {server.token}"}
    )
    context = ssl.create_default_context(cafile=str(server.ca_file))
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert refused.value.code == 404
    with pytest.raises(AssertionError, match=r"routes it does not serve .*GET /api/v2/no/such/route"):
        server.__exit__(None, None, None)


def test_a_run_that_fails_in_its_init_is_explained_from_the_runs_log(tfc: Tfc, tmp_path: Path) -> None:
    """The engine's remote runner (no CLI): the run's init fails in Terraform Cloud; the error says why."""
    import asyncio

    from stacks_cloud.core.errors import CloudError
    from stacks_cloud.terraform.local import StackDir
    from stacks_cloud.terraform.tfc_run import RemoteRun
    from stacks_cloud.terraform.tfe_api import TfeClient

    name = "broken-init"
    created = {"data": {"type": "workspaces", "attributes": {"name": name, "execution-mode": "remote"}}}
    assert tfc.api("POST", f"organizations/{ORG}/workspaces", created)[0] == 201
    folder = tmp_path / name
    folder.mkdir()
    source = {"terraform": {"required_providers": {"nothing": {"source": "example.invalid/acme/nothing"}}}}
    (folder / "cdk.tf.json").write_text(json.dumps(source))
    client = TfeClient(tfc.server.hostname, tfc.server.token, context=tfc.context)
    runner = RemoteRun(client, ORG, StackDir(name, folder, dict(os.environ)))
    with pytest.raises(CloudError) as failed:
        asyncio.run(runner.apply(on_line=None, timeout=300))
    assert "apply failed" in str(failed.value)
    assert "example.invalid/acme/nothing" in str(failed.value)  # terraform's own error text, from the run's log
    assert runner.run_url is not None
    assert any(runner.run_url in note for note in failed.value.__notes__)
