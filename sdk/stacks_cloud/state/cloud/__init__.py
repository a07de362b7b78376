"""The `cloud` backend: a Terraform Cloud (HCP Terraform, Terraform Enterprise) workspace per stack.

- state: the workspace named like the stack, which keeps its state versions and locks it during a run;
  cdktf's cross-stack references read the regional outputs through the `remote` backend;
- ledger and environment lock: in Terraform Cloud itself, a workspace of the app's environment whose state
  versions hold them (`TfcLedger`), so every clone sees the same history and one run per environment;
- state locks: the workspace's lock (removed with the API's force-unlock);
- bootstrap, and before every deploy and plan: the missing workspaces are created, and existing ones
  given the configured execution mode, tags and project (`tfe.bootstrap_workspaces`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from stacks_cloud.config import CloudConfig, CloudStateSettings, StateConfig
from stacks_cloud.core.errors import CloudProviderError, Problem
from stacks_cloud.models import StateLock
from stacks_cloud.state.base import BootstrapOutcome, RunNeeds, StateBackend
from stacks_cloud.state.cloud.ledger import TfcLedger
from stacks_cloud.state.cloud.tfe import bootstrap_workspaces, client_for, prepare_runs
from stacks_cloud.state.ledger import Ledger
from stacks_cloud.state.local import state_folder
from stacks_cloud.state.sqlite_ledger import SqliteLedger
from stacks_cloud.terraform.executor import Executor
from stacks_cloud.terraform.local import LocalExecutor
from stacks_cloud.terraform.tfc_run import TfcRunExecutor
from stacks_cloud.terraform.tfe_api import TfeClient, find_token

LOGGER = logging.getLogger("stacks_cloud")

if TYPE_CHECKING:
    from stacks_cloud.cdk import TerraformStack

__all__ = ["CloudStateBackend", "TfeClient", "bootstrap_workspaces", "find_token"]


def _settings(config: CloudConfig) -> CloudStateSettings:
    settings = config.state.cloud
    if settings is None:  # `problems` refuses such a config before any of this runs
        raise CloudProviderError("state.cloud is not set", provider="terraform")
    return settings


class CloudStateBackend(StateBackend):
    name = "cloud"

    def minimum_terraform(self, config: CloudConfig) -> tuple[int, int]:
        return (1, 6)  # the `cloud` block's `project` attribute

    def problems(self, state: StateConfig) -> list[Problem]:
        if state.cloud is not None:
            return []
        return [
            Problem("state.cloud", None, "is required when backend is 'cloud'.", "add e.g. {'organization': 'acme'}.")
        ]

    def configure_stack(
        self, stack: TerraformStack, name: str, config: CloudConfig, *, project_dir: Path, outdir: Path
    ) -> None:
        from stacks_cloud.cdk import CloudBackend, NamedCloudWorkspace  # synth only

        cloud = _settings(config)
        CloudBackend(
            stack,
            organization=cloud.organization,
            hostname=cloud.hostname,
            workspaces=NamedCloudWorkspace(name, cloud.project),
        )

    def open_ledger(self, config: CloudConfig, project_dir: Path) -> Ledger:
        """History and the environment lock in Terraform Cloud itself (see `state.cloud.ledger`). A project that
        deployed with this backend before 0.3 kept its history on the deploying machine: it is copied there
        on the first use (once per environment: not when Terraform Cloud already has history)."""
        settings = _settings(config)
        ledger = TfcLedger(client_for(settings), settings, app=config.app_name, environment=config.environment)
        local = state_folder(config, project_dir) / "ledger.sqlite"
        if local.is_file():
            copied = ledger.import_history(SqliteLedger(local))
            if copied:
                LOGGER.warning(
                    "copied %d deployment(s) of %s from %s to %s", copied, config.environment, local, ledger.location
                )
        return ledger

    def bootstrap(self, config: CloudConfig, stacks: list[str]) -> BootstrapOutcome:
        report = bootstrap_workspaces(_settings(config), stacks, app=config.app_name, environment=config.environment)
        return BootstrapOutcome(str(report), created=report.created, updated=report.updated, existing=report.existing)

    def prepare(self, config: CloudConfig, needs: RunNeeds) -> BootstrapOutcome:
        """Each stack's workspace exists with the configured execution mode, tags and project before terraform
        runs (terraform's own init would create it with the organization's default, remote, execution mode).
        For runs in Terraform Cloud, also: each workspace shares its state with the workspaces that read its
        outputs (remote-state consumers, not the whole organization), and holds the environment the runs
        need as sensitive variables (written every time, never read back)."""
        outcome = self.bootstrap(config, needs.stacks)
        if self.runs_elsewhere(config):
            settings = _settings(config)
            prepare_runs(client_for(settings), settings.organization, needs.dependencies, needs.environment)
        return outcome

    def applied_identity(self, config: CloudConfig, stack: str) -> dict[str, str] | None:
        """The workspace and the state version a local apply wrote to it."""
        settings = _settings(config)
        tfe = client_for(settings)
        workspace = tfe.workspace(settings.organization, stack)
        current = ((workspace or {}).get("relationships", {}).get("current-state-version") or {}).get("data")
        if not current:
            return None
        where = f"https://{settings.hostname}/app/{settings.organization}/workspaces/{stack}"
        return {"workspace": stack, "state_version": str(current["id"]), "url": f"{where}/states/{current['id']}"}

    def runs_elsewhere(self, config: CloudConfig) -> bool:
        return _settings(config).runs_remotely

    def executor(self, config: CloudConfig, local: LocalExecutor) -> Executor:
        settings = _settings(config)
        if not settings.runs_remotely:
            return local
        return TfcRunExecutor(
            client_for(settings),
            settings.organization,
            local=lambda outdir, name, log_dir: local.stack(outdir, name, log_dir=log_dir),
            on_event=local.on_event,
        )

    def state_locks(self, config: CloudConfig, stacks: list[str]) -> list[StateLock]:
        settings = _settings(config)
        tfe = client_for(settings)
        locks = []
        for stack in stacks:
            workspace = tfe.workspace(settings.organization, stack)
            if workspace is None or not workspace.get("attributes", {}).get("locked"):
                continue
            holder = ((workspace.get("relationships") or {}).get("locked-by") or {}).get("data") or {}
            if settings.runs_remotely and holder.get("type") == "runs":
                continue  # a run in progress: runs queue behind it in Terraform Cloud, nothing was left behind
            locks.append(
                StateLock(
                    stack=stack,
                    lock_id=str(workspace["id"]),
                    who="a run or a user of Terraform Cloud (the workspace page says which)",
                    created="unknown",
                    operation="workspace lock",
                    where=f"{settings.hostname}/{settings.organization}/workspaces/{stack}",
                )
            )
        return locks

    def remove_state_lock(self, config: CloudConfig, lock: StateLock) -> None:
        settings = _settings(config)
        tfe = client_for(settings)
        workspace = tfe.workspace(settings.organization, lock.stack)
        if workspace is None or str(workspace["id"]) != lock.lock_id or not workspace["attributes"].get("locked"):
            raise CloudProviderError(f"{lock.stack}: the workspace is no longer locked as listed", provider="terraform")
        status, _ = tfe.call("POST", f"workspaces/{lock.lock_id}/actions/force-unlock")
        if status >= 300:
            raise CloudProviderError(
                f"{lock.stack}: Terraform Cloud refused to unlock (HTTP {status})", provider="terraform"
            )
