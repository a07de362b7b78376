"""The TFE v2 API (Terraform Cloud, HCP Terraform, Terraform Enterprise) over HTTPS: JSON:API calls, uploads,
log reads, and the API token found where terraform finds it.

Used by the `cloud` state backend (workspaces, locks, variables, remote-state consumers) and by the
Terraform Cloud run executor (configuration versions, runs, logs).
"""

from __future__ import annotations

import json
import os
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from stacks_cloud.core.errors import ConfigError, InfrastructureError, Problem
from stacks_cloud.core.secrets import register_secret

TIMEOUT = 30.0


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

    def upload(self, url: str, data: bytes) -> None:
        """PUT `data` to a signed upload URL (a configuration version's archive)."""
        request = urllib.request.Request(
            url, method="PUT", data=data, headers={"Content-Type": "application/octet-stream"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=self._context) as response:
                response.read()
        except (urllib.error.URLError, OSError) as error:
            raise InfrastructureError(
                f"Terraform Cloud at {self.hostname} refused the upload: {getattr(error, 'reason', error)}"
            ) from None

    def download(self, url: str) -> bytes:
        """GET a signed download URL the API gave (a state version's, an archive's); the token goes along only
        to the API's own host."""
        headers = (
            {"Authorization": f"Bearer {self._token}"} if urllib.parse.urlparse(url).netloc == self.hostname else {}
        )
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT, context=self._context) as response:
                return bytes(response.read())
        except (urllib.error.URLError, OSError) as error:
            raise InfrastructureError(
                f"Terraform Cloud at {self.hostname} cannot be read: {getattr(error, 'reason', error)}"
            ) from None

    def download_from(self, path: str) -> bytes:
        """The bytes an API path answers with (following its redirect to the archive), e.g. a configuration
        version's `download`."""
        return self.download(self.base + path)

    def read_log(self, url: str, *, offset: int, limit: int) -> bytes:
        """Bytes `offset` to `offset + limit` of a plan's or apply's log (its signed `log-read-url`)."""
        separator = "&" if "?" in url else "?"
        return self.download(f"{url}{separator}offset={offset}&limit={limit}")

    def workspace(self, organization: str, name: str) -> dict[str, Any] | None:
        status, payload = self.call("GET", f"organizations/{quote(organization)}/workspaces/{quote(name)}")
        if status == 404:
            return None
        workspace: dict[str, Any] = data_of(status, payload, f"reading workspace {name}")
        return workspace

    def project_id(self, organization: str, name: str) -> str | None:
        status, payload = self.call(
            "GET", f"organizations/{quote(organization)}/projects?filter%5Bnames%5D={quote(name)}"
        )
        if status == 404:
            raise unknown_organization(organization)
        projects = data_of(status, payload, f"listing projects of {organization}")
        for project in projects if isinstance(projects, list) else []:
            if project.get("attributes", {}).get("name") == name:
                return str(project["id"])
        return None

    def create_workspace(
        self,
        organization: str,
        name: str,
        *,
        execution_mode: str,
        tags: list[str],
        project_id: str | None,
        agent_pool_id: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "data": {
                "type": "workspaces",
                "attributes": {"name": name, "execution-mode": execution_mode, "tag-names": tags},
                "relationships": agent_pool(agent_pool_id),
            }
        }
        if project_id:
            body["data"]["relationships"]["project"] = {"data": {"id": project_id, "type": "projects"}}
        status, payload = self.call("POST", f"organizations/{quote(organization)}/workspaces", body)
        if status == 404:
            raise unknown_organization(organization)
        created: dict[str, Any] = data_of(status, payload, f"creating workspace {name}")
        return created

    def update_workspace(
        self, workspace_id: str, attributes: dict[str, Any], relationships: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = {"data": {"type": "workspaces", "attributes": attributes, "relationships": relationships or {}}}
        status, payload = self.call("PATCH", f"workspaces/{quote(workspace_id)}", body)
        updated: dict[str, Any] = data_of(status, payload, f"updating workspace {workspace_id}")
        return updated


def agent_pool(pool_id: str | None) -> dict[str, Any]:
    """A workspace's `agent-pool` relationship (none without a pool)."""
    return {"agent-pool": {"data": {"id": pool_id, "type": "agent-pools"}}} if pool_id else {}


def quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def data_of(status: int, payload: Any, doing: str) -> Any:
    if 200 <= status < 300 and isinstance(payload, dict):
        return payload.get("data")
    errors = payload.get("errors") if isinstance(payload, dict) else None
    detail = "; ".join(str(e.get("detail") or e.get("title")) for e in errors or []) or f"HTTP {status}"
    raise InfrastructureError(f"Terraform Cloud refused {doing}: {detail}")


def unknown_organization(organization: str) -> ConfigError:
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
