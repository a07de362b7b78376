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
import datetime
import hashlib
import ipaddress
import json
import secrets
import ssl
import threading
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
    current_state: str | None = None


@dataclass
class Store:
    organizations: dict[str, dict[str, str]]
    """Organization name -> {project name: project id}."""
    default_execution_mode: str = "remote"
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    state_versions: dict[str, StateVersion] = field(default_factory=dict)
    upload_keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Signed upload/download path key -> (state version id, "state" | "json")."""
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
    ) -> None:
        self.token = token or f"{secrets.token_hex(8)}.atlasv1.{secrets.token_hex(24)}"
        self.store = Store(
            organizations={
                org: {"Default Project": f"prj-{org}-default"}
                | {name: f"prj-{hashlib.sha1(f'{org}/{name}'.encode()).hexdigest()[:12]}" for name in projects or []}
                for org in organizations
            },
            default_execution_mode=default_execution_mode,
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

    @property
    def hostname(self) -> str:
        """What the `cloud` block's `hostname` names: `localhost:<port>` (the certificate's name)."""
        return f"localhost:{self.port}"

    def __enter__(self) -> TfeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def cli_config(self, path: Path, *, mirror: Path | None) -> Path:
        """A terraform CLI config: the token in a `credentials` block (as `terraform login` keeps it) and,
        offline, the provider mirror."""
        lines = [f'credentials "{self.hostname}" {{', f'  token = "{self.token}"', "}"]
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
            if self.headers.get("Authorization") != f"Bearer {self.token}":
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
                return 200, {"data": [self._project(org, n, i) for n, i in matches], "meta": _page(len(matches))}
            case ("GET", ["organizations", org, "workspaces", name]):
                self._org(org)
                workspace = self.store.by_name(org, name)
                if workspace is None:
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
                return 200, {"data": [self._workspace(w) for w in found], "meta": _page(len(found))}
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
                )
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
                if workspace.current_state is None:
                    raise _RefusedError(404, "not found")
                return 200, {"data": self._state_version(self.store.state_versions[workspace.current_state])}
            case ("GET", ["workspaces", workspace_id, "current-state-version-outputs"]):
                workspace = self._ws(workspace_id)
                if workspace.current_state is None:
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
            workspace.locked, workspace.lock_reason = True, str(data.get("reason", ""))
        elif action in ("unlock", "force-unlock"):
            if not workspace.locked:
                raise _RefusedError(409, "conflict", "Unable to unlock workspace. The workspace is not locked.")
            workspace.locked, workspace.lock_reason = False, ""
        else:
            raise _RefusedError(404, "not found")
        return self._workspace(workspace)

    def _create_state_version(self, workspace: Workspace, attributes: dict[str, Any]) -> dict[str, Any]:
        if not workspace.locked:
            raise _RefusedError(409, "conflict", "The workspace must be locked to create a state version")
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
                "setting-overwrites": {"execution-mode": True, "agent-pool": False},
            },
            "relationships": {
                "organization": {"data": {"id": workspace.organization, "type": "organizations"}},
                "project": {"data": {"id": workspace.project_id, "type": "projects"}},
                "current-state-version": current,
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


def _page(count: int) -> dict[str, Any]:
    return {
        "pagination": {"current-page": 1, "next-page": None, "prev-page": None, "total-count": count, "total-pages": 1}
    }


def iter_requests(server: TfeServer) -> Iterator[tuple[str, str]]:
    with server.store.lock:
        yield from list(server.store.requests)
