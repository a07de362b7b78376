"""`S3Ledger`: the ledger of the `s3` backend, kept in the state bucket beside the state it describes.

Every clone with the same config sees the same history, so `status`, `rollback` and `destroy` work
from a fresh clone or a CI runner. Under `{app}/{env}/_stacks-cloud/`:

    lock.json                                  the environment lock (one deployment at a time)
    deployments/{id}.json                      one deployment's record
    deployments/{id}/stacks/{stack}.json       one stack of it (written by parallel stacks without contention)
    archives/{id}.tar.gz                       the synth it applied (for rollbacks and destroy)

Two writers never overwrite each other: a record or the lock is created with `If-None-Match: *` and
changed with `If-Match: <its ETag>` (S3 conditional writes); a refused condition is a clear error,
not a lost update. Deployment ids start with a UTC timestamp to the millisecond, so listing the
keys lists the history in order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from stacks_cloud.config import S3StateSettings
from stacks_cloud.core.errors import LedgerError
from stacks_cloud.models import FINAL_STATES, DeploymentRecord
from stacks_cloud.state.ledger import Ledger, LockHolder, masked, new_record, record_from, stack_run
from stacks_cloud.state.s3.client import client as s3_client

LEASE_SECONDS = 600.0
"""How long the lock lasts without renewal; the holder renews it every third of this while it runs."""
PREFIX = "_stacks-cloud"


class S3Ledger(Ledger):
    """The ledger in `settings.bucket` (the state bucket), one prefix per app and environment."""

    lease_seconds: float | None = LEASE_SECONDS

    def __init__(
        self, settings: S3StateSettings, *, app: str | None = None, environment: str | None = None, client: Any = None
    ) -> None:
        self.settings = settings
        self.bucket = settings.bucket
        self.scope: tuple[str, str] | None = (app, environment) if app and environment else None
        where = f"{app}/{environment}" if self.scope else "<app>/<env>"
        self.location = f"s3://{settings.bucket}/{where}/{PREFIX}/"
        self._client = client
        self._etags: dict[str, str] = {}
        self._index: dict[str, tuple[str, str]] = {}  # deployment id -> (app, environment)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = s3_client(self.settings)
        return self._client

    def _base(self, app: str, environment: str) -> str:
        return f"{app}/{environment}/{PREFIX}"

    def _where(self, deployment_id: str) -> tuple[str, str]:
        if deployment_id in self._index:
            return self._index[deployment_id]
        if self.scope is not None:
            return self.scope
        raise LedgerError(
            f"deployment {deployment_id!r} is not known to this process",
            store=self.location,
            fix="read it with history() or get() first.",
        )

    # --- S3 calls, errors mapped -----------------------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], Any], *, missing: tuple[str, ...] = ()) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return call()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in missing:
                return None
            if code == "PreconditionFailed":
                raise _Conflict(what) from None
            if code in ("NoSuchBucket",):
                raise LedgerError(
                    f"the state bucket {self.bucket!r} does not exist.",
                    store=f"s3://{self.bucket}",
                    fix="create it with `cloud bootstrap`.",
                ) from None
            if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
                raise LedgerError(
                    f"{what} was refused ({code}).",
                    store=f"s3://{self.bucket}",
                    fix="give this identity s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the"
                    " state bucket.",
                ) from None
            raise LedgerError(f"{what} failed: {code or error}.", store=f"s3://{self.bucket}") from None
        except BotoCoreError as error:
            raise LedgerError(
                f"{what} failed: {error}.",
                store=f"s3://{self.bucket}",
                fix="check the network, the credentials and state.s3.endpoints.",
            ) from None

    def _get_json(self, key: str) -> tuple[dict[str, Any], str] | None:
        response = self._call(
            f"reading {key}", lambda: self.client.get_object(Bucket=self.bucket, Key=key), missing=("NoSuchKey", "404")
        )
        if response is None:
            return None
        try:
            data = json.loads(response["Body"].read())
        except ValueError:
            raise LedgerError(
                f"{key} is not valid JSON (damaged).",
                store=f"s3://{self.bucket}",
                fix=f"restore the previous version of s3://{self.bucket}/{key} (the bucket is versioned) or delete it.",
            ) from None
        return data, str(response["ETag"])

    def _put_json(self, key: str, data: dict[str, Any], *, etag: str | None = None, create: bool = False) -> str:
        body = json.dumps(data, sort_keys=True).encode()
        options: dict[str, Any] = {"ContentType": "application/json"}
        if create:
            options["IfNoneMatch"] = "*"
        elif etag is not None:
            options["IfMatch"] = etag
        if self.settings.encrypt:
            options["ServerSideEncryption"] = "aws:kms" if self.settings.kms_key_id else "AES256"
            if self.settings.kms_key_id:
                options["SSEKMSKeyId"] = self.settings.kms_key_id
        response = self._call(
            f"writing {key}", lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=body, **options)
        )
        return str(response["ETag"])

    def _list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        token: str | None = None
        while True:
            page = self._call(f"listing {prefix}", _lister(self.client, self.bucket, prefix, token))
            keys += [item["Key"] for item in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            token = page.get("NextContinuationToken")

    # --- deployments ------------------------------------------------------------------------------------

    def _record_key(self, app: str, environment: str, deployment_id: str) -> str:
        return f"{self._base(app, environment)}/deployments/{deployment_id}.json"

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
        key = self._record_key(app, environment, deployment_id)
        try:
            self._etags[key] = self._put_json(key, record, create=True)
        except _Conflict:
            raise LedgerError(f"a deployment {deployment_id!r} is already recorded.", store=self.location) from None
        self._index[deployment_id] = (app, environment)

    def _update(self, deployment_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        app, environment = self._where(deployment_id)
        key = self._record_key(app, environment, deployment_id)
        for _ in range(5):
            found = self._get_json(key)
            if found is None:
                raise LedgerError(f"deployment {deployment_id!r} has no record at {key}.", store=self.location)
            data, etag = found
            change(data)
            try:
                self._etags[key] = self._put_json(key, data, etag=etag)
                return
            except _Conflict:
                continue  # changed between our read and our write: read it again and re-apply the change
        raise LedgerError(f"{key} kept changing under this write (5 attempts).", store=self.location)

    def set_status(self, deployment_id: str, status: str, *, error: str | None = None, url: str | None = None) -> None:
        def change(data: dict[str, Any]) -> None:
            data["status"] = status
            if error is not None:
                data["error"] = masked(error)
            if url is not None:
                data["url"] = masked(url)
            if status in FINAL_STATES and data.get("finished_at") is None:
                data["finished_at"] = time.time()

        self._update(deployment_id, change)

    def set_checks(self, deployment_id: str, checks: str) -> None:
        def change(data: dict[str, Any]) -> None:
            data["checks"] = masked(checks)

        self._update(deployment_id, change)

    def set_rollout(self, deployment_id: str, rollout: dict[str, Any]) -> None:
        def change(data: dict[str, Any]) -> None:
            data["rollout"] = masked(rollout)

        self._update(deployment_id, change)

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
        app, environment = self._where(deployment_id)
        key = f"{self._base(app, environment)}/deployments/{deployment_id}/stacks/{stack}.json"
        current = self._get_json(key)
        previous, etag = current if current else ({}, None)
        data = stack_run(previous, status, outputs=outputs, seconds=seconds, error=error, run=run)
        data["updated_at"] = time.time()
        self._put_json(key, data, etag=etag, create=etag is None)

    def _archive_key(self, deployment_id: str) -> str:
        app, environment = self._where(deployment_id)
        return f"{self._base(app, environment)}/archives/{deployment_id}.tar.gz"

    def put_archive(self, deployment_id: str, data: bytes) -> None:
        key = self._archive_key(deployment_id)
        options: dict[str, Any] = {"ServerSideEncryption": "AES256"} if self.settings.encrypt else {}
        self._call(f"writing {key}", lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data, **options))
        self._update(deployment_id, lambda record: record.update(has_archive=True))

    def get_archive(self, deployment_id: str) -> bytes | None:
        if deployment_id not in self._index and self.get(deployment_id) is None:
            return None
        key = self._archive_key(deployment_id)
        response = self._call(
            f"reading {key}", lambda: self.client.get_object(Bucket=self.bucket, Key=key), missing=("NoSuchKey", "404")
        )
        return bytes(response["Body"].read()) if response is not None else None

    def delete_archive(self, deployment_id: str) -> None:
        key = self._archive_key(deployment_id)
        self._call(f"deleting {key}", lambda: self.client.delete_object(Bucket=self.bucket, Key=key))
        self._update(deployment_id, lambda record: record.update(has_archive=False))

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        if deployment_id in self._index:
            return self._load(*self._index[deployment_id], deployment_id)
        if self.scope is not None:
            return self._load(self.scope[0], self.scope[1], deployment_id)
        # The id alone does not say its app and environment: find its key (ids are unique per bucket).
        for key in self._list(""):
            if key.endswith(f"/{PREFIX}/deployments/{deployment_id}.json"):
                app, environment = key.split("/")[:2]
                return self._load(app, environment, deployment_id)
        return None

    def history(self, app: str, environment: str, limit: int = 20) -> list[DeploymentRecord]:
        prefix = f"{self._base(app, environment)}/deployments/"
        ids = sorted(
            (
                key.removeprefix(prefix).removesuffix(".json")
                for key in self._list(prefix)
                if key.count("/") == prefix.count("/")  # the records, not their stacks' objects
            ),
            reverse=True,
        )
        records = [record for record in (self._load(app, environment, i) for i in ids[:limit]) if record]
        return sorted(records, key=lambda record: record.started_at, reverse=True)

    def _load(self, app: str, environment: str, deployment_id: str) -> DeploymentRecord | None:
        found = self._get_json(self._record_key(app, environment, deployment_id))
        if found is None:
            return None
        data, _ = found
        self._index[deployment_id] = (app, environment)
        stacks_prefix = f"{self._base(app, environment)}/deployments/{deployment_id}/stacks/"
        stacks: dict[str, dict[str, Any]] = {}
        for key in self._list(stacks_prefix):
            stack = key.removeprefix(stacks_prefix).removesuffix(".json")
            run = self._get_json(key)
            if run is not None:
                stacks[stack] = {name: run[0].get(name) for name in ("status", "outputs", "seconds", "error", "run")}
        return record_from(data, stacks)

    # --- the environment lock -----------------------------------------------------------------------------

    def _lock_key(self, app: str, environment: str) -> str:
        return f"{self._base(app, environment)}/lock.json"

    def read_lock(self, app: str, environment: str) -> LockHolder | None:
        found = self._get_json(self._lock_key(app, environment))
        return LockHolder.from_dict(found[0], token=found[1]) if found else None

    def create_lock(self, app: str, environment: str, holder: LockHolder) -> LockHolder | None:
        try:
            etag = self._put_json(self._lock_key(app, environment), holder.as_dict(), create=True)
        except _Conflict:
            return None
        return LockHolder.from_dict(holder.as_dict(), token=etag)

    def replace_lock(
        self, app: str, environment: str, expected: LockHolder, holder: LockHolder | None
    ) -> LockHolder | bool | None:
        key = self._lock_key(app, environment)
        try:
            if holder is None:
                self._call(
                    f"deleting {key}",
                    lambda: self.client.delete_object(Bucket=self.bucket, Key=key, IfMatch=expected.token),
                )
                return None
            etag = self._put_json(key, holder.as_dict(), etag=expected.token)
        except _Conflict:
            return False
        return LockHolder.from_dict(holder.as_dict(), token=etag)


def _lister(client: Any, bucket: str, prefix: str, token: str | None) -> Callable[[], Any]:
    options: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if token:
        options["ContinuationToken"] = token
    return lambda: client.list_objects_v2(**options)


class _Conflict(Exception):  # noqa: N818  (a signal between two methods, not an error a user sees)
    """A conditional write was refused: someone else wrote first."""
