"""The deployment ledger's contract: deployment records, archives of what was applied, and the environment lock.

Two stores implement it: `SqliteLedger` (the `local` backend, and `cloud`) and `S3Ledger` (the `s3`
backend: the records live in the state bucket, beside the state, so every clone sees the same
history). The environment lock lives in the same store: one deployment, destroy or rollback of an
environment at a time, whoever runs it.
"""

from __future__ import annotations

import getpass
import io
import os
import socket
import tarfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from stacks_cloud.core.secrets import MASK, looks_secret, redact_text
from stacks_cloud.models import DeploymentRecord, State

ARCHIVE_EXCLUDES = {".terraform", "outputs", "logs", "plans", "plan.tfplan", "plan.counts.json"}
"""Not archived: provider binaries (re-installed by init), output files, logs and plan files."""

DEFAULT_KEEP_ARCHIVES = 10
"""Archives of the last N completed deployments kept for rollbacks (`state.keepArchives`)."""


def masked(value: Any, *, by_key: bool = False) -> Any:
    """`value` with every registered secret masked, string by string before anything is encoded (a secret
    holding a quote, a backslash, a tab or a non-ASCII character is found as it is); `by_key`: the values of
    secret-looking keys too (a config snapshot). What a ledger writes, it writes through this."""
    if value is None:
        return None
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            str(key): (MASK if by_key and looks_secret(str(key)) and item is not None else masked(item, by_key=by_key))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [masked(item, by_key=by_key) for item in value]
    if isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))  # what json.dumps(default=str) would have written


def current_operator() -> str:
    """`user@host` of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container running as an anonymous uid)
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()}"


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): kill(pid, 0) answered
    return state not in ("Z", "X")


@dataclass(frozen=True)
class LockHolder:
    """Who holds an environment's lock: the deployment, the operation, the process, and since when.

    `expires_at` is the lease (renewed while the holder runs): a holder on another host whose lease
    expired is gone. On the same host, a holder whose pid is gone is gone at once. `children` are the
    pids of the terraform processes it started, which may outlive it (they run in their own process
    group, so a killed CLI does not take terraform down mid-write).
    """

    deployment_id: str
    operation: str
    user: str
    host: str
    pid: int
    since: float
    expires_at: float | None = None
    children: tuple[int, ...] = ()
    token: str | None = field(default=None, compare=False)
    """The store's version of the lock (an ETag, a row version), for compare-and-swap."""

    @classmethod
    def for_this_process(cls, deployment_id: str, operation: str, *, lease: float | None = None) -> LockHolder:
        user, _, host = current_operator().partition("@")
        now = time.time()
        return cls(deployment_id, operation, user, host, os.getpid(), now, now + lease if lease else None)

    def renewed(self, lease: float | None) -> LockHolder:
        return replace(self, expires_at=time.time() + lease if lease else None)

    @property
    def on_this_host(self) -> bool:
        return self.host == socket.gethostname()

    def is_gone(self, now: float | None = None) -> bool:
        """The holding process is dead (same host), or its lease expired (another host)."""
        if self.on_this_host:
            return not pid_alive(self.pid)
        return self.expires_at is not None and self.expires_at < (now or time.time())

    def live_children(self) -> list[int]:
        """Its terraform processes still running (known only on the same host)."""
        return [pid for pid in self.children if pid_alive(pid)] if self.on_this_host else []

    def describe(self) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.since))
        return f"{self.operation} {self.deployment_id} by {self.user}@{self.host} (pid {self.pid}) since {since}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "deployment_id": self.deployment_id,
            "operation": self.operation,
            "user": self.user,
            "host": self.host,
            "pid": self.pid,
            "since": self.since,
            "expires_at": self.expires_at,
            "children": list(self.children),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], token: str | None = None) -> LockHolder:
        return cls(
            deployment_id=str(data["deployment_id"]),
            operation=str(data["operation"]),
            user=str(data["user"]),
            host=str(data["host"]),
            pid=int(data["pid"]),
            since=float(data["since"]),
            expires_at=float(data["expires_at"]) if data.get("expires_at") is not None else None,
            children=tuple(int(pid) for pid in data.get("children", ())),
            token=token,
        )


def new_record(
    deployment_id: str,
    *,
    app: str,
    environment: str,
    version: str,
    provider: str,
    config_hash: str,
    rollback_of: str | None,
    kind: str,
    config_snapshot: dict[str, Any] | None,
) -> dict[str, Any]:
    """A new deployment's record as the document stores keep it (`pending`, secrets masked)."""
    return {
        "id": deployment_id,
        "app": app,
        "environment": environment,
        "version": masked(version),
        "provider": provider,
        "config_hash": config_hash,
        "status": "pending",
        "url": None,
        "error": None,
        "rollback_of": rollback_of,
        "started_at": time.time(),
        "finished_at": None,
        "has_archive": False,
        "kind": kind,
        "config_snapshot": masked(config_snapshot, by_key=True),
        "operator": current_operator(),
        "checks": None,
        "rollout": None,
    }


def record_from(data: dict[str, Any], stacks: dict[str, dict[str, Any]]) -> DeploymentRecord:
    """A `DeploymentRecord` from a document store's record (`new_record`'s form) and its stacks' runs."""
    return DeploymentRecord(
        id=data["id"],
        app=data["app"],
        environment=data["environment"],
        version=data["version"],
        provider=data["provider"],
        config_hash=data["config_hash"],
        status=data["status"],
        url=data.get("url"),
        error=data.get("error"),
        rollback_of=data.get("rollback_of"),
        started_at=float(data["started_at"]),
        finished_at=data.get("finished_at"),
        has_archive=bool(data.get("has_archive")),
        stacks=dict(sorted(stacks.items())),
        kind=data.get("kind", "deploy"),
        config_snapshot=data.get("config_snapshot"),
        operator=data.get("operator"),
        checks=data.get("checks"),
        rollout=data.get("rollout"),
    )


def stack_run(
    previous: dict[str, Any],
    status: str,
    *,
    outputs: dict[str, Any] | None,
    seconds: float | None,
    error: str | None,
    run: dict[str, str] | None,
) -> dict[str, Any]:
    """One stack's run as the document stores keep it: what is given, else what was recorded before."""
    return {
        "status": status,
        "outputs": masked(outputs) if outputs is not None else previous.get("outputs", {}),
        "seconds": seconds if seconds is not None else previous.get("seconds"),
        "error": masked(error),
        "run": masked(run) if run is not None else previous.get("run"),
    }


class Ledger(ABC):
    """Deployment records, stack runs, archives and the environment lock of a project's environments."""

    location: str
    """Where the store is, for messages: a file path or an `s3://` URL."""
    lease_seconds: float | None = None
    """How long a lock lasts unless renewed (None: the holder's pid decides, on one machine)."""

    # --- deployments ----------------------------------------------------------------------------------

    @abstractmethod
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
        """Record a new deployment (status `pending`). Never overwrites an existing id."""

    @abstractmethod
    def set_status(self, deployment_id: str, status: str, *, error: str | None = None, url: str | None = None) -> None:
        """Set a deployment's status (and its error or url); a final status sets its finish time."""

    @abstractmethod
    def set_checks(self, deployment_id: str, checks: str) -> None:
        """Record the policy gate's verdict for a deployment (see `DeploymentRecord.checks`)."""

    @abstractmethod
    def set_rollout(self, deployment_id: str, rollout: dict[str, Any]) -> None:
        """Record a rollout's progress (see `DeploymentRecord.rollout`), replacing what was recorded."""

    @abstractmethod
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
        """Record one stack of a deployment (its status, outputs, duration, error, and `run`: where it ran,
        when that is somewhere to look at, e.g. `{"run": "run-...", "url": "https://..."}` for a Terraform
        Cloud run)."""

    @abstractmethod
    def get(self, deployment_id: str) -> DeploymentRecord | None:
        """The deployment's record, or None."""

    @abstractmethod
    def history(self, app: str, environment: str, limit: int = 20) -> list[DeploymentRecord]:
        """The environment's deployments, newest first."""

    @abstractmethod
    def put_archive(self, deployment_id: str, data: bytes) -> None:
        """Store the compressed synth a deployment applied."""

    @abstractmethod
    def get_archive(self, deployment_id: str) -> bytes | None:
        """The compressed synth of a deployment, or None."""

    @abstractmethod
    def delete_archive(self, deployment_id: str) -> None:
        """Forget a deployment's archive (its record stays)."""

    # --- the environment lock ---------------------------------------------------------------------------

    @abstractmethod
    def read_lock(self, app: str, environment: str) -> LockHolder | None:
        """The environment's lock holder (with its `token`), or None when it is free."""

    @abstractmethod
    def create_lock(self, app: str, environment: str, holder: LockHolder) -> LockHolder | None:
        """Take the free lock: the stored holder (with its token), or None when someone holds it."""

    @abstractmethod
    def replace_lock(
        self, app: str, environment: str, expected: LockHolder, holder: LockHolder | None
    ) -> LockHolder | bool | None:
        """Swap the lock from `expected` (matched by token) to `holder` (None: release).

        Returns the stored holder (or None after a release), or False when the lock is no longer `expected`.
        """

    # --- derived ------------------------------------------------------------------------------------------

    def archive(self, deployment_id: str, synthesized_dir: Path) -> None:
        """Store a compressed copy of the synthesized stacks (without provider binaries, logs, plans)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(synthesized_dir.rglob("*")):
                relative = path.relative_to(synthesized_dir)
                if path.is_file() and not ARCHIVE_EXCLUDES.intersection(relative.parts):
                    tar.add(path, arcname=str(relative), recursive=False)
        self.put_archive(deployment_id, buffer.getvalue())

    def extract(self, deployment_id: str, target: Path) -> Path:
        """Unpack the deployment's archived synth into `target` (which must not exist yet)."""
        data = self.get_archive(deployment_id)
        if data is None:
            raise LookupError(f"deployment {deployment_id!r} has no archived synth in {self.location}")
        target.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            tar.extractall(target, filter="data")
        return target

    def live(self, app: str, environment: str) -> DeploymentRecord | None:
        """The deployment that is live: the newest that completed, unless a destroy came after it."""
        for record in self.history(app, environment, limit=1000):
            if record.status == State.RUNNING:
                return record
            if record.status == State.DESTROYED:
                return None
        return None

    def in_progress(self, app: str, environment: str) -> list[DeploymentRecord]:
        return [
            record
            for record in self.history(app, environment, limit=50)
            if record.status in (State.PENDING, State.DEPLOYING)
        ]

    def prune_archives(self, app: str, environment: str, keep: int) -> list[str]:
        """Keep the archives of the `keep` newest completed (or destroyed) deployments and of the newest
        deployment whatever its outcome; drop the others. Returns the ids whose archives were dropped."""
        kept = 0
        dropped = []
        for index, record in enumerate(self.history(app, environment, limit=10_000)):
            if not record.has_archive or index == 0 or record.status in (State.PENDING, State.DEPLOYING):
                continue
            if (record.completed or record.status == State.DESTROYED) and kept < keep:
                kept += 1
                continue
            self.delete_archive(record.id)
            dropped.append(record.id)
        return dropped

    def close(self) -> None:  # noqa: B027  (optional hook)
        """Release resources (connections); the default has none."""
