"""`create_backup`: an on-demand backup of the app's DynamoDB table and/or a snapshot of its RDS instance.

Named after the deployment (`<table>-<deployment id>`, `<instance>-<deployment id>`), created in
every region of the deployment, and waited for until usable. A table or instance that does not
exist yet (the first deployment) is skipped with a log line, not an error.

    create_backup(table=lambda context: f"{context.app_name}-{context.environment}")  # in every region
    create_backup(table=None, db_instance="my-app-production-db")
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from stacks_cloud.hooks._common import ClientFactory, Setting, boto3_client, setting, split
from stacks_cloud.hooks.base import Hook


def _safe_id(value: str, limit: int) -> str:
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", value.lower())).strip("-")
    return cleaned[:limit].rstrip("-")


def create_backup(
    *,
    table: Setting | None,
    db_instance: Setting | None = None,
    regions: list[str] | None = None,
    wait_seconds: float = 1800,
    poll_seconds: float = 5,
    client_factory: ClientFactory | None = None,
    name: str = "create_backup",
) -> Hook:
    """Back up `table` (DynamoDB) and snapshot `db_instance` (RDS) before the deployment changes them.

    Args:
        table: table name, `from_env(...)`, a function of the context, or None for no table backup.
        db_instance: RDS instance identifier (same forms), or None. Default: none.
        regions: where to back up. Default: every region of the deployment.
        wait_seconds: how long to wait for each backup to become usable. Default: 30 min.
    """
    factory = client_factory or boto3_client

    def run(*args: Any) -> None:
        _, context = split(args)
        stamp = _safe_id(context.deployment_id, 60)
        for region in regions or context.regions:
            table_name = setting(table, context)
            if table_name:
                _backup_table(factory("dynamodb", region_name=region), table_name, stamp, context, region)
            instance = setting(db_instance, context)
            if instance:
                _snapshot_instance(factory("rds", region_name=region), instance, stamp, context, region)

    def _backup_table(client: Any, table_name: str, stamp: str, context: Any, region: str) -> None:
        from botocore.exceptions import ClientError

        backup_name = f"{table_name}-{stamp}"[:255]
        try:
            created = client.create_backup(TableName=table_name, BackupName=backup_name)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("TableNotFoundException", "ResourceNotFoundException"):
                context.logger.info("backup of table %s in %s skipped: it does not exist yet", table_name, region)
                return
            raise
        arn = created["BackupDetails"]["BackupArn"]
        deadline = time.monotonic() + wait_seconds
        while created["BackupDetails"]["BackupStatus"] != "AVAILABLE":
            if time.monotonic() > deadline:
                raise TimeoutError(f"backup {backup_name} of {table_name} not available after {wait_seconds:g} s")
            time.sleep(poll_seconds)
            created = {"BackupDetails": client.describe_backup(BackupArn=arn)["BackupDescription"]["BackupDetails"]}
        context.logger.info("backed up table %s in %s as %s", table_name, region, backup_name)

    def _snapshot_instance(client: Any, instance: str, stamp: str, context: Any, region: str) -> None:
        from botocore.exceptions import ClientError

        snapshot = _safe_id(f"{instance}-{stamp}", 255)
        if not snapshot[:1].isalpha():
            snapshot = f"s-{snapshot}"[:255]
        try:
            client.create_db_snapshot(DBSnapshotIdentifier=snapshot, DBInstanceIdentifier=instance)
        except ClientError as error:
            if error.response["Error"]["Code"] == "DBInstanceNotFound":
                context.logger.info("snapshot of %s in %s skipped: the instance does not exist yet", instance, region)
                return
            raise
        client.get_waiter("db_snapshot_available").wait(
            DBSnapshotIdentifier=snapshot,
            WaiterConfig={"Delay": poll_seconds, "MaxAttempts": max(1, int(wait_seconds // max(poll_seconds, 1)))},
        )
        context.logger.info("snapshot %s of %s in %s is available", snapshot, instance, region)

    async def hook(*args: Any) -> None:
        await asyncio.to_thread(run, *args)

    return Hook(hook, name=name, timeout=wait_seconds * 2 + 60)
