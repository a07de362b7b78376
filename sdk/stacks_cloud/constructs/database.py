"""`DatabaseInstance`: an RDS instance in private subnets, its password managed by AWS (the guide's
`rds.DatabaseInstance`).

Secure by default: storage encrypted (with the given KMS key, which also encrypts its managed secret
and Performance Insights); IAM database authentication on; a parameter group that refuses
connections without TLS; its logs exported to CloudWatch; minor versions upgraded automatically.
Multi-AZ and enhanced monitoring are options (the guide's project turns them on in production).
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal, Required, TypedDict, Unpack

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct, TerraformResourceLifecycle
from stacks_cloud.cdk.aws import db_instance, db_parameter_group, db_subnet_group, iam_role, iam_role_policy_attachment
from stacks_cloud.constructs._iam import assume_role_policy
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import account_of, node_id, partition_of, region_of, remember
from stacks_cloud.constructs.grants import Grantable, grant
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.network import Vpc
from stacks_cloud.core import naming


class Engine(StrEnum):
    MYSQL = "mysql"
    POSTGRES = "postgres"
    MARIADB = "mariadb"


ENGINE_VERSION = {Engine.MYSQL: "8.0", Engine.POSTGRES: "16", Engine.MARIADB: "10.11"}
"""Major version per engine; MySQL 8.0 as in the guide (`MysqlEngineVersion.VER_8_0`)."""
ENGINE_PORT = {Engine.MYSQL: 3306, Engine.POSTGRES: 5432, Engine.MARIADB: 3306}
ENGINE_FAMILY = {Engine.MYSQL: "mysql8.0", Engine.POSTGRES: "postgres16", Engine.MARIADB: "mariadb10.11"}
REQUIRE_TLS = {
    Engine.MYSQL: ("require_secure_transport", "1"),
    Engine.POSTGRES: ("rds.force_ssl", "1"),
    Engine.MARIADB: ("require_secure_transport", "1"),
}
"""The parameter that refuses connections without TLS, per engine."""
LOG_EXPORTS = {
    Engine.MYSQL: ["error", "general", "slowquery"],
    Engine.POSTGRES: ["postgresql", "upgrade"],
    Engine.MARIADB: ["error", "general", "slowquery"],
}
SECRET_READ_ACTIONS = ("secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue")


class DatabaseOptions(Options):
    identifier: Annotated[str, AfterValidator(naming.name_validator(naming.rds_identifier_problems, "RDS identifier"))]
    """The instance's name (unique per region and account). Required."""
    instance_type: Annotated[str, Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")] = "db.t3.small"
    """Default: db.t3.small (the guide's `InstanceType.of(T3, SMALL)`)."""
    engine: Engine = Engine.MYSQL
    """mysql (8.0, the guide's), postgres (16) or mariadb (10.11). Default: mysql."""
    multi_az: bool = False
    """A standby in another availability zone, failed over to automatically. Default: off."""
    allocated_storage_gb: Annotated[int, Field(ge=20, le=65536)] = 20
    """Storage at creation (gp3, encrypted), GB. Default: 20."""
    max_allocated_storage_gb: Annotated[int, Field(ge=20, le=65536)] = 100
    """Storage autoscaling's ceiling, GB. Default: 100."""
    backup_retention_days: Annotated[int, Field(ge=0, le=35)] = 7
    """Automated backups kept (0: none). Default: 7."""
    deletion_protection: bool = True
    """Refuse to delete the instance until turned off. Default: on."""
    username: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,15}$")] = "app_admin"
    """The master user (its password is RDS-managed, in Secrets Manager). Default: app_admin."""
    encryption_key: EncryptionKey | None = None
    """Encrypts storage, the managed master secret and Performance Insights. Default: AWS-managed keys."""
    monitoring_interval: Literal[0, 1, 5, 10, 15, 30, 60] = 0
    """Seconds between enhanced monitoring samples (0: off). Default: 0."""
    performance_insights: bool = True
    """Default: on (7 days of history, free)."""


class DatabaseKwargs(TypedDict, total=False):
    """`DatabaseInstance`'s options as keyword arguments, for mypy and IDEs; their docs and defaults are
    `DatabaseOptions`' (a test checks that both name the same options)."""

    identifier: Required[str]
    instance_type: str
    engine: Engine | str
    multi_az: bool
    allocated_storage_gb: int
    max_allocated_storage_gb: int
    backup_retention_days: int
    deletion_protection: bool
    username: str
    encryption_key: EncryptionKey | None
    monitoring_interval: int
    performance_insights: bool


@options_signature(DatabaseOptions, "vpc")
class DatabaseInstance(Construct):
    """An encrypted RDS instance, reachable only from the app's security group.

    The master password is generated and kept in Secrets Manager by RDS
    (`manage_master_user_password`): it never appears in the Terraform files, the state's outputs
    or the logs. `secret_arn` points at it for the app to read.

    Attributes: `instance`, `endpoint`, `address`, `port`, `secret_arn`, `security_group_id`.
    """

    def __init__(self, scope: Construct, construct_id: str, vpc: Vpc, **options: Unpack[DatabaseKwargs]) -> None:
        props = validate_options(DatabaseOptions, scope, construct_id, dict(options))
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        port = ENGINE_PORT[props.engine]
        self.security_group_id = vpc.admit_app(
            self, "SecurityGroup", port=port, name=f"{props.identifier}-db", description="Database"
        )
        subnets = db_subnet_group.DbSubnetGroup(
            self, "SubnetGroup", name=f"{props.identifier}-subnets", subnet_ids=vpc.private_subnet_ids
        )
        name, value = REQUIRE_TLS[props.engine]
        parameters = db_parameter_group.DbParameterGroup(
            self,
            "Parameters",
            name_prefix=f"{props.identifier}-",
            family=ENGINE_FAMILY[props.engine],
            description="Refuses connections without TLS",
            parameter=[
                db_parameter_group.DbParameterGroupParameter(name=name, value=value, apply_method="pending-reboot")
            ],
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        monitoring_role = self._monitoring_role() if props.monitoring_interval else None
        key = props.encryption_key
        self.encryption_key = key
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
            kms_key_id=key.arn if key else None,
            db_subnet_group_name=subnets.name,
            parameter_group_name=parameters.name,
            vpc_security_group_ids=[self.security_group_id],
            publicly_accessible=False,
            port=port,
            username=props.username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=key.arn if key else None,
            iam_database_authentication_enabled=True,
            enabled_cloudwatch_logs_exports=LOG_EXPORTS[props.engine],
            monitoring_interval=props.monitoring_interval,
            monitoring_role_arn=monitoring_role.arn if monitoring_role else None,
            performance_insights_enabled=props.performance_insights,
            performance_insights_kms_key_id=key.arn if key and props.performance_insights else None,
            auto_minor_version_upgrade=True,
            backup_retention_period=props.backup_retention_days,
            copy_tags_to_snapshot=True,
            deletion_protection=props.deletion_protection,
            skip_final_snapshot=False,
            final_snapshot_identifier=f"{props.identifier}-final",
        )

    def _monitoring_role(self) -> iam_role.IamRole:
        role = iam_role.IamRole(
            self,
            "MonitoringRole",
            name_prefix="rds-monitoring-",
            assume_role_policy=assume_role_policy("monitoring.rds.amazonaws.com"),
        )
        iam_role_policy_attachment.IamRolePolicyAttachment(
            self,
            "Monitoring",
            role=role.name,
            policy_arn=f"arn:{partition_of(self)}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole",
        )
        return role

    def grant_read_secret(self, grantee: Grantable) -> None:
        """Let `grantee` read the master credentials' secret (and nothing else in Secrets Manager)."""
        grant(self, "ReadSecret", grantee, actions=SECRET_READ_ACTIONS, resources=[self.secret_arn])
        if self.encryption_key is not None:
            self.encryption_key.grant_decrypt(grantee, label=node_id(self))

    def grant_connect(self, grantee: Grantable, db_user: str) -> None:
        """Let `grantee` connect as `db_user` with IAM authentication (`rds-db:connect`)."""
        partition, region = partition_of(self), region_of(self)
        account = account_of(self)
        resource = f"arn:{partition}:rds-db:{region}:{account}:dbuser:{self.instance.resource_id}/{db_user}"
        grant(self, "Connect", grantee, actions=("rds-db:connect",), resources=[resource])

    @cached_property
    def endpoint(self) -> str:
        return str(self.instance.endpoint)

    @cached_property
    def address(self) -> str:
        return str(self.instance.address)

    @property
    def port(self) -> float:
        return float(self.instance.port)

    @cached_property
    def secret_arn(self) -> str:
        return str(self.instance.master_user_secret.get(0).secret_arn)
