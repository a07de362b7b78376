"""`SqliteLedger`: the ledger of the `local` (and `cloud`) backend, an SQLite file in the project's state folder.

Each write is its own short transaction (`BEGIN IMMEDIATE`) on its own connection in WAL mode with a
busy timeout, so concurrent writers (stacks deploying in parallel, two CLI processes) wait for each
other instead of failing. The schema is versioned (`PRAGMA user_version`) and migrated forward on
the first write; a ledger written by 0.1 (unversioned) is version 1. The file is created `0600`.
Reads never create the file, and work on a read-only file. Damage, a lock held too long or a
read-only file is a `LedgerError` that says what to do, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from stacks_cloud.core.errors import LedgerError
from stacks_cloud.models import FINAL_STATES, DeploymentRecord
from stacks_cloud.state.ledger import Ledger, LockHolder, current_operator, masked

SCHEMA_VERSION = 5
MIGRATIONS: dict[int, str] = {
    1: """
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
""",
    2: """
ALTER TABLE deployments ADD COLUMN kind TEXT NOT NULL DEFAULT 'deploy';
ALTER TABLE deployments ADD COLUMN config_snapshot TEXT;
ALTER TABLE deployments ADD COLUMN operator TEXT;
CREATE TABLE locks (
    app TEXT NOT NULL,
    environment TEXT NOT NULL,
    holder TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (app, environment)
);
""",
    3: """
ALTER TABLE deployments ADD COLUMN checks TEXT;
""",
    4: """
ALTER TABLE stack_runs ADD COLUMN run TEXT;
""",
    5: """
ALTER TABLE deployments ADD COLUMN rollout TEXT;
""",
}
"""Schema changes by the version they lead to; each runs once, in order, in one transaction."""


class SqliteLedger(Ledger):
    """The ledger at `path` (created, `0600`, on the first write)."""

    def __init__(self, path: Path, *, busy_timeout: float = 30.0) -> None:
        self.path = path
        self.location = str(path)
        self.busy_timeout = busy_timeout
        self._migrated = False

    # --- connections and errors ------------------------------------------------------------------------

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise self._ledger_error(error) from None

    def _ledger_error(self, error: sqlite3.DatabaseError) -> LedgerError:
        text = str(error)
        if "not a database" in text or "malformed" in text or "file is encrypted" in text:
            return LedgerError(
                f"is damaged ({text}).",
                store=self.location,
                fix=f"move it aside (`mv {self.path} {self.path}.damaged`) and run the command again: the"
                " deployment history in it is lost, the state of your stacks is not; or restore it from a backup.",
            )
        if "locked" in text or "busy" in text:
            return LedgerError(
                f"is locked by another process for more than {self.busy_timeout:g} s.",
                store=self.location,
                fix=f"wait for the other `cloud` command to finish (`fuser {self.path}` shows it), then retry.",
            )
        if "readonly" in text or "read-only" in text:
            return LedgerError(
                "is read-only: commands that only read it (status, history) work, this one writes.",
                store=self.location,
                fix=f"make {self.path} and its folder writable for this user.",
            )
        if "unable to open" in text:
            return LedgerError(
                f"cannot be opened ({text}).",
                store=self.location,
                fix=f"check that {self.path.parent} exists and is readable and writable by this user.",
            )
        if "newer" in text:
            return LedgerError(text, store=self.location, fix="upgrade stacks-cloud to the version that wrote it.")
        return LedgerError(f"failed: {text}.", store=self.location)

    def _writable(self) -> bool:
        if self.path.exists():
            return os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)
        return True

    def _create_file(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            descriptor = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
            os.close(descriptor)
        with contextlib.suppress(OSError):
            self.path.chmod(0o600)

    def _connect_write(self) -> sqlite3.Connection:
        if not self._writable():
            raise self._ledger_error(sqlite3.OperationalError("attempt to write a readonly database"))
        try:
            self._create_file()
        except OSError as error:
            raise self._ledger_error(sqlite3.OperationalError(f"unable to open database file: {error}")) from None
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
        try:
            self._use_wal(db)
            db.execute("PRAGMA foreign_keys=ON")
            if not self._migrated:
                self._migrate(db)
        except BaseException:
            db.close()
            raise
        return db

    def _use_wal(self, db: sqlite3.Connection) -> None:
        """WAL (persistent: readers never block the writer). Switching needs the file to itself, and SQLite
        answers "locked" at once, without its busy wait, while other connections open it: retry until
        `busy_timeout` (several clones of a new project's first commands, or threads, start together)."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                    db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _connect_read(self) -> sqlite3.Connection | None:
        if not self.path.exists():
            return None
        if self._writable():
            return self._connect_write()
        # A read-only file (or folder): WAL needs a writable -shm; `immutable` reads the file as it is.
        return sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True, timeout=self.busy_timeout)

    def _migrate(self, db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            version = self._version(db)
            if version > SCHEMA_VERSION:
                raise sqlite3.DatabaseError(
                    f"has schema version {version}, newer than this stacks-cloud knows ({SCHEMA_VERSION})"
                )
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in filter(str.strip, MIGRATIONS[target].split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._migrated = True

    @staticmethod
    def _version(db: sqlite3.Connection) -> int:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version == 0 and db.execute("SELECT name FROM sqlite_master WHERE name = 'deployments'").fetchone():
            return 1  # written by 0.1, before the schema had a version
        return version

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._errors(), closing(self._connect_write()) as db:
            db.execute("BEGIN IMMEDIATE")  # take the write lock up front: no upgrade deadlocks
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection | None]:
        with self._errors():
            db = self._connect_read()
            try:
                if db is not None and self._version(db) > SCHEMA_VERSION:
                    raise sqlite3.DatabaseError(
                        f"has schema version {self._version(db)}, newer than this stacks-cloud knows ({SCHEMA_VERSION})"
                    )
                yield db
            finally:
                if db is not None:
                    db.close()

    # --- deployments ------------------------------------------------------------------------------------

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
        with self._transaction() as db:
            db.execute(
                "INSERT INTO deployments (id, app, environment, version, provider, config_hash, status,"
                " rollback_of, started_at, kind, config_snapshot, operator)"
                " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
                (
                    deployment_id,
                    app,
                    environment,
                    masked(version),
                    provider,
                    config_hash,
                    rollback_of,
                    time.time(),
                    kind,
                    json.dumps(masked(config_snapshot, by_key=True)) if config_snapshot is not None else None,
                    current_operator(),
                ),
            )

    def set_status(self, deployment_id: str, status: str, *, error: str | None = None, url: str | None = None) -> None:
        finished = time.time() if status in FINAL_STATES else None
        with self._transaction() as db:
            db.execute(
                "UPDATE deployments SET status = ?, error = COALESCE(?, error), url = COALESCE(?, url),"
                " finished_at = COALESCE(?, finished_at) WHERE id = ?",
                (status, masked(error), masked(url), finished, deployment_id),
            )

    def set_checks(self, deployment_id: str, checks: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE deployments SET checks = ? WHERE id = ?", (masked(checks), deployment_id))

    def set_rollout(self, deployment_id: str, rollout: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute("UPDATE deployments SET rollout = ? WHERE id = ?", (json.dumps(masked(rollout)), deployment_id))

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
        with self._transaction() as db:
            db.execute(
                "INSERT INTO stack_runs (deployment_id, stack, status, outputs, seconds, error, run, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (deployment_id, stack) DO UPDATE SET"
                " status = excluded.status, outputs = COALESCE(excluded.outputs, outputs),"
                " seconds = COALESCE(excluded.seconds, seconds), error = excluded.error,"
                " run = COALESCE(excluded.run, run), updated_at = excluded.updated_at",
                (
                    deployment_id,
                    stack,
                    status,
                    json.dumps(masked(outputs)) if outputs is not None else None,
                    seconds,
                    masked(error),
                    json.dumps(masked(run)) if run is not None else None,
                    time.time(),
                ),
            )

    def put_archive(self, deployment_id: str, data: bytes) -> None:
        with self._transaction() as db:
            db.execute("UPDATE deployments SET archive = ? WHERE id = ?", (data, deployment_id))

    def get_archive(self, deployment_id: str) -> bytes | None:
        with self._reading() as db:
            if db is None:
                return None
            row = db.execute("SELECT archive FROM deployments WHERE id = ?", (deployment_id,)).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def delete_archive(self, deployment_id: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE deployments SET archive = NULL WHERE id = ?", (deployment_id,))

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        records = self._select("WHERE d.id = ?", (deployment_id,))
        return records[0] if records else None

    def history(self, app: str, environment: str, limit: int = 20) -> list[DeploymentRecord]:
        return self._select(
            "WHERE d.app = ? AND d.environment = ? ORDER BY d.started_at DESC LIMIT ?", (app, environment, limit)
        )

    def _select(self, where: str, params: tuple[Any, ...]) -> list[DeploymentRecord]:
        with self._reading() as db:
            if db is None:
                return []
            schema = self._version(db)
            extra = "d.kind, d.config_snapshot, d.operator" if schema >= 2 else "'deploy', NULL, NULL"
            extra += ", d.checks" if schema >= 3 else ", NULL"
            extra += ", d.rollout" if schema >= 5 else ", NULL"
            rows = db.execute(
                "SELECT d.id, d.app, d.environment, d.version, d.provider, d.config_hash, d.status, d.url, d.error,"
                f" d.rollback_of, d.started_at, d.finished_at, d.archive IS NOT NULL, {extra}"
                f" FROM deployments d {where}",
                params,
            ).fetchall()
            records = []
            run_column = "run" if schema >= 4 else "NULL"
            for row in rows:
                stacks = {
                    stack: {
                        "status": status,
                        "outputs": json.loads(outputs) if outputs else {},
                        "seconds": seconds,
                        "error": error,
                        "run": json.loads(run) if run else None,
                    }
                    for stack, status, outputs, seconds, error, run in db.execute(
                        f"SELECT stack, status, outputs, seconds, error, {run_column} FROM stack_runs"
                        " WHERE deployment_id = ? ORDER BY stack",
                        (row[0],),
                    )
                }
                records.append(
                    DeploymentRecord(
                        id=row[0],
                        app=row[1],
                        environment=row[2],
                        version=row[3],
                        provider=row[4],
                        config_hash=row[5],
                        status=row[6],
                        url=row[7],
                        error=row[8],
                        rollback_of=row[9],
                        started_at=row[10],
                        finished_at=row[11],
                        has_archive=bool(row[12]),
                        stacks=stacks,
                        kind=row[13],
                        config_snapshot=json.loads(row[14]) if row[14] else None,
                        operator=row[15],
                        checks=row[16],
                        rollout=json.loads(row[17]) if row[17] else None,
                    )
                )
        return records

    # --- the environment lock -----------------------------------------------------------------------------

    def read_lock(self, app: str, environment: str) -> LockHolder | None:
        with self._reading() as db:
            if db is None or self._version(db) < 2:
                return None
            row = db.execute(
                "SELECT holder, version FROM locks WHERE app = ? AND environment = ?", (app, environment)
            ).fetchone()
        return LockHolder.from_dict(json.loads(row[0]), token=str(row[1])) if row else None

    def create_lock(self, app: str, environment: str, holder: LockHolder) -> LockHolder | None:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT OR IGNORE INTO locks (app, environment, holder, version) VALUES (?, ?, ?, 1)",
                (app, environment, json.dumps(holder.as_dict())),
            )
            created = cursor.rowcount == 1
        return LockHolder.from_dict(holder.as_dict(), token="1") if created else None

    def replace_lock(
        self, app: str, environment: str, expected: LockHolder, holder: LockHolder | None
    ) -> LockHolder | bool | None:
        with self._transaction() as db:
            if holder is None:
                cursor = db.execute(
                    "DELETE FROM locks WHERE app = ? AND environment = ? AND version = ?",
                    (app, environment, int(expected.token or 0)),
                )
                return None if cursor.rowcount == 1 else False
            version = int(expected.token or 0) + 1
            cursor = db.execute(
                "UPDATE locks SET holder = ?, version = ? WHERE app = ? AND environment = ? AND version = ?",
                (json.dumps(holder.as_dict()), version, app, environment, int(expected.token or 0)),
            )
        return LockHolder.from_dict(holder.as_dict(), token=str(version)) if cursor.rowcount == 1 else False
