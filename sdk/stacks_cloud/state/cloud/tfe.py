"""Terraform Cloud (HCP Terraform, Terraform Enterprise) workspaces for the `cloud` state backend.

One workspace per stack, named like the stack. `bootstrap_workspaces` creates the missing ones through
the TFE v2 API with the settings a team expects, and corrects the execution mode and tags of existing
ones; `cloud bootstrap` and every `cloud deploy` run it (idempotent). The token is found where
terraform finds it: `TF_TOKEN_<host>`, a `credentials` block of the CLI config (`TF_CLI_CONFIG_FILE`,
else `~/.terraformrc`), or `credentials.tfrc.json` written by `terraform login`.

    from stacks_cloud.state.cloud.tfe import bootstrap_workspaces
    report = bootstrap_workspaces(config.state.cloud, ["shop-production-us-east-1", ...], app="shop",
                                  environment="production")
    print(report)  # "created workspaces shop-production-us-east-1, ..." or "... already exist"
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stacks_cloud.config import CloudStateSettings
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.terraform.tfe_api import TfeClient, agent_pool, data_of, find_token, quote

MANAGED_TAG = "stacks-cloud"


def workspace_tags(settings: CloudStateSettings, *, app: str, environment: str) -> list[str]:
    """The tags every workspace of `app` in `environment` carries."""
    return sorted({MANAGED_TAG, f"app:{app}", f"env:{environment}", *settings.tags})


@dataclass
class WorkspaceReport:
    """What `bootstrap_workspaces` did, by workspace name."""

    hostname: str
    organization: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = f"{self.hostname}/{self.organization}"
        parts = []
        if self.created:
            parts.append(f"created workspaces {', '.join(self.created)}")
        if self.updated:
            parts.append(f"updated the execution mode or tags of {', '.join(self.updated)}")
        if not parts:
            return f"{where}: nothing to create ({', '.join(self.existing)} already exist)"
        return f"{where}: " + "; ".join(parts)


def client_for(settings: CloudStateSettings) -> TfeClient:
    """An API client with the token terraform would use for `settings.hostname` (a `ConfigError` if none)."""
    token = find_token(settings.hostname)
    if token is None:
        raise ConfigError(
            "Terraform Cloud",
            [
                Problem(
                    "state.cloud.hostname",
                    settings.hostname,
                    "has no API token on this machine.",
                    f"run `terraform login {settings.hostname}` (or set TF_TOKEN_"
                    f"{settings.hostname.replace('.', '_')}), then try again.",
                )
            ],
        )
    return TfeClient(settings.hostname, token)


def _project_id(client: TfeClient, settings: CloudStateSettings) -> str | None:
    """The id of the configured project (None: the organization's default); a `ConfigError` if unknown."""
    if not settings.project:
        return None
    project_id = client.project_id(settings.organization, settings.project)
    if project_id is None:
        raise ConfigError(
            "Terraform Cloud",
            [
                Problem(
                    "state.cloud.project",
                    settings.project,
                    f"is not a project of the organization {settings.organization!r}.",
                    "create it in Terraform Cloud, or fix the name (or remove it: the default project).",
                )
            ],
        )
    return project_id


def bootstrap_workspaces(
    settings: CloudStateSettings,
    stacks: list[str],
    *,
    app: str,
    environment: str,
    client: TfeClient | None = None,
) -> WorkspaceReport:
    """Make sure each stack's workspace exists with the configured execution mode, tags and project."""
    client = client or client_for(settings)
    organization = settings.organization
    project_id = _project_id(client, settings)
    tags = workspace_tags(settings, app=app, environment=environment)
    report = WorkspaceReport(settings.hostname, organization)
    for name in stacks:
        workspace = client.workspace(organization, name)
        if workspace is None:
            client.create_workspace(
                organization,
                name,
                execution_mode=settings.execution_mode,
                tags=tags,
                project_id=project_id,
                agent_pool_id=settings.agent_pool_id,
            )
            report.created.append(name)
            continue
        attributes = workspace.get("attributes", {})
        changes: dict[str, Any] = {}
        if attributes.get("execution-mode") != settings.execution_mode:
            changes["execution-mode"] = settings.execution_mode
        if not set(tags) <= set(attributes.get("tag-names") or []):
            changes["tag-names"] = sorted(set(tags) | set(attributes.get("tag-names") or []))
        pool = ((workspace.get("relationships") or {}).get("agent-pool") or {}).get("data") or {}
        if settings.agent_pool_id and pool.get("id") != settings.agent_pool_id:
            changes["execution-mode"] = settings.execution_mode
        if changes:
            client.update_workspace(str(workspace["id"]), changes, agent_pool(settings.agent_pool_id))
            report.updated.append(name)
        else:
            report.existing.append(name)
    return report


def prepare_runs(
    client: TfeClient, organization: str, dependencies: dict[str, set[str]], environment: dict[str, str]
) -> None:
    """What runs in Terraform Cloud need: every workspace a stack reads outputs from lists it as a remote-state
    consumer, and every workspace holds `environment` as sensitive environment variables."""
    ids = {name: str(workspace["id"]) for name in dependencies if (workspace := client.workspace(organization, name))}
    for reader, sources in dependencies.items():
        for source in sorted(sources):
            if reader in ids and source in ids:
                share = {"data": [{"type": "workspaces", "id": ids[reader]}]}
                status, payload = client.call(
                    "POST", f"workspaces/{quote(ids[source])}/relationships/remote-state-consumers", share
                )
                data_of(status, payload or {"data": None}, f"letting {reader} read the state of {source}")
    for name, workspace_id in ids.items():
        _write_variables(client, name, workspace_id, environment)


def _write_variables(client: TfeClient, name: str, workspace_id: str, environment: dict[str, str]) -> None:
    status, payload = client.call("GET", f"workspaces/{quote(workspace_id)}/vars")
    existing = {
        item["attributes"]["key"]: str(item["id"])
        for item in data_of(status, payload, f"listing the variables of {name}") or []
        if item["attributes"].get("category") == "env"
    }
    for key, value in sorted(environment.items()):
        attributes = {"key": key, "value": value, "category": "env", "sensitive": True}
        body = {"data": {"type": "vars", "attributes": attributes}}
        if key in existing:
            status, payload = client.call("PATCH", f"workspaces/{quote(workspace_id)}/vars/{existing[key]}", body)
        else:
            status, payload = client.call("POST", f"workspaces/{quote(workspace_id)}/vars", body)
        data_of(status, payload, f"setting {key} on {name}")
