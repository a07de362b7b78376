"""The guide's `addRdsDatabase` (`cloud/databases/custom-database.ts`)."""

from __future__ import annotations

from stacks_cloud.cdk import Construct
from stacks_cloud.constructs import DatabaseInstance, EncryptionKey, Vpc


def add_rds_database(
    scope: Construct,
    construct_id: str,
    vpc: Vpc,
    *,
    instance_type: str = "db.t3.small",
    engine: str = "mysql",
    multi_az: bool = False,
    identifier: str | None = None,
    encryption_key: EncryptionKey | None = None,
    monitoring_interval: int = 0,
) -> DatabaseInstance:
    """An RDS instance in `vpc`'s private subnets: the guide's MySQL 8.0 on db.t3.small by default.

    Storage 20 GB growing to 100, 7-day backups, deletion protection on, as in the guide; the master
    password is generated and kept in Secrets Manager. `identifier` defaults to the construct id in
    lowercase; `encryption_key` and `monitoring_interval` (enhanced monitoring) are passed through.
    """
    return DatabaseInstance(
        scope,
        construct_id,
        vpc,
        identifier=identifier or construct_id.lower(),
        instance_type=instance_type,
        engine=engine,
        multi_az=multi_az,
        allocated_storage_gb=20,
        max_allocated_storage_gb=100,
        backup_retention_days=7,
        deletion_protection=True,
        encryption_key=encryption_key,
        monitoring_interval=monitoring_interval,
    )
