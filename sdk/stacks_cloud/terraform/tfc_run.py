"""The Terraform Cloud executor: each stack's plan and apply as a run in its workspace (remote or agent execution).

The runs are driven through the runs API directly, as CI tooling for Terraform Cloud does, not through
terraform's own remote client: the engine then knows each run's id and URL, reads the run's own log
(terraform's `-json` events, so the live view and the counts are the run's), cancels or discards the
run it started when it is interrupted or times out (a queued run too), and reads plans through the
redacted JSON plan, which a token without workspace admin rights may read. terraform's client would
give none of these to a caller: it prints human text, and leaves a queued run behind on Ctrl-C.

One stack's run: the synthesized stack folder is uploaded as a configuration version, a run is created
(auto-applied for a deploy, plan-only for `cloud plan` and `drift`), its plan log and then its apply log
are followed by offset (STX ... ETX) until the run ends. A run that ends `errored` is classified from its
diagnostics as a local one is (a held state lock, resources created but not recorded, an apply error).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks_cloud.core.errors import CloudProviderError, InfrastructureError
from stacks_cloud.terraform.events import Event, Events, EventSink, done_event, phase_event, plan_summary_event
from stacks_cloud.terraform.executor import Executor, LineCallback, PlanResult
from stacks_cloud.terraform.init_cache import InitCache
from stacks_cloud.terraform.local import StackDir
from stacks_cloud.terraform.process import ProcessResult
from stacks_cloud.terraform.tfe_api import TfeClient, data_of, quote

FINAL = {"applied", "planned_and_finished", "errored", "canceled", "discarded", "force_canceled"}
STOPPED_BY_POLICY = {"policy_override", "policy_soft_failed"}
"""A run waiting for someone to override a policy check: the engine never overrides one."""
NOT_UPLOADED = (".terraform", "plan.tfplan", "plan.counts.json", "errored.tfstate", "terraform.tfstate")
POLL_SECONDS = 0.5
STOP_GRACE_SECONDS = 120.0
"""How long a canceled run may take to stop (terraform finishes the resources in flight)."""


@dataclass
class _LogFollower:
    """Reads a plan's or apply's log by offset: whole lines, the STX/ETX markers taken off."""

    started: bool = False
    ended: bool = False
    offset: int = 0
    partial: bytes = b""

    def take(self, chunk: bytes) -> list[str]:
        self.offset += len(chunk)
        if not self.started and chunk[:1] == b"\x02":
            self.started, chunk = True, chunk[1:]
        if chunk.endswith(b"\x03"):
            self.ended, chunk = True, chunk[:-1]
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        if self.ended and self.partial:
            lines, self.partial = [*lines, self.partial], b""
        return [line.decode(errors="replace").rstrip("\r") for line in lines]


@dataclass
class RemoteRun:
    """One stack whose plans and applies are Terraform Cloud runs in its workspace (a `StackRunner`)."""

    client: TfeClient
    organization: str
    local: StackDir
    """The same stack on this machine: for what only a local terraform can do (`state rm`), and for the
    classification of a failed run's diagnostics."""
    on_event: EventSink | None = None
    run_id: str | None = None
    run_url: str | None = None
    _workspace_id: str | None = field(default=None, repr=False)
    _lines: list[str] = field(default_factory=list, repr=False)
    """The run's log, line by line (what a failure is explained from)."""

    @property
    def name(self) -> str:
        return self.local.name

    @property
    def path(self) -> Path:
        return self.local.path

    @property
    def identity(self) -> dict[str, str] | None:
        """The run that applied the stack: its id and URL."""
        return {"run": self.run_id, "url": self.run_url or ""} if self.run_id else None

    def _emit(self, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(self.name, event)

    def phase(self, phase: str, message: str | None = None) -> None:
        self._emit(phase_event(phase, message))

    def planned(self, counts: dict[str, int]) -> None:
        self._emit(plan_summary_event(counts))

    def done(self, result: str, *, url: str | None = None) -> None:
        self._emit(done_event(result, url))

    async def init(self, *, on_line: LineCallback | None, timeout: float = 600, cache: InitCache | None = None) -> bool:
        """Nothing to do here: each run initialises in Terraform Cloud."""
        return False

    async def apply(
        self, *, destroy: bool = False, on_line: LineCallback | None, timeout: float, plan_file: Path | None = None
    ) -> Events:
        if plan_file is not None:
            raise CloudProviderError(
                "a plan saved on this machine cannot be applied in a remote workspace; deploy without --plan",
                provider="terraform",
                stack=self.name,
            )
        attributes = {"is-destroy": destroy, "auto-apply": True, "message": "cloud deploy (stacks-cloud)"}
        _, events = await self._run(
            attributes, on_line=on_line, timeout=timeout, action="destroy" if destroy else "apply"
        )
        return events

    async def plan(
        self, out: Path, *, refresh_only: bool = False, on_line: LineCallback | None, timeout: float
    ) -> PlanResult:
        """A plan-only run; its redacted JSON plan (what a token without admin rights may read)."""
        attributes = {"plan-only": True, "refresh-only": refresh_only, "message": "cloud plan (stacks-cloud)"}
        run, _ = await self._run(
            attributes, on_line=on_line, timeout=timeout, action="drift" if refresh_only else "plan"
        )
        plan_id = run["relationships"]["plan"]["data"]["id"]
        status, document = await asyncio.to_thread(
            self.client.call, "GET", f"plans/{quote(plan_id)}/json-output-redacted"
        )
        if status != 200 or not isinstance(document, dict):
            raise CloudProviderError(
                f"Terraform Cloud did not give the redacted plan of run {self.run_id} (HTTP {status})",
                provider="terraform",
                stack=self.name,
            )
        document["configuration"] = self._configuration()
        return PlanResult(document, deployed=await asyncio.to_thread(self._has_state))

    async def outputs(self, *, timeout: float = 120) -> dict[str, Any]:
        """The workspace's current non-sensitive outputs (cdktf's cross-stack plumbing left out)."""
        workspace = await asyncio.to_thread(self._workspace)
        status, payload = await asyncio.to_thread(
            self.client.call, "GET", f"workspaces/{quote(workspace)}/current-state-version-outputs"
        )
        if status == 404:
            return {}
        items = data_of(status, payload, f"reading the outputs of {self.name}") or []
        return {
            str(item["attributes"]["name"]): item["attributes"].get("value")
            for item in items
            if not item["attributes"].get("sensitive")
            and not str(item["attributes"]["name"]).startswith("cross-stack-output-")
        }

    async def state_resources(self, *, timeout: float = 120) -> dict[str, dict[str, Any]]:
        """`terraform state pull` on this machine (it reads the workspace's state)."""
        await self.local.init(on_line=None)
        return await self.local.state_resources(timeout=timeout)

    async def forget(self, addresses: list[str], *, on_line: LineCallback | None) -> None:
        """`terraform state rm` on this machine: a state operation, which remote workspaces allow too."""
        await self.local.init(on_line=on_line)
        await self.local.forget(addresses, on_line=on_line)

    # --- one run ----------------------------------------------------------------------------------------

    def _workspace(self) -> str:
        if self._workspace_id is None:
            workspace = self.client.workspace(self.organization, self.name)
            if workspace is None:
                raise CloudProviderError(
                    f"the workspace {self.name} does not exist in {self.organization}: `cloud bootstrap` creates it",
                    provider="terraform",
                    stack=self.name,
                )
            self._workspace_id = str(workspace["id"])
        return self._workspace_id

    def _has_state(self) -> bool:
        status, _ = self.client.call("GET", f"workspaces/{quote(self._workspace())}/current-state-version")
        return status == 200

    def _configuration(self) -> dict[str, Any]:
        """The attributes each resource's configuration sets, read from the uploaded stack (the redacted plan
        leaves the configuration out; drift counts only configured attributes)."""
        synthesized = json.loads((self.path / "cdk.tf.json").read_text())
        resources = [
            {"address": f"{kind}.{name}", "expressions": dict.fromkeys(body)}
            for kind, items in (synthesized.get("resource") or {}).items()
            for name, body in items.items()
        ]
        return {"root_module": {"resources": resources}}

    def _upload(self, speculative: bool) -> str:
        """The stack folder as a new configuration version of the workspace; its id once uploaded."""
        attributes = {"auto-queue-runs": False, "speculative": speculative}
        body = {"data": {"type": "configuration-versions", "attributes": attributes}}
        path = f"workspaces/{quote(self._workspace())}/configuration-versions"
        status, payload = self.client.call("POST", path, body)
        version = data_of(status, payload, f"creating a configuration version of {self.name}")
        self.client.upload(str(version["attributes"]["upload-url"]), _archive(self.path))
        for _ in range(120):
            status, payload = self.client.call("GET", f"configuration-versions/{quote(version['id'])}")
            if data_of(status, payload, "reading the configuration version")["attributes"]["status"] == "uploaded":
                return str(version["id"])
            time.sleep(0.25)
        raise CloudProviderError(f"the configuration of {self.name} was not taken in 30 s", provider="terraform")

    def _create_run(self, attributes: dict[str, Any]) -> dict[str, Any]:
        version = self._upload(speculative=bool(attributes.get("plan-only")) and not attributes.get("refresh-only"))
        body = {
            "data": {
                "type": "runs",
                "attributes": attributes,
                "relationships": {
                    "workspace": {"data": {"type": "workspaces", "id": self._workspace()}},
                    "configuration-version": {"data": {"type": "configuration-versions", "id": version}},
                },
            }
        }
        status, payload = self.client.call("POST", "runs", body)
        run: dict[str, Any] = data_of(status, payload, f"creating a run of {self.name}")
        self.run_id = str(run["id"])
        self.run_url = f"https://{self.client.hostname}/app/{self.organization}/{self.name}/runs/{self.run_id}"
        return run

    async def _run(
        self, attributes: dict[str, Any], *, on_line: LineCallback | None, timeout: float, action: str
    ) -> tuple[dict[str, Any], Events]:
        """Create the run, follow it to its end; stop it if this task is cancelled or `timeout` passes."""
        creating = asyncio.ensure_future(asyncio.to_thread(self._create_run, attributes))
        try:
            await asyncio.shield(creating)
        except asyncio.CancelledError:
            # Interrupted while the run was being created: the request may still create it. Wait for the
            # answer, then stop what it made, so no run is left planning behind an interrupted deploy.
            with contextlib.suppress(Exception):
                await asyncio.shield(creating)
            if self.run_id is not None:
                await asyncio.shield(asyncio.to_thread(self._stop, "interrupted"))
            raise
        self._emit({"type": "run", "run": self.run_id or "", "url": self.run_url})
        events = Events()
        self._lines = []
        deadline = time.monotonic() + timeout
        try:
            run = await self._follow(events, on_line, deadline)
        except asyncio.CancelledError:
            await asyncio.shield(asyncio.to_thread(self._stop, "interrupted"))
            raise
        return run, self._check(run, events, action)

    async def _follow(self, events: Events, on_line: LineCallback | None, deadline: float) -> dict[str, Any]:
        logs = {"plans": _LogFollower(), "applies": _LogFollower()}
        while True:
            run, included = await asyncio.to_thread(self._read_run)
            for kind in ("plans", "applies"):
                phase = included.get(kind)
                if phase is not None and phase["attributes"]["status"] != "pending":
                    await asyncio.to_thread(self._read_log, phase, logs[kind], events, on_line)
            status = run["attributes"]["status"]
            applying = run["attributes"]["status"] in ("applying", "applied") or logs["applies"].started
            if status in FINAL and logs["plans"].ended and (logs["applies"].ended or not applying):
                return run
            if status in FINAL and time.monotonic() > deadline:  # a log that never ended: what was read stands
                return run
            if status in STOPPED_BY_POLICY:
                return run
            if time.monotonic() > deadline:
                await asyncio.to_thread(self._stop, "timed out")
                position = run["attributes"].get("position-in-queue")
                raise CloudProviderError(
                    f"run {self.run_id} did not finish in time (it was {status}"
                    + (f", position {position} in the workspace's queue" if status == "pending" else "")
                    + f"); the engine canceled it: {self.run_url}",
                    provider="terraform",
                    stack=self.name,
                )
            await asyncio.sleep(POLL_SECONDS)

    def _read_run(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        status, payload = self.client.call("GET", f"runs/{quote(self.run_id or '')}?include=plan%2Capply")
        run: dict[str, Any] = data_of(status, payload, f"reading run {self.run_id}")
        included = {str(item["type"]): item for item in (payload.get("included") or [])}
        return run, included

    def _read_log(
        self, phase: dict[str, Any], follower: _LogFollower, events: Events, on_line: LineCallback | None
    ) -> None:
        url = str(phase["attributes"].get("log-read-url") or "")
        while url and not follower.ended:
            chunk = self.client.read_log(url, offset=follower.offset, limit=65536)
            if not chunk:
                return
            for line in follower.take(chunk):
                self._lines.append(line)
                shown, event = events.feed(line)
                if event is not None:
                    self._emit(event)
                if shown is not None and on_line is not None:
                    on_line(shown)

    def _check(self, run: dict[str, Any], events: Events, action: str) -> Events:
        status = run["attributes"]["status"]
        if status in ("applied", "planned_and_finished"):
            return events
        if status in STOPPED_BY_POLICY:
            raise InfrastructureError(
                f"{action} stopped by a policy check in Terraform Cloud (run {self.run_id} is {status}): review it at"
                f" {self.run_url}; the engine never overrides a policy: override it there if it is intended, then"
                " deploy again",
                stack=self.name,
            )
        if status == "errored":  # the run's log says why: terraform's diagnostics, or an init's `Error:` text
            result = ProcessResult(1, "\n".join(self._lines[-30:]), "\n".join(self._lines))
            error = self.local.failure(action, result, events)
            error.add_note(f"Terraform Cloud run: {self.run_url}")
            raise error
        raise CloudProviderError(
            f"run {self.run_id} was {status} in Terraform Cloud: {self.run_url}", provider="terraform", stack=self.name
        )

    def _stop(self, why: str) -> None:
        """Cancel (or discard) the run this runner started, and wait until it has stopped: no run is left
        queued or holding the workspace."""
        if self.run_id is None:
            return
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline:
            run, _ = self._read_run()
            status, actions = run["attributes"]["status"], run["attributes"].get("actions") or {}
            if status in FINAL:
                return
            if actions.get("is-discardable"):
                self.client.call("POST", f"runs/{quote(self.run_id)}/actions/discard", {"comment": why})
            elif actions.get("is-cancelable"):
                self.client.call("POST", f"runs/{quote(self.run_id)}/actions/cancel", {"comment": why})
            time.sleep(POLL_SECONDS)


def _archive(folder: Path) -> bytes:
    """The stack folder as a configuration version: a tar.gz without provider binaries, plans or state."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            kept = not any(part in NOT_UPLOADED for part in relative.parts)
            if path.is_file() and kept and not relative.name.startswith(".terraform-"):  # this machine's run logs
                tar.add(path, arcname=str(relative), recursive=False)
    return buffer.getvalue()


@dataclass(frozen=True)
class TfcRunExecutor(Executor):
    """Runs in Terraform Cloud for every stack, in the workspace named like it."""

    client: TfeClient
    organization: str
    local: Callable[[Path, str, Path | None], StackDir]
    """How to make a stack's local `StackDir` (see `RemoteRun.local`)."""
    on_event: EventSink | None = None

    def stack(self, outdir: Path, name: str, *, log_dir: Path | None) -> RemoteRun:
        return RemoteRun(self.client, self.organization, self.local(outdir, name, log_dir), self.on_event)
