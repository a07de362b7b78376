"""The deployment ledger: an embedded SQLite database in the project's state folder.

Every deployment is recorded with its id, version, environment, config hash, provider, status,
url, times, error, the outputs and status of each stack, and a compressed archive of the
synthesized stacks it applied (what `rollback` re-applies). Each write is its own short
transaction on its own connection in WAL mode with a busy timeout, so concurrent writers (stacks
deploying in parallel, two CLI processes) wait for each other instead of failing.
"""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY,
    app TEXT NOT NULL,
    environment TEXT NOT NULL,
    version TEXT NOT NULL,
    provider TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    url TEXT,
    error TEXT,
    rollback_of TEXT,
    started_at REAL NOT NULL,
    finished_at REAL,
    archive BLOB
);
CREATE INDEX IF NOT EXISTS deployments_by_env ON deployments (app, environment, started_at);
CREATE TABLE IF NOT EXISTS stack_runs (
    deployment_id TEXT NOT NULL REFERENCES deployments (id),
    stack TEXT NOT NULL,
    status TEXT NOT NULL,
    outputs TEXT,
    seconds REAL,
    error TEXT,
    updated_at REAL NOT NULL,
    PRIMARY KEY (deployment_id, stack)
);
"""

ARCHIVE_EXCLUDES = {".terraform", "outputs"}
"""Not archived: provider binaries (re-installed by init) and output files."""


@dataclass(frozen=True)
class DeploymentRecord:
    id: str
    app: str
    environment: str
    version: str
    provider: str
    config_hash: str
    status: str
    url: str | None
    error: str | None
    rollback_of: str | None
    started_at: float
    finished_at: float | None
    has_archive: bool
    stacks: dict[str, dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in self.__dict__.items()}


class Ledger:
    """The ledger at `path` (created on first use)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout)) as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent: readers never block the writer
            db.executescript(SCHEMA)

    @classmethod
    def for_project(cls, project_dir: Path, state_dir: str) -> Ledger:
        return cls(project_dir / state_dir / "ledger.sqlite")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)) as db:
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("BEGIN IMMEDIATE")  # take the write lock up front: no upgrade deadlocks
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- writes ---------------------------------------------------------------------------------------

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
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO deployments (id, app, environment, version, provider, config_hash, status,"
                " rollback_of, started_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)",
                (deployment_id, app, environment, version, provider, config_hash, rollback_of, time.time()),
            )

    def set_status(self, deployment_id: str, status: str, *, error: str | None = None, url: str | None = None) -> None:
        finished = time.time() if status not in ("pending", "deploying") else None
        with self._transaction() as db:
            db.execute(
                "UPDATE deployments SET status = ?, error = COALESCE(?, error), url = COALESCE(?, url),"
                " finished_at = COALESCE(?, finished_at) WHERE id = ?",
                (status, error, url, finished, deployment_id),
            )

    def set_stack(
        self,
        deployment_id: str,
        stack: str,
        status: str,
        *,
        outputs: dict[str, Any] | None = None,
        seconds: float | None = None,
        error: str | None = None,
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO stack_runs (deployment_id, stack, status, outputs, seconds, error, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment_id, stack) DO UPDATE SET"
                " status = excluded.status, outputs = COALESCE(excluded.outputs, outputs),"
                " seconds = COALESCE(excluded.seconds, seconds), error = excluded.error,"
                " updated_at = excluded.updated_at",
                (
                    deployment_id,
                    stack,
                    status,
                    json.dumps(outputs) if outputs is not None else None,
                    seconds,
                    error,
                    time.time(),
                ),
            )

    def archive(self, deployment_id: str, synthesized_dir: Path) -> None:
        """Store a compressed copy of the synthesized stacks (without provider binaries)."""
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted(synthesized_dir.rglob("*")):
                relative = path.relative_to(synthesized_dir)
                if path.is_file() and not ARCHIVE_EXCLUDES.intersection(relative.parts):
                    tar.add(path, arcname=str(relative), recursive=False)
        with self._transaction() as db:
            db.execute("UPDATE deployments SET archive = ? WHERE id = ?", (buffer.getvalue(), deployment_id))

    # --- reads ----------------------------------------------------------------------------------------

    def extract(self, deployment_id: str, target: Path) -> Path:
        """Unpack the deployment's archived synth into `target` (which must not exist yet)."""
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout)) as db:
            row = db.execute("SELECT archive FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
        if row is None or row[0] is None:
            raise LookupError(f"deployment {deployment_id!r} has no archived synth in {self.path}")
        target.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(row[0]), mode="r:gz") as tar:
            tar.extractall(target, filter="data")
        return target

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        records = self._select("WHERE d.id = ?", (deployment_id,))
        return records[0] if records else None

    def history(self, app: str, environment: str, limit: int = 20) -> list[DeploymentRecord]:
        """Newest first."""
        return self._select(
            "WHERE d.app = ? AND d.environment = ? ORDER BY d.started_at DESC LIMIT ?", (app, environment, limit)
        )

    def _select(self, where: str, params: tuple[Any, ...]) -> list[DeploymentRecord]:
        with closing(sqlite3.connect(self.path, timeout=self.busy_timeout)) as db:
            rows = db.execute(
                "SELECT d.id, d.app, d.environment, d.version, d.provider, d.config_hash, d.status, d.url, d.error,"
                f" d.rollback_of, d.started_at, d.finished_at, d.archive IS NOT NULL FROM deployments d {where}",
                params,
            ).fetchall()
            records = []
            for row in rows:
                stacks = {
                    stack: {
                        "status": status,
                        "outputs": json.loads(outputs) if outputs else {},
                        "seconds": seconds,
                        "error": error,
                    }
                    for stack, status, outputs, seconds, error in db.execute(
                        "SELECT stack, status, outputs, seconds, error FROM stack_runs WHERE deployment_id = ?"
                        " ORDER BY stack",
                        (row[0],),
                    )
                }
                (identifier, app, environment, version, provider, config_hash, status, url, error) = row[:9]
                rollback_of, started_at, finished_at, has_archive = row[9:13]
                records.append(
                    DeploymentRecord(
                        identifier,
                        app,
                        environment,
                        version,
                        provider,
                        config_hash,
                        status,
                        url,
                        error,
                        rollback_of,
                        started_at,
                        finished_at,
                        bool(has_archive),
                        stacks,
                    )
                )
        return records
