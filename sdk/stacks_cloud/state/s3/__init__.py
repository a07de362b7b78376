"""The `s3` backend: each stack's state in one S3 bucket, with the team's history and lock beside it.

- state: key `{app}/{env}/{stack}.tfstate` in `state.s3.bucket`, encrypted, locked by an S3 lockfile
  (`<key>.tflock`, terraform 1.10+) or a DynamoDB table (`LockID = <bucket>/<key>`);
- ledger and environment lock: `{app}/{env}/_stacks-cloud/` in the same bucket (`S3Ledger`, conditional
  writes), so every clone sees the same history;
- bootstrap: the bucket (versioned, encrypted, public access blocked, TLS only) and the lock table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stacks_cloud.config import CloudConfig, S3StateSettings, StateConfig
from stacks_cloud.core.errors import CloudProviderError, Problem
from stacks_cloud.models import StateLock
from stacks_cloud.state.base import BootstrapOutcome, StateBackend
from stacks_cloud.state.ledger import Ledger
from stacks_cloud.state.s3.bootstrap import BootstrapReport, bootstrap_state
from stacks_cloud.state.s3.client import client
from stacks_cloud.state.s3.ledger import S3Ledger

if TYPE_CHECKING:
    from stacks_cloud.cdk import TerraformStack

__all__ = ["BootstrapReport", "S3Ledger", "S3StateBackend", "bootstrap_state", "client"]


def _settings(config: CloudConfig) -> S3StateSettings:
    settings = config.state.s3
    if settings is None:  # `problems` refuses such a config before any of this runs
        raise CloudProviderError("state.s3 is not set", provider="terraform")
    return settings


def _lock(stack: str, info: dict[str, Any], where: str) -> StateLock:
    return StateLock(
        stack=stack,
        lock_id=str(info.get("ID", "")),
        who=str(info.get("Who", "unknown")),
        created=str(info.get("Created", "unknown")),
        operation=str(info.get("Operation", "unknown")),
        where=where,
    )


class S3StateBackend(StateBackend):
    name = "s3"

    def minimum_terraform(self, config: CloudConfig) -> tuple[int, int]:
        return (1, 10) if _settings(config).locking == "lockfile" else (1, 5)  # `use_lockfile` came in 1.10

    def problems(self, state: StateConfig) -> list[Problem]:
        if state.s3 is not None:
            return []
        example = "{'bucket': 'acme-tfstate', 'region': 'us-east-1'}"
        return [Problem("state.s3", None, "is required when backend is 's3'.", f"add e.g. {example}.")]

    def configure_stack(
        self, stack: TerraformStack, name: str, config: CloudConfig, *, project_dir: Path, outdir: Path
    ) -> None:
        from stacks_cloud.cdk import S3Backend, S3BackendEndpointConfig  # synth only

        s3 = _settings(config)
        options: dict[str, object] = {}
        if s3.endpoints is not None:
            options["endpoints"] = S3BackendEndpointConfig(**s3.endpoints.model_dump(exclude_none=True))
        if s3.skip_aws_checks:
            options |= {
                "skip_credentials_validation": True,
                "skip_requesting_account_id": True,
                "skip_metadata_api_check": True,
                "skip_region_validation": True,
            }
        S3Backend(
            stack,
            bucket=s3.bucket,
            key=s3.key(config.app_name, config.environment, name),
            region=s3.region,
            encrypt=s3.encrypt,
            kms_key_id=s3.kms_key_id,
            dynamodb_table=s3.dynamodb_table if s3.locking == "dynamodb" else None,
            use_path_style=s3.use_path_style or None,
            **options,  # type: ignore[arg-type]
        )
        if s3.locking == "lockfile":
            # cdktf 0.21's S3Backend predates `use_lockfile` (Terraform 1.10+): set it on the JSON directly.
            stack.add_override("terraform.backend.s3.use_lockfile", True)

    def open_ledger(self, config: CloudConfig, project_dir: Path) -> Ledger:
        return S3Ledger(_settings(config), app=config.app_name, environment=config.environment)

    def bootstrap(self, config: CloudConfig, stacks: list[str]) -> BootstrapOutcome:
        report = bootstrap_state(_settings(config))
        return BootstrapOutcome(str(report), created=report.created, existing=report.existing)

    def state_locks(self, config: CloudConfig, stacks: list[str]) -> list[StateLock]:
        settings = _settings(config)
        if settings.locking == "lockfile":
            return self._lockfiles(config, settings, stacks)
        dynamodb = client(settings, "dynamodb")
        locks = []
        for stack in stacks:
            lock_id = f"{settings.bucket}/{settings.key(config.app_name, config.environment, stack)}"
            item = dynamodb.get_item(TableName=settings.dynamodb_table, Key={"LockID": {"S": lock_id}}).get("Item")
            if item and "Info" in item:
                where = f"dynamodb://{settings.dynamodb_table}/{lock_id}"
                locks.append(_lock(stack, json.loads(item["Info"]["S"]), where))
        return locks

    @staticmethod
    def _lockfiles(config: CloudConfig, settings: S3StateSettings, stacks: list[str]) -> list[StateLock]:
        from botocore.exceptions import ClientError

        s3 = client(settings)
        locks = []
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

    def remove_state_lock(self, config: CloudConfig, lock: StateLock) -> None:
        settings = _settings(config)
        if lock.lock_id not in {found.lock_id for found in self.state_locks(config, [lock.stack])}:
            raise CloudProviderError(
                f"{lock.stack}: the lock {lock.lock_id} is no longer held (another run took or released it);"
                " nothing removed",
                provider="terraform",
            )
        key = settings.key(config.app_name, config.environment, lock.stack)
        if settings.locking == "lockfile":
            client(settings).delete_object(Bucket=settings.bucket, Key=key + ".tflock")
        else:
            client(settings, "dynamodb").delete_item(
                TableName=settings.dynamodb_table, Key={"LockID": {"S": f"{settings.bucket}/{key}"}}
            )
