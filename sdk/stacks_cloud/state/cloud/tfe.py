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

import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks_cloud.config import CloudStateSettings
from stacks_cloud.core.errors import ConfigError, InfrastructureError, Problem
from stacks_cloud.core.secrets import register_secret

MANAGED_TAG = "stacks-cloud"
TIMEOUT = 30.0


def workspace_tags(settings: CloudStateSettings, *, app: str, environment: str) -> list[str]:
    """The tags every workspace of `app` in `environment` carries."""
    return sorted({MANAGED_TAG, f"app:{app}", f"env:{environment}", *settings.tags})


def find_token(hostname: str, env: dict[str, str] | None = None) -> str | None:
    """The API token for `hostname`, found as terraform finds it (see the module doc); None if none."""
    env = dict(os.environ) if env is None else env
    variable = "TF_TOKEN_" + hostname.replace("-", "__").replace(".", "_")
    if env.get(variable):
        return env[variable]
    config = Path(env["TF_CLI_CONFIG_FILE"]) if env.get("TF_CLI_CONFIG_FILE") else Path.home() / ".terraformrc"
    if config.is_file():
        block = re.search(
            r'credentials\s+"' + re.escape(hostname) + r'"\s*\{[^}]*?token\s*=\s*"([^"]+)"', config.read_text()
        )
        if block:
            return block[1]
    config_dir = Path(env["TF_CLI_CONFIG_DIR"]) if env.get("TF_CLI_CONFIG_DIR") else Path.home() / ".terraform.d"
    stored = config_dir / "credentials.tfrc.json"
    if stored.is_file():
        try:
            token = json.loads(stored.read_text())["credentials"][hostname]["token"]
        except (ValueError, KeyError, TypeError):
            return None
        return str(token)
    return None


class TfeClient:
    """The few TFE v2 API calls workspace bootstrap needs (JSON:API over HTTPS)."""

    def __init__(self, hostname: str, token: str, *, context: ssl.SSLContext | None = None) -> None:
        register_secret(token)
        self.hostname = hostname
        self.base = f"https://{hostname}/api/v2/"
        self._token = token
        self._context = context or ssl.create_default_context()  # honours SSL_CERT_FILE

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.base + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/vnd.api+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=self._context) as response:
                raw = response.read()
                return int(response.status), json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                payload = json.loads(raw) if raw else None
            except ValueError:
                payload = None
            if error.code == 401:
                raise InfrastructureError(
                    f"Terraform Cloud at {self.hostname} refused the API token (401 unauthorized). Run"
                    f" `terraform login {self.hostname}`, or set TF_TOKEN_{self.hostname.replace('.', '_')}"
                ) from None
            return error.code, payload
        except (urllib.error.URLError, OSError) as error:
            raise InfrastructureError(
                f"Terraform Cloud at {self.hostname} cannot be reached: {getattr(error, 'reason', error)}"
            ) from None

    def workspace(self, organization: str, name: str) -> dict[str, Any] | None:
        status, payload = self.call("GET", f"organizations/{_q(organization)}/workspaces/{_q(name)}")
        if status == 404:
            return None
        workspace: dict[str, Any] = _data(status, payload, f"reading workspace {name}")
        return workspace

    def project_id(self, organization: str, name: str) -> str | None:
        status, payload = self.call("GET", f"organizations/{_q(organization)}/projects?filter%5Bnames%5D={_q(name)}")
        if status == 404:
            raise _unknown_organization(organization)
        projects = _data(status, payload, f"listing projects of {organization}")
        for project in projects if isinstance(projects, list) else []:
            if project.get("attributes", {}).get("name") == name:
                return str(project["id"])
        return None

    def create_workspace(
        self, organization: str, name: str, *, execution_mode: str, tags: list[str], project_id: str | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "data": {
                "type": "workspaces",
                "attributes": {"name": name, "execution-mode": execution_mode, "tag-names": tags},
            }
        }
        if project_id:
            body["data"]["relationships"] = {"project": {"data": {"id": project_id, "type": "projects"}}}
        status, payload = self.call("POST", f"organizations/{_q(organization)}/workspaces", body)
        if status == 404:
            raise _unknown_organization(organization)
        created: dict[str, Any] = _data(status, payload, f"creating workspace {name}")
        return created

    def update_workspace(self, workspace_id: str, attributes: dict[str, Any]) -> dict[str, Any]:
        body = {"data": {"type": "workspaces", "attributes": attributes}}
        status, payload = self.call("PATCH", f"workspaces/{_q(workspace_id)}", body)
        updated: dict[str, Any] = _data(status, payload, f"updating workspace {workspace_id}")
        return updated


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
                organization, name, execution_mode=settings.execution_mode, tags=tags, project_id=project_id
            )
            report.created.append(name)
            continue
        attributes = workspace.get("attributes", {})
        changes: dict[str, Any] = {}
        if attributes.get("execution-mode") != settings.execution_mode:
            changes["execution-mode"] = settings.execution_mode
        if not set(tags) <= set(attributes.get("tag-names") or []):
            changes["tag-names"] = sorted(set(tags) | set(attributes.get("tag-names") or []))
        if changes:
            client.update_workspace(str(workspace["id"]), changes)
            report.updated.append(name)
        else:
            report.existing.append(name)
    return report


def _q(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def _data(status: int, payload: Any, doing: str) -> Any:
    if 200 <= status < 300 and isinstance(payload, dict):
        return payload.get("data")
    errors = payload.get("errors") if isinstance(payload, dict) else None
    detail = "; ".join(str(e.get("detail") or e.get("title")) for e in errors or []) or f"HTTP {status}"
    raise InfrastructureError(f"Terraform Cloud refused {doing}: {detail}")


def _unknown_organization(organization: str) -> ConfigError:
    return ConfigError(
        "Terraform Cloud",
        [
            Problem(
                "state.cloud.organization",
                organization,
                "is not an organization this token can see.",
                "check the name in Terraform Cloud's settings, and that the token belongs to a member.",
            )
        ],
    )
