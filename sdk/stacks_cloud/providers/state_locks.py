"""Terraform state locks on each stack's state, read and removed without terraform (for `cloud unlock --stack`).

- `s3` with `locking: lockfile`: the `<state key>.tflock` object Terraform 1.10+ writes beside the state.
- `s3` with `locking: dynamodb`: the lock table's item `LockID = <bucket>/<state key>`.
- `cloud`: the workspace's lock in Terraform Cloud (removed with the API's force-unlock).
- `local`: Terraform's local lock is an OS file lock, released when its process dies: none are left.

A lock is removed only if it is still the one that was listed (its id is checked again), which is
what `terraform force-unlock <id>` does.
"""

from __future__ import annotations

import json
from typing import Any

from stacks_cloud.config import CloudConfig, CloudStateSettings, S3StateSettings
from stacks_cloud.core.errors import CloudProviderError
from stacks_cloud.models import StateLock


def _client(service: str, settings: S3StateSettings) -> Any:
    import boto3
    from botocore.config import Config

    endpoints = settings.endpoints
    endpoint = getattr(endpoints, service, None) if endpoints else None
    options: dict[str, Any] = {}
    if service == "s3" and settings.use_path_style:
        options["config"] = Config(s3={"addressing_style": "path"})
    return boto3.client(service, region_name=settings.region, endpoint_url=endpoint, **options)


def _lock(stack: str, info: dict[str, Any], where: str) -> StateLock:
    return StateLock(
        stack=stack,
        lock_id=str(info.get("ID", "")),
        who=str(info.get("Who", "unknown")),
        created=str(info.get("Created", "unknown")),
        operation=str(info.get("Operation", "unknown")),
        where=where,
    )


def find_state_locks(config: CloudConfig, stacks: list[str]) -> list[StateLock]:
    """The terraform state locks held on `stacks`' states (empty for backends whose locks cannot outlive a run)."""
    state = config.state
    if state.backend == "s3" and state.s3 is not None:
        return _s3_locks(state.s3, config, stacks)
    if state.backend == "cloud" and state.cloud is not None:
        return _cloud_locks(state.cloud, stacks)
    return []


def remove_state_lock(config: CloudConfig, lock: StateLock) -> None:
    """Remove `lock` if it is still held with the same id; raise `CloudProviderError` otherwise."""
    state = config.state
    if state.backend == "s3" and state.s3 is not None:
        _remove_s3_lock(state.s3, config, lock)
        return
    if state.backend == "cloud" and state.cloud is not None:
        _remove_cloud_lock(state.cloud, lock)
        return
    raise CloudProviderError(f"the {state.backend} backend keeps no lock to remove", provider="terraform")


def _s3_locks(settings: S3StateSettings, config: CloudConfig, stacks: list[str]) -> list[StateLock]:
    from botocore.exceptions import ClientError

    locks = []
    if settings.locking == "lockfile":
        s3 = _client("s3", settings)
        for stack in stacks:
            key = settings.key(config.app_name, config.environment, stack) + ".tflock"
            try:
                body = s3.get_object(Bucket=settings.bucket, Key=key)["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    continue
                raise CloudProviderError(
                    f"could not read s3://{settings.bucket}/{key}: {error}", provider="aws"
                ) from None
            locks.append(_lock(stack, json.loads(body), f"s3://{settings.bucket}/{key}"))
        return locks
    dynamodb = _client("dynamodb", settings)
    for stack in stacks:
        lock_id = f"{settings.bucket}/{settings.key(config.app_name, config.environment, stack)}"
        item = dynamodb.get_item(TableName=settings.dynamodb_table, Key={"LockID": {"S": lock_id}}).get("Item")
        if item and "Info" in item:
            locks.append(_lock(stack, json.loads(item["Info"]["S"]), f"dynamodb://{settings.dynamodb_table}/{lock_id}"))
    return locks


def _remove_s3_lock(settings: S3StateSettings, config: CloudConfig, lock: StateLock) -> None:
    current = {found.lock_id for found in _s3_locks(settings, config, [lock.stack])}
    if lock.lock_id not in current:
        raise CloudProviderError(
            f"{lock.stack}: the lock {lock.lock_id} is no longer held (another run took or released it);"
            " nothing removed",
            provider="terraform",
        )
    key = settings.key(config.app_name, config.environment, lock.stack)
    if settings.locking == "lockfile":
        _client("s3", settings).delete_object(Bucket=settings.bucket, Key=key + ".tflock")
    else:
        _client("dynamodb", settings).delete_item(
            TableName=settings.dynamodb_table, Key={"LockID": {"S": f"{settings.bucket}/{key}"}}
        )


def _tfe(settings: CloudStateSettings) -> Any:
    from stacks_cloud.state.tfe import TfeClient, find_token

    token = find_token(settings.hostname)
    if token is None:
        raise CloudProviderError(
            f"no API token for {settings.hostname}: run `terraform login {settings.hostname}`", provider="terraform"
        )
    return TfeClient(settings.hostname, token)


def _cloud_locks(settings: CloudStateSettings, stacks: list[str]) -> list[StateLock]:
    client = _tfe(settings)
    locks = []
    for stack in stacks:
        workspace = client.workspace(settings.organization, stack)
        if workspace is None or not workspace.get("attributes", {}).get("locked"):
            continue
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


def _remove_cloud_lock(settings: CloudStateSettings, lock: StateLock) -> None:
    client = _tfe(settings)
    workspace = client.workspace(settings.organization, lock.stack)
    if workspace is None or str(workspace["id"]) != lock.lock_id or not workspace["attributes"].get("locked"):
        raise CloudProviderError(f"{lock.stack}: the workspace is no longer locked as listed", provider="terraform")
    status, _ = client.call("POST", f"workspaces/{lock.lock_id}/actions/force-unlock")
    if status >= 300:
        raise CloudProviderError(
            f"{lock.stack}: Terraform Cloud refused to unlock (HTTP {status})", provider="terraform"
        )
