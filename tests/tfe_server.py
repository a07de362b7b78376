"""A Terraform Cloud (TFE v2 API) server for tests, on 127.0.0.1 over HTTPS: what moto is for AWS.

It serves the subset of the API that terraform 1.11's `cloud` block uses with local execution, and
the remote backend behind cdktf's cross-stack references, for many workspaces at once:

- service discovery (`/.well-known/terraform.json`: `tfe.v2`, `motd.v1`), `GET /api/v2/ping` with
  `TFP-API-Version`, the organization's entitlement set, projects by name;
- workspaces: read by name (404 when missing), create (name, tags, project, execution mode), update,
  list (by name or tag search), tag bindings; lock (409 when locked), unlock, force-unlock;
- state versions: the current one (404 when empty), create (the upload flow, `hosted-state-upload-url`
  and `hosted-json-state-upload-url`, then `PUT` of each; or the older inline `state`), read, download
  through `hosted-state-download-url`, and the current state version's outputs.

Faithful where it matters to the tests: every API call needs the token (401 without it); a lock
conflict is 409; a state whose serial is not above the current one (same lineage), or whose lineage
differs from the workspace's, is refused with 409, as Terraform Cloud does; a new workspace's
execution mode is the organization's default (`remote` unless set), as on app.terraform.io.

Start it with `TfeServer(organizations=[...], token=...)` as a context manager; `ca_file` is the
throw-away certificate's CA, for `SSL_CERT_FILE`; `cli_config(path, mirror)` writes a terraform CLI
config holding the `credentials` block, as `terraform login` would keep the token.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import io
import ipaddress
import json
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

API_VERSION = "2.6"


@dataclass
class StateVersion:
    id: str
    workspace_id: str
    serial: int
    lineage: str
    md5: str
    state: bytes | None = None
    json_state: bytes | None = None
    created_at: str = ""

    @property
    def finalized(self) -> bool:
        return self.state is not None


@dataclass
class Workspace:
    id: str
    name: str
    organization: str
    project_id: str
    execution_mode: str
    tags: list[str] = field(default_factory=list)
    terraform_version: str = "1.11.4"
    locked: bool = False
    lock_reason: str = ""
    locked_by: str | None = None
    """Who holds the lock: `user` (a token's lock action) or the id of the run that holds it."""
    current_state: str | None = None
    current_run: str | None = None
    agent_pool_id: str | None = None
    global_remote_state: bool = False
    consumers: set[str] = field(default_factory=set)
    """Ids of the workspaces whose runs may read this one's state (remote-state consumers)."""


@dataclass
class ConfigurationVersion:
    id: str
    workspace_id: str
    speculative: bool
    status: str = "pending"
    archive: bytes | None = None


@dataclass
class RunPhase:
    """A run's plan or apply: its status, its log (STX ... ETX), what it counted."""

    id: str
    run_id: str
    status: str = "pending"
    log: bytearray = field(default_factory=bytearray)
    additions: int = 0
    changes: int = 0
    destructions: int = 0
    redacted_json: bytes | None = None


@dataclass
class Run:
    id: str
    workspace_id: str
    configuration_version_id: str
    plan: RunPhase
    apply: RunPhase
    is_destroy: bool = False
    refresh_only: bool = False
    plan_only: bool = False
    auto_apply: bool = False
    message: str = ""
    status: str = "pending"
    has_changes: bool = False
    created_at: str = ""
    timestamps: dict[str, str] = field(default_factory=dict)
    cancel_requested: bool = False
    confirmed: threading.Event = field(default_factory=threading.Event)
    token: str = ""
    """The run's own API token (what its terraform uses to read other workspaces' state)."""

    @property
    def final(self) -> bool:
        return self.status in FINAL_RUN_STATES


FINAL_RUN_STATES = {"applied", "planned_and_finished", "errored", "canceled", "discarded", "force_canceled"}
CANCELABLE = {"pending", "plan_queued", "planning", "apply_queued", "applying"}
DISCARDABLE = {"planned", "cost_estimated", "policy_checked", "policy_override"}


@dataclass
class Variable:
    id: str
    workspace_id: str
    key: str
    value: str
    category: str
    sensitive: bool
    hcl: bool = False
    description: str = ""


@dataclass
class Store:
    organizations: dict[str, dict[str, str]]
    """Organization name -> {project name: project id}."""
    default_execution_mode: str = "remote"
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    state_versions: dict[str, StateVersion] = field(default_factory=dict)
    upload_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Signed upload/download path key -> (state version id, "state" | "json"), or (configuration version id,
    "config"), or (plan or apply id, "log")."""
    configuration_versions: dict[str, ConfigurationVersion] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    phases: dict[str, RunPhase] = field(default_factory=dict)
    variables: dict[str, Variable] = field(default_factory=dict)
    agent_pools: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Agent pool id -> (organization, name)."""
    run_tokens: dict[str, str] = field(default_factory=dict)
    """A run's token -> the run's id."""
    policy_soft_fail: set[str] = field(default_factory=set)
    """Names of workspaces whose runs a soft-mandatory policy stops after the plan (`policy_override`: they wait
    for someone to override or discard them)."""
    overrides: list[str] = field(default_factory=list)
    """Runs whose policy check was overridden (`POST /policy-checks/:id/actions/override`)."""
    unknown: list[str] = field(default_factory=list)
    """Requests for routes this server does not serve: the server's `__exit__` fails the test with them."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    answers: list[tuple[str, str, int]] = field(default_factory=list)
    """Each request with the status it was answered with (for a test to read)."""
    lock: threading.RLock = field(default_factory=threading.RLock)

    def by_name(self, organization: str, name: str) -> Workspace | None:
        return next((w for w in self.workspaces.values() if w.organization == organization and w.name == name), None)


class TfeServer:
    """The server, started in a thread; see the module doc."""

    def __init__(
        self,
        organizations: list[str],
        *,
        token: str | None = None,
        projects: list[str] | None = None,
        default_execution_mode: str = "remote",
        work_dir: Path,
        mirror: Path | None = None,
        plugin_cache: Path | None = None,
        agent_pools: dict[str, str] | None = None,
    ) -> None:
        self.token = token or f"{secrets.token_hex(8)}.atlasv1.{secrets.token_hex(24)}"
        self.store = Store(
            organizations={
                org: {"Default Project": f"prj-{org}-default"}
                | {name: f"prj-{hashlib.sha1(f'{org}/{name}'.encode()).hexdigest()[:12]}" for name in projects or []}
                for org in organizations
            },
            default_execution_mode=default_execution_mode,
            agent_pools={pool: (organizations[0], name) for pool, name in (agent_pools or {}).items()},
        )
        self.work_dir = work_dir
        self.ca_file, cert, key = _throwaway_certificate(work_dir)
        store, token_value = self.store, self.token

        class Handler(_Handler):
            pass

        Handler.store = store
        Handler.token = token_value
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        Handler.base = f"https://localhost:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.worker = RunWorker(self, mirror=mirror, plugin_cache=plugin_cache)

    @property
    def hostname(self) -> str:
        """What the `cloud` block's `hostname` names: `localhost:<port>` (the certificate's name)."""
        return f"localhost:{self.port}"

    def __enter__(self) -> TfeServer:
        self.thread.start()
        self.worker.start()
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        self.worker.stop()
        self.httpd.shutdown()
        self.httpd.server_close()
        if kind is None and self.store.unknown:
            raise AssertionError(
                "the TFE test server was asked for routes it does not serve (add them, faithfully): "
                + ", ".join(sorted(set(self.store.unknown)))
            )

    def cli_config(self, path: Path, *, mirror: Path | None, token: str | None = None) -> Path:
        """A terraform CLI config: the token in a `credentials` block (as `terraform login` keeps it) and,
        offline, the provider mirror."""
        lines = [f'credentials "{self.hostname}" {{', f'  token = "{token or self.token}"', "}"]
        if mirror is not None:
            lines += [
                "provider_installation {",
                f'  filesystem_mirror {{\n    path = "{mirror}"\n    include = ["registry.terraform.io/*/*"]\n  }}',
                '  direct {\n    exclude = ["registry.terraform.io/*/*"]\n  }',
                "}",
            ]
        path.write_text("\n".join(lines) + "\n")
        return path

    def workspace(self, organization: str, name: str) -> Workspace | None:
        with self.store.lock:
            return self.store.by_name(organization, name)

    def current_state(self, organization: str, name: str) -> dict[str, Any] | None:
        with self.store.lock:
            workspace = self.store.by_name(organization, name)
            if workspace is None or workspace.current_state is None:
                return None
            state = self.store.state_versions[workspace.current_state].state
        return json.loads(state) if state else None


def _throwaway_certificate(work_dir: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for `localhost` and 127.0.0.1, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stacks-cloud test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = work_dir / "tfe-ca.pem", work_dir / "tfe-cert.pem", work_dir / "tfe-key.pem"
    ca_file.write_bytes(ca.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return ca_file, cert_file, key_file


class _RefusedError(Exception):
    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail


class _Handler(BaseHTTPRequestHandler):
    store: Store
    token: str
    base: str
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    # --- plumbing -------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any = None, *, content_type: str = "application/vnd.api+json") -> None:
        with self.store.lock:
            self.store.answers.append((self.command, urlparse(self.path).path, status))
        if status == 302:
            self.send_response(302)
            self.send_header("Location", payload["location"])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"" if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        self.send_response(status)
        if isinstance(payload, bytes):
            content_type = "application/octet-stream"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("TFP-API-Version", API_VERSION)
        self.send_header("TFP-AppName", "HCP Terraform")
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        body = self._body()
        with self.store.lock:
            self.store.requests.append((method, url.path))
        try:
            if url.path == "/.well-known/terraform.json":
                discovery = {
                    "tfe.v2": "/api/v2/",
                    "tfe.v2.1": "/api/v2/",
                    "tfe.v2.2": "/api/v2/",
                    "motd.v1": "/api/terraform/motd",
                }
                self._send(200, discovery, content_type="application/json")
                return
            if url.path.startswith("/_archivist/"):
                self._archivist(method, url.path, body)
                return
            if url.path.startswith("/_logs/"):
                self._log(url.path, parse_qs(url.query))
                return
            presented = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            with self.store.lock:
                run_id = self.store.run_tokens.get(presented)
                self.run_scope = self.store.runs[run_id].workspace_id if run_id else None
            if presented != self.token and self.run_scope is None:
                raise _RefusedError(401, "unauthorized", "a valid API token is required")
            if url.path == "/api/terraform/motd":
                self._send(200, {"msg": ""}, content_type="application/json")
                return
            with self.store.lock:
                status, payload = self._route(method, url.path, parse_qs(url.query), body)
            self._send(status, payload)
        except _RefusedError as refused:
            self._send(
                refused.status,
                {"errors": [{"status": str(refused.status), "title": refused.title, "detail": refused.detail}]},
            )

    # --- the API ---------------------------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> tuple[int, Any]:
        parts = path.removeprefix("/api/v2/").strip("/").split("/")
        data = json.loads(body) if body else {}
        if self.run_scope is not None:
            self._check_run_token(method, parts)
        answer = self._runs_route(method, parts, query, data)
        if answer is not None:
            return answer
        match (method, parts):
            case ("GET", ["ping"]):
                return 204, None
            case ("GET", ["organizations", org, "entitlement-set"]):
                self._org(org)
                return 200, {
                    "data": {
                        "id": f"org-{org}",
                        "type": "entitlement-sets",
                        "attributes": {
                            "operations": True,
                            "state-storage": True,
                            "private-module-registry": True,
                            "teams": True,
                            "vcs-integrations": True,
                            "sentinel": False,
                            "global-run-tasks": False,
                        },
                    }
                }
            case ("GET", ["organizations", org]):
                self._org(org)
                return 200, {"data": {"id": org, "type": "organizations", "attributes": {"name": org}}}
            case ("GET", ["organizations", org, "projects"]):
                names = query.get("filter[names]", [None])[0]
                projects = self._org(org)
                matches = [(n, i) for n, i in projects.items() if names is None or n in names.split(",")]
                items, meta = _paginate(matches, query)
                return 200, {"data": [self._project(org, n, i) for n, i in items], "meta": meta}
            case ("GET", ["organizations", org, "workspaces", name]):
                self._org(org)
                workspace = self.store.by_name(org, name)
                if workspace is None or not self._may_read_state(workspace):
                    raise _RefusedError(404, "not found")
                return 200, {"data": self._workspace(workspace)}
            case ("GET", ["organizations", org, "workspaces"]):
                self._org(org)
                found = [w for w in self.store.workspaces.values() if w.organization == org]
                if name_filter := query.get("search[name]", [""])[0]:
                    found = [w for w in found if name_filter in w.name]
                if tags := query.get("search[tags]", [""])[0]:
                    wanted = set(tags.split(","))
                    found = [w for w in found if wanted <= set(w.tags)]
                items, meta = _paginate(found, query)
                return 200, {"data": [self._workspace(w) for w in items], "meta": meta}
            case ("POST", ["organizations", org, "workspaces"]):
                projects = self._org(org)
                attributes = data["data"].get("attributes", {})
                name = attributes.get("name", "")
                if not name or self.store.by_name(org, name) is not None:
                    raise _RefusedError(422, "invalid attribute", f"Name {name!r} has already been taken or is empty")
                project = ((data["data"].get("relationships") or {}).get("project") or {}).get("data") or {}
                project_id = project.get("id") or projects["Default Project"]
                if project_id not in projects.values():
                    raise _RefusedError(404, "not found", f"project {project_id} not found")
                workspace = Workspace(
                    id=f"ws-{secrets.token_hex(8)}",
                    name=name,
                    organization=org,
                    project_id=project_id,
                    execution_mode=attributes.get("execution-mode") or self.store.default_execution_mode,
                    tags=sorted(set(attributes.get("tag-names") or [])),
                    terraform_version=attributes.get("terraform-version") or "1.11.4",
                    global_remote_state=bool(attributes.get("global-remote-state", False)),
                )
                self._set_agent_pool(workspace, attributes, data["data"].get("relationships") or {})
                self.store.workspaces[workspace.id] = workspace
                return 201, {"data": self._workspace(workspace)}
            case ("PATCH", ["workspaces", workspace_id]):
                workspace = self._ws(workspace_id)
                attributes = data["data"].get("attributes", {})
                if "execution-mode" in attributes:
                    workspace.execution_mode = attributes["execution-mode"]
                if "terraform-version" in attributes:
                    workspace.terraform_version = attributes["terraform-version"]
                if "tag-names" in attributes:
                    workspace.tags = sorted(set(attributes["tag-names"]))
                if "global-remote-state" in attributes:
                    workspace.global_remote_state = bool(attributes["global-remote-state"])
                self._set_agent_pool(workspace, attributes, data["data"].get("relationships") or {})
                return 200, {"data": self._workspace(workspace)}
            case ("GET", ["workspaces", workspace_id]):
                return 200, {"data": self._workspace(self._ws(workspace_id))}
            case ("POST", ["workspaces", workspace_id, "relationships", "tags"]):
                workspace = self._ws(workspace_id)
                workspace.tags = sorted(set(workspace.tags) | {t["attributes"]["name"] for t in data["data"]})
                return 204, None
            case ("GET", ["workspaces", workspace_id, "relationships", "tags"]):
                workspace = self._ws(workspace_id)
                return 200, {
                    "data": [{"id": f"tag-{t}", "type": "tags", "attributes": {"name": t}} for t in workspace.tags]
                }
            case ("POST", ["workspaces", workspace_id, "actions", action]):
                return 200, {"data": self._lock_action(self._ws(workspace_id), action, data)}
            case ("GET", ["workspaces", workspace_id, "current-state-version"]):
                workspace = self._ws(workspace_id)
                if workspace.current_state is None or not self._may_read_state(workspace):
                    raise _RefusedError(404, "not found")
                return 200, {"data": self._state_version(self.store.state_versions[workspace.current_state])}
            case ("GET", ["workspaces", workspace_id, "current-state-version-outputs"]):
                workspace = self._ws(workspace_id)
                if workspace.current_state is None or not self._may_read_state(workspace):
                    raise _RefusedError(404, "not found")
                return 200, {"data": self._outputs(self.store.state_versions[workspace.current_state])}
            case ("POST", ["workspaces", workspace_id, "state-versions"]):
                return 201, {"data": self._create_state_version(self._ws(workspace_id), data["data"]["attributes"])}
            case ("GET", ["state-versions", version_id]):
                version = self.store.state_versions.get(version_id)
                if version is None:
                    raise _RefusedError(404, "not found")
                return 200, {"data": self._state_version(version)}
            case ("GET", ["state-version-outputs", output_id]):
                # wsout-<state version id>-<name>: the one output, its value even when sensitive (as the API
                # gives it to a token that may read state versions)
                version_id, _, name = output_id.removeprefix("wsout-").partition("-")[2].partition("-")
                version = self.store.state_versions.get(f"sv-{version_id}")
                outputs = self._state_outputs(version) if version else {}
                if version is None or name not in outputs:
                    raise _RefusedError(404, "not found")
                output = outputs[name]
                return 200, {
                    "data": {
                        "id": output_id,
                        "type": "state-version-outputs",
                        "attributes": {
                            "name": name,
                            "sensitive": bool(output.get("sensitive")),
                            "value": output.get("value"),
                            "type": output.get("type") if isinstance(output.get("type"), str) else "string",
                            "detailed-type": output.get("type"),
                        },
                    }
                }
            case ("GET", ["state-versions", version_id, "outputs"]):
                version = self.store.state_versions.get(version_id)
                if version is None:
                    raise _RefusedError(404, "not found")
                return 200, {"data": self._outputs(version), "meta": _page(0)}
        self.store.unknown.append(f"{method} {path}")
        raise _RefusedError(404, "not found", f"{method} {path} is not part of this test server")

    def _org(self, org: str) -> dict[str, str]:
        projects = self.store.organizations.get(org)
        if projects is None:
            raise _RefusedError(404, "not found", f"organization {org!r} not found")
        return projects

    def _ws(self, workspace_id: str) -> Workspace:
        workspace = self.store.workspaces.get(workspace_id)
        if workspace is None:
            raise _RefusedError(404, "not found")
        return workspace

    def _lock_action(self, workspace: Workspace, action: str, data: dict[str, Any]) -> dict[str, Any]:
        if action == "lock":
            if workspace.locked:
                raise _RefusedError(409, "conflict", "Unable to lock workspace. The workspace is already locked.")
            workspace.locked, workspace.lock_reason, workspace.locked_by = True, str(data.get("reason", "")), "user"
        elif action in ("unlock", "force-unlock"):
            if not workspace.locked:
                raise _RefusedError(409, "conflict", "Unable to unlock workspace. The workspace is not locked.")
            if action == "unlock" and workspace.locked_by != "user":
                raise _RefusedError(
                    409, "conflict", f"Unable to unlock workspace. It is locked by {workspace.locked_by}."
                )
            workspace.locked, workspace.lock_reason, workspace.locked_by = False, "", None
        else:
            raise _RefusedError(404, "not found")
        return self._workspace(workspace)

    def _create_state_version(self, workspace: Workspace, attributes: dict[str, Any]) -> dict[str, Any]:
        if not workspace.locked or workspace.locked_by != "user":
            holder = workspace.locked_by or "nobody"
            raise _RefusedError(
                409, "conflict", f"The workspace must be locked by you to create a state version (held by {holder})"
            )
        serial, lineage = int(attributes["serial"]), str(attributes.get("lineage") or "")
        current = self.store.state_versions.get(workspace.current_state or "")
        if current is not None and not attributes.get("force"):
            if lineage and current.lineage and lineage != current.lineage:
                raise _RefusedError(
                    409, "conflict", f"lineage {lineage!r} differs from the current state's {current.lineage!r}"
                )
            if serial <= current.serial:
                raise _RefusedError(
                    409, "conflict", f"serial {serial} must be greater than the current serial {current.serial}"
                )
        version = StateVersion(
            id=f"sv-{secrets.token_hex(8)}",
            workspace_id=workspace.id,
            serial=serial,
            lineage=lineage,
            md5=str(attributes.get("md5", "")),
            created_at=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),  # the API's ISO 8601 form
        )
        if attributes.get("state"):  # the older inline form
            raw = base64.b64decode(attributes["state"])
            if hashlib.md5(raw).hexdigest() != version.md5:
                raise _RefusedError(422, "invalid attribute", "md5 does not match the state")
            version.state = raw
            if attributes.get("json-state"):
                version.json_state = base64.b64decode(attributes["json-state"])
        self.store.state_versions[version.id] = version
        if version.finalized:
            workspace.current_state = version.id
        return self._state_version(version)

    def _archivist(self, method: str, path: str, body: bytes) -> None:
        key = path.removeprefix("/_archivist/")
        with self.store.lock:
            target = self.store.upload_keys.get(key)
            if target is None:
                raise _RefusedError(404, "not found")
            if target[1] == "download":
                configuration = self.store.configuration_versions[target[0]]
                if method != "GET" or configuration.archive is None:
                    raise _RefusedError(404, "not found")
                self._send(200, configuration.archive)
                return
            if target[1] == "config":
                if method != "PUT":
                    raise _RefusedError(405, "method not allowed")
                configuration = self.store.configuration_versions[target[0]]
                configuration.archive, configuration.status = body, "uploaded"
                del self.store.upload_keys[key]
                self._send(200, None)
                return
            version = self.store.state_versions[target[0]]
            if method == "GET":
                data = version.state if target[1] == "state" else version.json_state
                if data is None:
                    raise _RefusedError(404, "not found")
                self._send(200, data)
                return
            if method != "PUT":
                raise _RefusedError(405, "method not allowed")
            if target[1] == "state":
                if hashlib.md5(body).hexdigest() != version.md5:
                    raise _RefusedError(422, "invalid", "md5 does not match the state")
                version.state = body
                workspace = self.store.workspaces[version.workspace_id]
                workspace.current_state = version.id  # finalized
            else:
                version.json_state = body
        self._send(200, None)

    # --- runs: configuration versions, runs, plans, applies, logs, variables, consumers ---------------------

    run_scope: str | None = None

    def _runs_route(
        self, method: str, parts: list[str], query: dict[str, list[str]], data: dict[str, Any]
    ) -> tuple[int, Any] | None:
        match (method, parts):
            case ("POST", ["workspaces", workspace_id, "configuration-versions"]):
                workspace = self._ws(workspace_id)
                attributes = (data.get("data") or {}).get("attributes") or {}
                version = ConfigurationVersion(
                    f"cv-{secrets.token_hex(8)}", workspace.id, bool(attributes.get("speculative", False))
                )
                self.store.configuration_versions[version.id] = version
                return 201, {"data": self._configuration_version(version, upload=True)}
            case ("GET", ["configuration-versions", version_id, "download"]):
                found = self.store.configuration_versions.get(version_id)
                if found is None or found.archive is None:
                    raise _RefusedError(404, "not found")
                key = f"{found.id}-download-{secrets.token_urlsafe(16)}"
                self.store.upload_keys[key] = (found.id, "download")
                return 302, {"location": f"{self.base}/_archivist/{key}"}
            case ("POST", ["configuration-versions", version_id, "actions", "archive"]):
                found = self.store.configuration_versions.get(version_id)
                if found is None:
                    raise _RefusedError(404, "not found")
                if found.status == "archived":
                    raise _RefusedError(409, "conflict", "the configuration version is already archived")
                found.archive, found.status = None, "archived"
                return 202, None
            case ("GET", ["configuration-versions", version_id]):
                found = self.store.configuration_versions.get(version_id)
                if found is None:
                    raise _RefusedError(404, "not found")
                return 200, {"data": self._configuration_version(found)}
            case ("POST", ["runs"]):
                return 201, {"data": self._run(self._create_run(data["data"]))}
            case ("GET", ["runs", run_id]):
                run = self._run_of(run_id)
                include = (query.get("include") or [""])[0]
                document: dict[str, Any] = {"data": self._run(run)}
                if include:
                    document["included"] = self._included(run, include.split(","))
                return 200, document
            case ("GET", ["workspaces", workspace_id, "runs"]):
                workspace = self._ws(workspace_id)
                runs = sorted(
                    (r for r in self.store.runs.values() if r.workspace_id == workspace.id),
                    key=lambda r: r.created_at,
                    reverse=True,
                )
                items, meta = _paginate(runs, query)
                return 200, {"data": [self._run(r) for r in items], "meta": meta}
            case ("GET", ["runs", run_id, "run-events"]):
                self._run_of(run_id)
                return 200, {"data": []}
            case ("POST", ["runs", run_id, "actions", action]):
                self._run_action(self._run_of(run_id), action)
                return 202, None
            case ("GET", ["plans", phase_id]) | ("GET", ["applies", phase_id]):
                return 200, {"data": self._phase(self._phase_of(phase_id), parts[0])}
            case ("GET", ["plans", phase_id, "json-output-redacted"]):
                phase = self._phase_of(phase_id)
                if phase.redacted_json is None:
                    raise _RefusedError(404, "not found", "the plan has no JSON output yet")
                return 200, json.loads(phase.redacted_json)
            case ("GET", ["plans", phase_id, "json-output"]):
                self._phase_of(phase_id)
                raise _RefusedError(403, "forbidden", "the unredacted JSON plan needs workspace admin access")
            case ("GET", ["workspaces", workspace_id, "vars"]):
                workspace = self._ws(workspace_id)
                variables = [v for v in self.store.variables.values() if v.workspace_id == workspace.id]
                return 200, {"data": [self._variable(v) for v in variables]}
            case ("POST", ["workspaces", workspace_id, "vars"]):
                return 201, {"data": self._variable(self._create_variable(self._ws(workspace_id), data["data"]))}
            case ("PATCH", ["workspaces", workspace_id, "vars", variable_id]):
                variable = self._variable_of(workspace_id, variable_id)
                attributes = data["data"].get("attributes") or {}
                for key in ("key", "value", "category", "description"):
                    if key in attributes:
                        setattr(variable, key, str(attributes[key]))
                for key in ("sensitive", "hcl"):
                    if key in attributes:
                        if key == "sensitive" and variable.sensitive and not attributes[key]:
                            raise _RefusedError(422, "invalid attribute", "a sensitive variable cannot be made visible")
                        setattr(variable, key, bool(attributes[key]))
                return 200, {"data": self._variable(variable)}
            case ("DELETE", ["workspaces", workspace_id, "vars", variable_id]):
                del self.store.variables[self._variable_of(workspace_id, variable_id).id]
                return 204, None
            case ("GET", ["workspaces", workspace_id, "relationships", "remote-state-consumers"]):
                workspace = self._ws(workspace_id)
                consumers = [self.store.workspaces[c] for c in sorted(workspace.consumers)]
                items, meta = _paginate(consumers, query)
                return 200, {"data": [self._workspace(c) for c in items], "meta": meta}
            case ("POST", ["workspaces", workspace_id, "relationships", "remote-state-consumers"]):
                workspace = self._ws(workspace_id)
                workspace.consumers |= {self._ws(item["id"]).id for item in data["data"]}
                return 204, None
            case ("DELETE", ["workspaces", workspace_id, "relationships", "remote-state-consumers"]):
                workspace = self._ws(workspace_id)
                workspace.consumers -= {item["id"] for item in data["data"]}
                return 204, None
            case ("GET", ["organizations", org, "agent-pools"]):
                self._org(org)
                pools = [(i, n) for i, (o, n) in self.store.agent_pools.items() if o == org]
                items, meta = _paginate(pools, query)
                return 200, {
                    "data": [{"id": i, "type": "agent-pools", "attributes": {"name": n}} for i, n in items],
                    "meta": meta,
                }
        return None

    def _check_run_token(self, method: str, parts: list[str]) -> None:
        """A run's token reads state, as a run's terraform does (remote state); nothing else."""
        allowed = method == "GET" and (
            parts in (["ping"],)
            or (len(parts) >= 2 and parts[0] == "organizations")
            or (len(parts) == 3 and parts[0] == "workspaces" and parts[2].startswith("current-state-version"))
            or parts[0] in ("state-versions", "state-version-outputs")
        )
        if not allowed:
            raise _RefusedError(404, "not found")

    def _may_read_state(self, workspace: Workspace) -> bool:
        """A user token reads every workspace; a run's token its own, and those that share state with it."""
        scope = self.run_scope
        return scope is None or scope == workspace.id or workspace.global_remote_state or scope in workspace.consumers

    def _set_agent_pool(self, workspace: Workspace, attributes: dict[str, Any], relationships: dict[str, Any]) -> None:
        pool = ((relationships.get("agent-pool") or {}).get("data") or {}).get("id") or attributes.get("agent-pool-id")
        if pool is not None:
            if pool not in self.store.agent_pools or self.store.agent_pools[pool][0] != workspace.organization:
                raise _RefusedError(422, "invalid attribute", f"agent pool {pool!r} not found in the organization")
            workspace.agent_pool_id = pool
        if workspace.execution_mode == "agent" and workspace.agent_pool_id is None:
            raise _RefusedError(422, "invalid attribute", "Agent pool must be present when execution mode is agent")
        if workspace.execution_mode != "agent":
            workspace.agent_pool_id = None

    def _run_of(self, run_id: str) -> Run:
        run = self.store.runs.get(run_id)
        if run is None:
            raise _RefusedError(404, "not found")
        return run

    def _phase_of(self, phase_id: str) -> RunPhase:
        phase = self.store.phases.get(phase_id)
        if phase is None:
            raise _RefusedError(404, "not found")
        return phase

    def _variable_of(self, workspace_id: str, variable_id: str) -> Variable:
        variable = self.store.variables.get(variable_id)
        if variable is None or variable.workspace_id != workspace_id:
            raise _RefusedError(404, "not found")
        return variable

    def _create_variable(self, workspace: Workspace, body: dict[str, Any]) -> Variable:
        attributes = body.get("attributes") or {}
        key, category = str(attributes.get("key", "")), str(attributes.get("category", ""))
        if not key or category not in ("env", "terraform"):
            raise _RefusedError(422, "invalid attribute", "a variable needs a key and a category (env or terraform)")
        if any(
            v.workspace_id == workspace.id and v.key == key and v.category == category
            for v in self.store.variables.values()
        ):
            raise _RefusedError(422, "invalid attribute", f"Key {key!r} has already been taken")
        variable = Variable(
            f"var-{secrets.token_hex(8)}",
            workspace.id,
            key,
            str(attributes.get("value", "")),
            category,
            bool(attributes.get("sensitive", False)),
            bool(attributes.get("hcl", False)),
            str(attributes.get("description", "")),
        )
        self.store.variables[variable.id] = variable
        return variable

    def _create_run(self, body: dict[str, Any]) -> Run:
        relationships = body.get("relationships") or {}
        workspace = self._ws(((relationships.get("workspace") or {}).get("data") or {}).get("id", ""))
        if workspace.execution_mode == "local":
            raise _RefusedError(409, "conflict", "runs cannot be queued on a workspace with local execution")
        version_id = ((relationships.get("configuration-version") or {}).get("data") or {}).get("id")
        version = self.store.configuration_versions.get(version_id or "")
        if version is None or version.workspace_id != workspace.id or version.status != "uploaded":
            raise _RefusedError(422, "invalid attribute", "the configuration version is missing or not uploaded")
        attributes = body.get("attributes") or {}
        run_id = f"run-{secrets.token_hex(8)}"
        run = Run(
            id=run_id,
            workspace_id=workspace.id,
            configuration_version_id=version.id,
            plan=RunPhase(f"plan-{secrets.token_hex(8)}", run_id),
            apply=RunPhase(f"apply-{secrets.token_hex(8)}", run_id),
            is_destroy=bool(attributes.get("is-destroy", False)),
            refresh_only=bool(attributes.get("refresh-only", False)),
            plan_only=bool(attributes.get("plan-only", False)) or version.speculative,
            auto_apply=bool(attributes.get("auto-apply", False)),
            message=str(attributes.get("message") or "Queued manually using Terraform"),
            created_at=_now(),
            token=f"{secrets.token_hex(8)}.atlasv1.run-{secrets.token_hex(16)}",
        )
        run.timestamps["plan-queueable-at"] = run.created_at
        self.store.runs[run.id] = run
        self.store.phases[run.plan.id] = run.plan
        self.store.phases[run.apply.id] = run.apply
        self.store.run_tokens[run.token] = run.id
        return run

    def _run_action(self, run: Run, action: str) -> None:
        if action == "apply":
            if run.status != "planned":
                raise _RefusedError(409, "conflict", f"transition not allowed: the run is {run.status}")
            run.status = "confirmed"
            run.timestamps["confirmed-at"] = _now()
            run.confirmed.set()
        elif action == "discard":
            if run.status not in DISCARDABLE:
                raise _RefusedError(409, "conflict", f"transition not allowed: the run is {run.status}")
            run.status = "discarded"
            run.timestamps["discarded-at"] = _now()
            run.confirmed.set()
        elif action in ("cancel", "force-cancel"):
            if run.status not in CANCELABLE:
                raise _RefusedError(409, "conflict", f"transition not allowed: the run is {run.status}")
            run.cancel_requested = True
            if run.status in ("pending", "plan_queued"):
                run.status = "canceled"
                run.timestamps["canceled-at"] = _now()
        else:
            raise _RefusedError(404, "not found")

    def _log(self, path: str, query: dict[str, list[str]]) -> None:
        key = path.removeprefix("/_logs/")
        with self.store.lock:
            target = self.store.upload_keys.get(key)
            if target is None or target[1] != "log":
                raise _RefusedError(404, "not found")
            phase = self.store.phases[target[0]]
            offset = int((query.get("offset") or ["0"])[0])
            limit = int((query.get("limit") or ["65536"])[0])
            chunk = bytes(phase.log[offset : offset + limit])
        self._send(200, chunk, content_type="text/plain")

    # --- run documents ---

    def _configuration_version(self, version: ConfigurationVersion, *, upload: bool = False) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "status": version.status,
            "speculative": version.speculative,
            "auto-queue-runs": False,
            "source": "tfe-api",
        }
        if upload or version.status == "pending":
            key = f"{version.id}-config-{secrets.token_urlsafe(16)}"
            self.store.upload_keys[key] = (version.id, "config")
            attributes["upload-url"] = f"{self.base}/_archivist/{key}"
        return {"id": version.id, "type": "configuration-versions", "attributes": attributes}

    def _run(self, run: Run) -> dict[str, Any]:
        workspace = self.store.workspaces[run.workspace_id]
        queue = [
            r.id
            for r in sorted(self.store.runs.values(), key=lambda r: r.created_at)
            if r.workspace_id == run.workspace_id and r.status == "pending"
        ]
        return {
            "id": run.id,
            "type": "runs",
            "attributes": {
                "status": run.status,
                "is-destroy": run.is_destroy,
                "refresh-only": run.refresh_only,
                "plan-only": run.plan_only,
                "auto-apply": run.auto_apply,
                "has-changes": run.has_changes,
                "message": run.message,
                "source": "tfe-api",
                "created-at": run.created_at,
                "status-timestamps": run.timestamps,
                "terraform-version": workspace.terraform_version,
                "position-in-queue": queue.index(run.id) if run.id in queue else 0,
                "refresh": True,
                "actions": {
                    "is-cancelable": run.status in CANCELABLE,
                    "is-confirmable": run.status == "planned",
                    "is-discardable": run.status in DISCARDABLE,
                    "is-force-cancelable": False,
                },
                "permissions": {
                    "can-apply": True,
                    "can-cancel": True,
                    "can-discard": True,
                    "can-force-cancel": True,
                    "can-force-execute": True,
                },
            },
            "relationships": {
                "workspace": {"data": {"id": run.workspace_id, "type": "workspaces"}},
                "configuration-version": {
                    "data": {"id": run.configuration_version_id, "type": "configuration-versions"}
                },
                "plan": {"data": {"id": run.plan.id, "type": "plans"}},
                "apply": {"data": {"id": run.apply.id, "type": "applies"}},
                "cost-estimate": {"data": None},
                "policy-checks": {"data": []},
                "task-stages": {"data": []},
                "run-events": {"data": []},
            },
            "links": {"self": f"/api/v2/runs/{run.id}"},
        }

    def _included(self, run: Run, names: list[str]) -> list[dict[str, Any]]:
        included = []
        if "plan" in names:
            included.append(self._phase(run.plan, "plans"))
        if "apply" in names:
            included.append(self._phase(run.apply, "applies"))
        if "workspace" in names:
            included.append(self._workspace(self.store.workspaces[run.workspace_id]))
        return included

    def _phase(self, phase: RunPhase, kind: str) -> dict[str, Any]:
        key = f"{phase.id}-log-{secrets.token_urlsafe(16)}"
        self.store.upload_keys[key] = (phase.id, "log")
        return {
            "id": phase.id,
            "type": kind,
            "attributes": {
                "status": phase.status,
                "has-changes": bool(phase.additions or phase.changes or phase.destructions),
                "log-read-url": f"{self.base}/_logs/{key}",
                "resource-additions": phase.additions,
                "resource-changes": phase.changes,
                "resource-destructions": phase.destructions,
                "resource-imports": 0,
                "status-timestamps": {},
            },
        }

    def _variable(self, variable: Variable) -> dict[str, Any]:
        return {
            "id": variable.id,
            "type": "vars",
            "attributes": {
                "key": variable.key,
                "value": None if variable.sensitive else variable.value,  # as the API: never echoed
                "category": variable.category,
                "sensitive": variable.sensitive,
                "hcl": variable.hcl,
                "description": variable.description,
            },
            "relationships": {"configurable": {"data": {"id": variable.workspace_id, "type": "workspaces"}}},
        }

    # --- documents -------------------------------------------------------------------------------------

    def _project(self, org: str, name: str, project_id: str) -> dict[str, Any]:
        return {
            "id": project_id,
            "type": "projects",
            "attributes": {"name": name},
            "relationships": {"organization": {"data": {"id": org, "type": "organizations"}}},
        }

    def _workspace(self, workspace: Workspace) -> dict[str, Any]:
        current = (
            {"data": {"id": workspace.current_state, "type": "state-versions"}}
            if workspace.current_state
            else {"data": None}
        )
        return {
            "id": workspace.id,
            "type": "workspaces",
            "attributes": {
                "name": workspace.name,
                "execution-mode": workspace.execution_mode,
                "operations": workspace.execution_mode == "remote",
                "locked": workspace.locked,
                "terraform-version": workspace.terraform_version,
                "tag-names": workspace.tags,
                "auto-apply": False,
                "working-directory": "",
                "resource-count": 0,
                "permissions": {
                    "can-update": True,
                    "can-destroy": True,
                    "can-queue-run": True,
                    "can-queue-apply": True,
                    "can-queue-destroy": True,
                    "can-lock": True,
                    "can-unlock": True,
                    "can-force-unlock": True,
                    "can-read-state-versions": True,
                    "can-read-state-outputs": True,
                    "can-create-state-versions": True,
                    "can-read-settings": True,
                    "can-read-variable": True,
                    "can-update-variable": True,
                },
                "actions": {"is-destroyable": True},
                "setting-overwrites": {"execution-mode": True, "agent-pool": workspace.agent_pool_id is not None},
                "structured-run-output-enabled": True,
                "global-remote-state": workspace.global_remote_state,
            },
            "relationships": {
                "organization": {"data": {"id": workspace.organization, "type": "organizations"}},
                "project": {"data": {"id": workspace.project_id, "type": "projects"}},
                "current-state-version": current,
                "current-run": {
                    "data": {"id": workspace.current_run, "type": "runs"} if workspace.current_run else None
                },
                "agent-pool": {
                    "data": {"id": workspace.agent_pool_id, "type": "agent-pools"} if workspace.agent_pool_id else None
                },
                "locked-by": {
                    "data": (
                        {"id": workspace.locked_by, "type": "runs"}
                        if workspace.locked_by and workspace.locked_by.startswith("run-")
                        else None
                    )
                },
            },
            "links": {"self": f"/api/v2/organizations/{workspace.organization}/workspaces/{workspace.name}"},
        }

    def _signed(self, version: StateVersion, kind: str) -> str:
        key = f"{version.id}-{kind}-{secrets.token_urlsafe(16)}"
        self.store.upload_keys[key] = (version.id, kind)
        return f"{self.base}/_archivist/{key}"

    def _state_version(self, version: StateVersion) -> dict[str, Any]:
        attributes: dict[str, Any] = {
            "serial": version.serial,
            "created-at": version.created_at,
            "status": "finalized" if version.finalized else "pending",
            "resources-processed": True,
            "state-version": 4,
            "terraform-version": "1.11.4",
        }
        if version.finalized:
            attributes["hosted-state-download-url"] = self._signed(version, "state")
            attributes["hosted-json-state-download-url"] = self._signed(version, "json")
        else:
            attributes["hosted-state-upload-url"] = self._signed(version, "state")
            attributes["hosted-json-state-upload-url"] = self._signed(version, "json")
        return {
            "id": version.id,
            "type": "state-versions",
            "attributes": attributes,
            "relationships": {
                "outputs": {
                    "data": [
                        {"id": f"wsout-{version.id}-{n}", "type": "state-version-outputs"}
                        for n in self._state_outputs(version)
                    ]
                }
            },
        }

    @staticmethod
    def _state_outputs(version: StateVersion) -> dict[str, Any]:
        if not version.state:
            return {}
        outputs: dict[str, Any] = json.loads(version.state).get("outputs") or {}
        return outputs

    def _outputs(self, version: StateVersion) -> list[dict[str, Any]]:
        return [
            {
                "id": f"wsout-{version.id}-{name}",
                "type": "state-version-outputs",
                "attributes": {
                    "name": name,
                    "sensitive": bool(output.get("sensitive")),
                    "type": output.get("type") if isinstance(output.get("type"), str) else "string",
                    "value": None if output.get("sensitive") else output.get("value"),
                    "detailed-type": output.get("type"),
                },
            }
            for name, output in self._state_outputs(version).items()
        ]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _paginate(items: list[Any], query: dict[str, list[str]]) -> tuple[list[Any], dict[str, Any]]:
    """One page of `items` (`page[number]`, `page[size]`: 20 by default, 100 at most) and its `meta`."""
    size = min(int((query.get("page[size]") or ["20"])[0]), 100)
    number = max(int((query.get("page[number]") or ["1"])[0]), 1)
    pages = max((len(items) + size - 1) // size, 1)
    meta = {
        "pagination": {
            "current-page": number,
            "next-page": number + 1 if number < pages else None,
            "prev-page": number - 1 if number > 1 else None,
            "total-count": len(items),
            "total-pages": pages,
            "page-size": size,
        }
    }
    return items[(number - 1) * size : number * size], meta


def _page(count: int) -> dict[str, Any]:
    return {
        "pagination": {"current-page": 1, "next-page": None, "prev-page": None, "total-count": count, "total-pages": 1}
    }


def iter_requests(server: TfeServer) -> Iterator[tuple[str, str]]:
    with server.store.lock:
        yield from list(server.store.requests)


class RunWorker:
    """Terraform Cloud's workers: each queued run executed with the real terraform, one run at a time per
    workspace, on the uploaded configuration with the workspace's variables as its environment.

    The configuration's `cloud` block is overridden with a local backend in the run's folder, seeded with
    the workspace's current state; after an apply the resulting state becomes a new state version. The
    run's terraform reads other workspaces' state (cdktf's cross-stack references) with the run's own
    token, which the server honours only for workspaces that share their state with this one.
    """

    def __init__(self, server: TfeServer, *, mirror: Path | None, plugin_cache: Path | None) -> None:
        self.server = server
        self.store = server.store
        self.mirror = mirror
        self.plugin_cache = plugin_cache
        self.active: set[str] = set()
        self.stopping = threading.Event()
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.init_lock = threading.Lock()
        """Runs share one provider cache here (Terraform Cloud's workers each have their own): their inits take
        turns, since concurrent installs into one cache fail (hashicorp/terraform#31964)."""
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for process in list(self.processes.values()):
            with contextlib.suppress(OSError):
                process.kill()
        self.thread.join(timeout=10)

    def _loop(self) -> None:
        while not self.stopping.wait(0.2):
            with self.store.lock:
                for workspace in self.store.workspaces.values():
                    if workspace.id in self.active or workspace.locked:
                        continue  # one run at a time; a user's lock holds the queue
                    queued = sorted(
                        (
                            r
                            for r in self.store.runs.values()
                            if r.workspace_id == workspace.id and r.status == "pending"
                        ),
                        key=lambda r: r.created_at,
                    )
                    if not queued:
                        continue
                    run = queued[0]
                    self.active.add(workspace.id)
                    workspace.locked, workspace.locked_by, workspace.current_run = True, run.id, run.id
                    run.status, run.timestamps["planning-at"] = "planning", _now()
                    run.plan.status = "running"
                    run.plan.log += b"\x02"
                    threading.Thread(target=self._execute, args=(run,), daemon=True).start()

    def _execute(self, run: Run) -> None:
        folder = self.server.work_dir / "runs" / run.id
        try:
            self._run(run, folder)
        except Exception as error:  # the worker itself failed: the run errors, as on the real service
            with self.store.lock:
                run.status = "errored"
                for phase in (run.plan, run.apply):
                    if phase.status in ("pending", "running"):
                        phase.status = "errored"
                        phase.log += f"worker error: {error}\n".encode() + b"\x03"
        finally:
            with self.store.lock:
                workspace = self.store.workspaces[run.workspace_id]
                if workspace.locked_by == run.id:
                    workspace.locked, workspace.locked_by = False, None
                self.active.discard(workspace.id)
                self.store.run_tokens.pop(run.token, None)
            shutil.rmtree(folder, ignore_errors=True)

    def _run(self, run: Run, folder: Path) -> None:
        env = self._prepare(run, folder)
        with self.init_lock:
            init = subprocess.run(
                ["terraform", "init", "-input=false", "-no-color"],
                cwd=folder,
                env=env,
                capture_output=True,
                timeout=600,
            )
        if init.returncode != 0:
            self._end(run, run.plan, "errored", init.stdout + init.stderr)
            return
        plan_args = ["plan", "-json", "-input=false", "-out=run.tfplan"]
        plan_args += ["-destroy"] if run.is_destroy else []
        plan_args += ["-refresh-only"] if run.refresh_only else []
        if not self._stream(run, run.plan, plan_args, folder, env):
            return
        shown = subprocess.run(["terraform", "show", "-json", "run.tfplan"], cwd=folder, env=env, capture_output=True)
        document = json.loads(shown.stdout)
        schemas = subprocess.run(
            ["terraform", "providers", "schema", "-json"], cwd=folder, env=env, capture_output=True
        )
        self._count(run, document)
        with self.store.lock:
            run.plan.redacted_json = json.dumps(_redacted(document, json.loads(schemas.stdout))).encode()
        self._end(run, run.plan, "finished")
        if run.plan_only or not run.has_changes:
            with self.store.lock:
                run.status, run.timestamps["planned-and-finished-at"] = "planned_and_finished", _now()
            return
        if self._stopped_by_policy(run):
            return
        if not self._confirmed(run):
            return
        with self.store.lock:
            run.status, run.timestamps["applying-at"] = "applying", _now()
            run.apply.status = "running"
            run.apply.log += b"\x02"
        applied = self._stream(run, run.apply, ["apply", "-json", "-input=false", "run.tfplan"], folder, env)
        self._save_state(run, folder / "terraform.tfstate")
        if applied:
            self._end(run, run.apply, "finished")
            with self.store.lock:
                run.status, run.timestamps["applied-at"] = "applied", _now()

    def _prepare(self, run: Run, folder: Path) -> dict[str, str]:
        """The run's folder (its configuration, a local backend, the current state) and environment."""
        with self.store.lock:
            workspace = self.store.workspaces[run.workspace_id]
            archive = self.store.configuration_versions[run.configuration_version_id].archive or b""
            state = self.store.state_versions[workspace.current_state].state if workspace.current_state else None
            variables = [v for v in self.store.variables.values() if v.workspace_id == workspace.id]
        folder.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")
        (folder / "zz_tfc_worker_override.tf.json").write_text(
            json.dumps({"terraform": {"backend": {"local": {"path": "terraform.tfstate"}}}})
        )
        if state:
            (folder / "terraform.tfstate").write_bytes(state)
        config = self.server.cli_config(folder / ".worker.tfrc", mirror=self.mirror, token=run.token)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(folder),
            "TF_CLI_CONFIG_FILE": str(config),
            "SSL_CERT_FILE": str(self.server.ca_file),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            "TFC_RUN_ID": run.id,
            "GOGC": os.environ.get("GOGC", "100"),
        }
        if self.plugin_cache is not None:
            env["TF_PLUGIN_CACHE_DIR"] = str(self.plugin_cache)
        for variable in variables:
            env[variable.key if variable.category == "env" else f"TF_VAR_{variable.key}"] = variable.value
        return env

    def _stream(self, run: Run, phase: RunPhase, args: list[str], folder: Path, env: dict[str, str]) -> bool:
        """Run terraform, its output appended to `phase`'s log line by line; Ctrl-C it once on a cancel."""
        process = subprocess.Popen(
            ["terraform", *args],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes[run.id] = process
        interrupted = False
        watcher = threading.Thread(target=self._watch_cancel, args=(run, process), daemon=True)
        watcher.start()
        assert process.stdout is not None
        for line in process.stdout:
            with self.store.lock:
                phase.log += line
                if phase is run.apply:
                    self._apply_counts(run, line)
        code = process.wait()
        self.processes.pop(run.id, None)
        interrupted = run.cancel_requested
        if code == 0 and not interrupted:
            return True
        self._end(run, phase, "canceled" if interrupted else "errored")
        with self.store.lock:
            run.status = "canceled" if interrupted else "errored"
            run.timestamps["canceled-at" if interrupted else "errored-at"] = _now()
        return False

    def _watch_cancel(self, run: Run, process: subprocess.Popen[bytes]) -> None:
        while process.poll() is None:
            if run.cancel_requested:
                with contextlib.suppress(OSError):
                    os.killpg(process.pid, signal.SIGINT)  # once, as the real service: terraform stops safely
                return
            time.sleep(0.1)

    def _stopped_by_policy(self, run: Run) -> bool:
        """A soft-mandatory policy failed: the run waits (holding the workspace) until it is discarded."""
        with self.store.lock:
            if self.store.workspaces[run.workspace_id].name not in self.store.policy_soft_fail:
                return False
            run.status, run.timestamps["policy-checked-at"] = "policy_override", _now()
        while not run.confirmed.wait(0.2) and not self.stopping.is_set():
            pass
        return True

    def _confirmed(self, run: Run) -> bool:
        """Wait for the apply to be confirmed (auto-apply confirms at once); False when discarded or canceled."""
        with self.store.lock:
            if run.auto_apply:
                run.timestamps["confirmed-at"] = _now()
                return True
            run.status, run.timestamps["planned-at"] = "planned", _now()
        while not run.confirmed.wait(0.2):
            if self.stopping.is_set() or run.cancel_requested:
                with self.store.lock:
                    run.status = "canceled"
                return False
        return run.status == "confirmed"

    def _count(self, run: Run, document: dict[str, Any]) -> None:
        counts = {"add": 0, "change": 0, "destroy": 0}
        for change in document.get("resource_changes") or []:
            actions = change.get("change", {}).get("actions") or []
            if "create" in actions:
                counts["add"] += 1
            if "delete" in actions:
                counts["destroy"] += 1
            if actions == ["update"]:
                counts["change"] += 1
        drifted = bool(document.get("resource_drift")) if run.refresh_only else False
        outputs = [o.get("actions") for o in (document.get("output_changes") or {}).values()]
        drifted = drifted or any(actions != ["no-op"] for actions in outputs)
        with self.store.lock:
            run.plan.additions, run.plan.changes, run.plan.destructions = (
                counts["add"],
                counts["change"],
                counts["destroy"],
            )
            run.has_changes = any(counts.values()) or drifted

    def _apply_counts(self, run: Run, line: bytes) -> None:
        try:
            event = json.loads(line)
        except ValueError:
            return
        if event.get("type") == "change_summary":
            changes = event.get("changes") or {}
            run.apply.additions = int(changes.get("add", 0))
            run.apply.changes = int(changes.get("change", 0))
            run.apply.destructions = int(changes.get("remove", 0))

    def _end(self, run: Run, phase: RunPhase, status: str, output: bytes = b"") -> None:
        with self.store.lock:
            phase.log += output + b"\x03"
            phase.status = status
            if status == "errored":
                run.status, run.timestamps["errored-at"] = "errored", _now()

    def _save_state(self, run: Run, path: Path) -> None:
        """The apply's state, as a new state version of the workspace (the run holds its lock)."""
        if not path.is_file():
            return
        raw = path.read_bytes()
        state = json.loads(raw)
        with self.store.lock:
            workspace = self.store.workspaces[run.workspace_id]
            current = self.store.state_versions.get(workspace.current_state or "")
            if current is not None and current.serial >= int(state["serial"]):
                return  # nothing changed
            version = StateVersion(
                id=f"sv-{secrets.token_hex(8)}",
                workspace_id=workspace.id,
                serial=int(state["serial"]),
                lineage=str(state.get("lineage", "")),
                md5=hashlib.md5(raw).hexdigest(),
                state=raw,
                created_at=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            )
            self.store.state_versions[version.id] = version
            workspace.current_state = version.id


def _redacted(document: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """The plan as `json-output-redacted` gives it (what terraform's `jsonformat.Plan` reads): the changes with
    every value marked sensitive replaced by null, and the schemas of the resource types they touch."""
    changes: list[dict[str, Any]] = []
    for key in ("resource_changes", "resource_drift"):
        for change in document.get(key) or []:
            body = change.get("change") or {}
            for side in ("before", "after"):
                body[side] = _without_marked(body.get(side), body.get(f"{side}_sensitive"))
            changes.append(change)
    outputs = document.get("output_changes") or {}
    for output in outputs.values():
        for side in ("before", "after"):
            if output.get(f"{side}_sensitive") is True:
                output[side] = None
    used = {(c.get("provider_name"), c.get("mode"), c.get("type")) for c in changes}
    provider_schemas = {}
    for provider, schema in (schemas.get("provider_schemas") or {}).items():
        kept = dict(schema)
        kept["resource_schemas"] = {
            t: s for t, s in (schema.get("resource_schemas") or {}).items() if (provider, "managed", t) in used
        }
        kept["data_source_schemas"] = {
            t: s for t, s in (schema.get("data_source_schemas") or {}).items() if (provider, "data", t) in used
        }
        provider_schemas[provider] = kept
    return {
        "plan_format_version": document.get("format_version"),
        "output_changes": outputs,
        "resource_changes": document.get("resource_changes") or [],
        "resource_drift": document.get("resource_drift") or [],
        "relevant_attributes": document.get("relevant_attributes") or [],
        "provider_format_version": schemas.get("format_version"),
        "provider_schemas": provider_schemas,
    }


def _without_marked(value: Any, marks: Any) -> Any:
    if marks is True:
        return None
    if isinstance(value, dict) and isinstance(marks, dict):
        return {key: _without_marked(item, marks.get(key)) for key, item in value.items()}
    if isinstance(value, list) and isinstance(marks, list):
        return [_without_marked(item, marks[i] if i < len(marks) else None) for i, item in enumerate(value)]
    return value
