"""`DatabaseInstance`: an RDS instance in private subnets, its password managed by AWS (the guide's
`rds.DatabaseInstance`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.aws import db_instance, db_subnet_group
from stacks_cloud.constructs._options import Options, validate_options
from stacks_cloud.constructs.network import Vpc
from stacks_cloud.core import naming


class Engine(StrEnum):
    MYSQL = "mysql"
    POSTGRES = "postgres"
    MARIADB = "mariadb"


ENGINE_VERSION = {Engine.MYSQL: "8.0", Engine.POSTGRES: "16", Engine.MARIADB: "10.11"}
"""Major version per engine; MySQL 8.0 as in the guide (`MysqlEngineVersion.VER_8_0`)."""
ENGINE_PORT = {Engine.MYSQL: 3306, Engine.POSTGRES: 5432, Engine.MARIADB: 3306}


class DatabaseOptions(Options):
    identifier: Annotated[str, AfterValidator(naming.name_validator(naming.rds_identifier_problems, "RDS identifier"))]
    instance_type: Annotated[str, Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")] = "db.t3.small"
    """Default: db.t3.small (the guide's `InstanceType.of(T3, SMALL)`)."""
    engine: Engine = Engine.MYSQL
    multi_az: bool = False
    allocated_storage_gb: Annotated[int, Field(ge=20, le=65536)] = 20
    max_allocated_storage_gb: Annotated[int, Field(ge=20, le=65536)] = 100
    backup_retention_days: Annotated[int, Field(ge=0, le=35)] = 7
    deletion_protection: bool = True
    username: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,15}$")] = "app_admin"


class DatabaseInstance(Construct):
    """An encrypted RDS instance, reachable only from the app's security group.

    The master password is generated and kept in Secrets Manager by RDS
    (`manage_master_user_password`): it never appears in the Terraform files, the state's outputs
    or the logs. `secret_arn` points at it for the app to read.

    Attributes: `instance`, `endpoint`, `address`, `port`, `secret_arn`, `security_group_id`.
    """

    def __init__(self, scope: Construct, construct_id: str, vpc: Vpc, **options: object) -> None:
        props = validate_options(DatabaseOptions, scope, construct_id, options)
        super().__init__(scope, construct_id)
        port = ENGINE_PORT[props.engine]
        self.security_group_id = vpc.admit_app(
            self, "SecurityGroup", port=port, name=f"{props.identifier}-db", description="Database"
        )
        subnets = db_subnet_group.DbSubnetGroup(
            self, "SubnetGroup", name=f"{props.identifier}-subnets", subnet_ids=vpc.private_subnet_ids
        )
        self.instance = db_instance.DbInstance(
            self,
            "Instance",
            identifier=props.identifier,
            engine=props.engine.value,
            engine_version=ENGINE_VERSION[props.engine],
            instance_class=props.instance_type,
            multi_az=props.multi_az,
            allocated_storage=props.allocated_storage_gb,
            max_allocated_storage=props.max_allocated_storage_gb,
            storage_type="gp3",
            storage_encrypted=True,
            db_subnet_group_name=subnets.name,
            vpc_security_group_ids=[self.security_group_id],
            publicly_accessible=False,
            port=port,
            username=props.username,
            manage_master_user_password=True,
            backup_retention_period=props.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=props.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{props.identifier}-final",
        )

    @property
    def endpoint(self) -> str:
        return str(self.instance.endpoint)

    @property
    def address(self) -> str:
        return str(self.instance.address)

    @property
    def port(self) -> float:
        return float(self.instance.port)

    @property
    def secret_arn(self) -> str:
        return str(self.instance.master_user_secret.get(0).secret_arn)
