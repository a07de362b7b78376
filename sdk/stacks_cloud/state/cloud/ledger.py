"""`TfcLedger`: the ledger of the `cloud` backend, kept in Terraform Cloud itself, in a workspace of its own.

Every clone with the same config sees the same history and the same environment lock, as with the S3
store, using only what the TFE API gives a token that may manage the app's workspaces:

- one workspace per app and environment, `<app>-<env>-stacks-cloud-ledger` (local execution: it never
  runs anything; tagged `stacks-cloud`, `stacks-cloud-ledger`, `app:<app>`, `env:<env>`), whose
  current state version holds the whole history and the environment lock as one output (a JSON document,
  every secret masked before it is encoded). It has no resources: deleting it, or any of its versions,
  changes no infrastructure, only forgets history.
- compare-and-swap from the state versions' own checks: a write reads the current version (serial N),
  locks the workspace, creates version N+1 with the same lineage, unlocks. Terraform Cloud refuses a
  serial that is not above the current one (409), so of two writers who read N, the second is refused
  and reads again: no update is lost. The workspace lock is held only for the write itself; one held
  for more than `STALE_LOCK_SECONDS` (a writer killed between lock and unlock) is force-unlocked.
- each deployment's synthesized stacks (for rollback and destroy) as a configuration version of the
  ledger workspace: the API's own way of keeping a tar.gz; pruned ones are archived through the API.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from stacks_cloud.config import CloudStateSettings
from stacks_cloud.core.errors import InfrastructureError, LedgerError
from stacks_cloud.models import FINAL_STATES, DeploymentRecord
from stacks_cloud.state.ledger import Ledger, LockHolder, masked, new_record, record_from, stack_run
from stacks_cloud.terraform.tfe_api import TfeClient, data_of, quote

LEASE_SECONDS = 600.0
"""How long the environment lock lasts without renewal (as the S3 store's)."""
STALE_LOCK_SECONDS = 30.0
"""A ledger write holds the workspace lock for well under a second: one held longer was left by a killed writer."""
OUTPUT = "stacks_cloud_ledger"
LEDGER_TAG = "stacks-cloud-ledger"

Change = Callable[[dict[str, Any]], Any]


class _RefusedError(Exception):
    """The document did not allow the change (a lock already held, an id already recorded)."""


def ledger_workspace(app: str, environment: str) -> str:
    return f"{app}-{environment}-stacks-cloud-ledger"


class TfcLedger(Ledger):
    """The ledger of one app's environment in its Terraform Cloud ledger workspace."""

    lease_seconds: float | None = LEASE_SECONDS

    def __init__(self, client: TfeClient, settings: CloudStateSettings, *, app: str, environment: str) -> None:
        self.client = client
        self.settings = settings
        self.app, self.environment = app, environment
        self.workspace_name = ledger_workspace(app, environment)
        self.location = f"{settings.hostname}/{settings.organization}/workspaces/{self.workspace_name}"
        self._workspace_id: str | None = None

    # --- the document and its compare-and-swap -------------------------------------------------------------

    def _workspace(self, *, create: bool) -> str | None:
        if self._workspace_id is None:
            found = self.client.workspace(self.settings.organization, self.workspace_name)
            if found is None and create:
                try:
                    found = self.client.create_workspace(
                        self.settings.organization,
                        self.workspace_name,
                        execution_mode="local",
                        tags=sorted({"stacks-cloud", LEDGER_TAG, f"app:{self.app}", f"env:{self.environment}"}),
                        project_id=None,
                    )
                except InfrastructureError:  # another writer created it first
                    found = self.client.workspace(self.settings.organization, self.workspace_name)
                    if found is None:
                        raise
            if found is not None:
                self._workspace_id = str(found["id"])
        return self._workspace_id

    def _read(self) -> tuple[dict[str, Any], int, str]:
        """The document, the serial of the state version holding it (0: none yet) and its lineage."""
        empty: dict[str, Any] = {"deployments": {}, "stacks": {}, "archives": {}, "lock": None}
        workspace = self._workspace(create=False)
        if workspace is None:
            return empty, 0, str(uuid.uuid4())
        status, payload = self._call("GET", f"workspaces/{quote(workspace)}/current-state-version")
        if status == 404:
            return empty, 0, str(uuid.uuid4())
        version = data_of(status, payload, f"reading {self.location}")
        url = str(version["attributes"].get("hosted-state-download-url") or "")
        state = json.loads(self.client.download(url))
        document = json.loads(state["outputs"][OUTPUT]["value"])
        return {**empty, **document}, int(state["serial"]), str(state["lineage"])

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        try:
            return self.client.call(method, path, body)
        except InfrastructureError as error:
            raise LedgerError(str(error), store=self.location, fix="check that Terraform Cloud answers") from None

    def _write(self, document: dict[str, Any], serial: int, lineage: str) -> bool:
        """Store `document` as state version `serial`; False when another writer got there first."""
        workspace = self._workspace(create=True)
        assert workspace is not None
        state = {
            "version": 4,
            "terraform_version": "1.11.4",
            "serial": serial,
            "lineage": lineage,
            "outputs": {OUTPUT: {"value": json.dumps(document, sort_keys=True), "type": "string"}},
            "resources": [],
            "check_results": None,
        }
        raw = json.dumps(state).encode()
        if not self._lock_workspace(workspace):
            return False
        try:
            body = {
                "data": {
                    "type": "state-versions",
                    "attributes": {
                        "serial": serial,
                        "md5": hashlib.md5(raw).hexdigest(),
                        "lineage": lineage,
                        "state": base64.b64encode(raw).decode(),
                    },
                }
            }
            status, payload = self._call("POST", f"workspaces/{quote(workspace)}/state-versions", body)
            if status == 409:
                return False  # a newer version was written after our read
            data_of(status, payload, f"writing {self.location}")
            return True
        finally:
            self._call("POST", f"workspaces/{quote(workspace)}/actions/unlock")

    def _lock_workspace(self, workspace: str) -> bool:
        held_since: float | None = None
        while True:
            status, _ = self._call("POST", f"workspaces/{quote(workspace)}/actions/lock", {"reason": "stacks-cloud"})
            if status < 300:
                return True
            if status != 409:
                raise LedgerError(f"Terraform Cloud refused to lock it (HTTP {status})", store=self.location)
            held_since = held_since or time.monotonic()
            if time.monotonic() - held_since > STALE_LOCK_SECONDS:  # a writer died between lock and unlock
                self._call("POST", f"workspaces/{quote(workspace)}/actions/force-unlock")
                held_since = None
            time.sleep(0.1)

    def _update(self, change: Change) -> Any:
        """Apply `change` to the current document and store it, again on a fresh read until no other writer
        came in between. Returns what `change` returned."""
        for attempt in range(40):
            document, serial, lineage = self._read()
            result = change(document)
            if self._write(document, serial + 1, lineage):
                return result
            time.sleep(min(0.05 * (attempt + 1), 0.5))
        raise LedgerError("the ledger kept changing under this write (40 attempts).", store=self.location)

    # --- deployments ---------------------------------------------------------------------------------------

    def start(
        self,
        deployment_id: str,
        *,
        app: str,
        environment: str,
        version: str,
        provider: str,
        config_hash: str,
        rollback_of: str | None = None,
        kind: str = "deploy",
        config_snapshot: dict[str, Any] | None = None,
    ) -> None:
        record = new_record(
            deployment_id,
            app=app,
            environment=environment,
            version=version,
            provider=provider,
            config_hash=config_hash,
            rollback_of=rollback_of,
            kind=kind,
            config_snapshot=config_snapshot,
        )

        def change(document: dict[str, Any]) -> None:
            if deployment_id in document["deployments"]:
                raise _RefusedError
            document["deployments"][deployment_id] = record

        try:
            self._update(change)
        except _RefusedError:
            raise LedgerError(f"a deployment {deployment_id!r} is already recorded.", store=self.location) from None

    def _change_record(self, deployment_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        def apply(document: dict[str, Any]) -> None:
            record = document["deployments"].get(deployment_id)
            if record is None:
                raise LedgerError(f"deployment {deployment_id!r} is not recorded.", store=self.location)
            change(record)

        self._update(apply)

    def set_status(self, deployment_id: str, status: str, *, error: str | None = None, url: str | None = None) -> None:
        def change(record: dict[str, Any]) -> None:
            record["status"] = status
            if error is not None:
                record["error"] = masked(error)
            if url is not None:
                record["url"] = masked(url)
            if status in FINAL_STATES and record.get("finished_at") is None:
                record["finished_at"] = time.time()

        self._change_record(deployment_id, change)

    def set_checks(self, deployment_id: str, checks: str) -> None:
        self._change_record(deployment_id, lambda record: record.update(checks=masked(checks)))

    def set_rollout(self, deployment_id: str, rollout: dict[str, Any]) -> None:
        self._change_record(deployment_id, lambda record: record.update(rollout=masked(rollout)))

    def set_stack(
        self,
        deployment_id: str,
        stack: str,
        status: str,
        *,
        outputs: dict[str, Any] | None = None,
        seconds: float | None = None,
        error: str | None = None,
        run: dict[str, str] | None = None,
    ) -> None:
        def change(document: dict[str, Any]) -> None:
            stacks = document["stacks"].setdefault(deployment_id, {})
            stacks[stack] = stack_run(
                stacks.get(stack) or {}, status, outputs=outputs, seconds=seconds, error=error, run=run
            )

        self._update(change)

    def put_archive(self, deployment_id: str, data: bytes) -> None:
        workspace = self._workspace(create=True)
        assert workspace is not None
        body = {"data": {"type": "configuration-versions", "attributes": {"auto-queue-runs": False}}}
        status, payload = self._call("POST", f"workspaces/{quote(workspace)}/configuration-versions", body)
        version = data_of(status, payload, f"archiving {deployment_id} in {self.location}")
        self.client.upload(str(version["attributes"]["upload-url"]), data)

        def change(document: dict[str, Any]) -> None:
            document["archives"][deployment_id] = str(version["id"])
            if deployment_id in document["deployments"]:
                document["deployments"][deployment_id]["has_archive"] = True

        self._update(change)

    def get_archive(self, deployment_id: str) -> bytes | None:
        version = self._read()[0]["archives"].get(deployment_id)
        if version is None:
            return None
        return self.client.download_from(f"configuration-versions/{quote(version)}/download")

    def delete_archive(self, deployment_id: str) -> None:
        def change(document: dict[str, Any]) -> str | None:
            if deployment_id in document["deployments"]:
                document["deployments"][deployment_id]["has_archive"] = False
            archived: str | None = document["archives"].pop(deployment_id, None)
            return archived

        version = self._update(change)
        if version is not None:  # the API keeps the version's metadata and drops its files
            self._call("POST", f"configuration-versions/{quote(version)}/actions/archive")

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        document = self._read()[0]
        return _record(document, deployment_id) if deployment_id in document["deployments"] else None

    def history(self, app: str, environment: str, limit: int = 20) -> list[DeploymentRecord]:
        document = self._read()[0]
        records = document["deployments"]
        ids = [i for i in records if (records[i]["app"], records[i]["environment"]) == (app, environment)]
        ids.sort(key=lambda i: records[i]["started_at"], reverse=True)
        return [_record(document, i) for i in ids[:limit]]

    def import_history(self, local: Ledger) -> int:
        """Copy `local`'s history of this environment (records, stack runs, archives) into this ledger, once:
        what the `cloud` backend kept on the deploying machine before 0.3. Nothing is copied when this ledger
        already has history. Returns how many deployments were copied."""
        records = local.history(self.app, self.environment, limit=100_000)
        if not records:
            return 0

        def change(document: dict[str, Any]) -> None:
            if document["deployments"]:
                raise _RefusedError
            for record in records:
                data = {key: value for key, value in asdict(record).items() if key != "stacks"}
                document["deployments"][record.id] = {**data, "has_archive": False}
                document["stacks"][record.id] = record.stacks

        try:
            self._update(change)
        except _RefusedError:
            return 0
        for record in records:
            archive = local.get_archive(record.id) if record.has_archive else None
            if archive is not None:
                self.put_archive(record.id, archive)
        return len(records)

    # --- the environment lock ------------------------------------------------------------------------------

    def read_lock(self, app: str, environment: str) -> LockHolder | None:
        lock = self._read()[0]["lock"]
        return LockHolder.from_dict(lock, token=str(lock["nonce"])) if lock else None

    def create_lock(self, app: str, environment: str, holder: LockHolder) -> LockHolder | None:
        stored = {**holder.as_dict(), "nonce": uuid.uuid4().hex}

        def change(document: dict[str, Any]) -> None:
            if document["lock"] is not None:
                raise _RefusedError
            document["lock"] = stored

        try:
            self._update(change)
        except _RefusedError:
            return None
        return LockHolder.from_dict(stored, token=stored["nonce"])

    def replace_lock(
        self, app: str, environment: str, expected: LockHolder, holder: LockHolder | None
    ) -> LockHolder | bool | None:
        stored = {**holder.as_dict(), "nonce": uuid.uuid4().hex} if holder is not None else None

        def change(document: dict[str, Any]) -> None:
            current = document["lock"]
            if current is None or current.get("nonce") != expected.token:
                raise _RefusedError
            document["lock"] = stored

        try:
            self._update(change)
        except _RefusedError:
            return False
        return LockHolder.from_dict(stored, token=stored["nonce"]) if stored is not None else None


def _record(document: dict[str, Any], deployment_id: str) -> DeploymentRecord:
    return record_from(document["deployments"][deployment_id], document["stacks"].get(deployment_id) or {})


__all__ = ["LEASE_SECONDS", "TfcLedger", "ledger_workspace"]
