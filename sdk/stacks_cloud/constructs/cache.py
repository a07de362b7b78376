"""`RedisCluster`: Redis on ElastiCache in the VPC's private subnets (the guide's `CfnCacheCluster`, secured).

A replication group (a cache cluster cannot require authentication): TLS in transit, encryption at rest
(with the given KMS key), daily snapshots, and with two nodes or more, automatic failover across
availability zones. Reachable only from the app's security group.

Clients authenticate with IAM (ElastiCache's IAM authentication, Redis 7 and later): an ElastiCache user
`<cluster_id>-app` in a user group whose `default` user is switched off; a client signs a short-lived
token with its own AWS credentials (`grant_connect` lets a function's role do so; the `flush_redis` hook
does it with `iam=True`). There is no password or AUTH token anywhere: none in the Terraform files, the
state, the plans, Secrets Manager or the app's configuration.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Required, TypedDict, Unpack

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.aws import (
    elasticache_replication_group,
    elasticache_subnet_group,
    elasticache_user,
    elasticache_user_group,
)
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import account_of, partition_of, region_of, remember
from stacks_cloud.constructs.grants import Grantable, grant
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.network import Vpc
from stacks_cloud.core import naming

REDIS_PORT = 6379


def _replication_group_id_problems(name: str) -> list[str]:
    return naming.elasticache_cluster_id_problems(name) if len(name) <= 40 else ["must be at most 40 characters"]


def _iam_capable(version: str) -> str:
    if int(version.split(".")[0]) < 7:
        raise ValueError(
            "is older than Redis 7, which IAM authentication needs (the cache has no password)."
            " Fix: use 7.0 or later, e.g. '7.1'."
        )
    return version


class CacheOptions(Options):
    cluster_id: Annotated[
        str, AfterValidator(naming.name_validator(_replication_group_id_problems, "ElastiCache replication group id"))
    ]
    """The replication group's id (at most 40 characters, unique per region). Required."""
    node_type: Annotated[str, Field(pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")] = "cache.t3.micro"
    """Default: cache.t3.micro (the guide's)."""
    num_cache_nodes: Annotated[int, Field(ge=1, le=6)] = 1
    """A primary and up to five replicas; two or more fail over automatically across zones. Default: 1."""
    engine_version: Annotated[str, Field(pattern=r"^\d+\.\d+$"), AfterValidator(_iam_capable)] = "7.1"
    """Pinned so plans are stable (and required by some API emulators); 7.0 or later (IAM authentication).
    Default: 7.1."""
    snapshot_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    """Daily snapshots kept. Default: 7."""
    encryption_key: EncryptionKey | None = None
    """Encrypts the data at rest. Default: AWS-managed keys."""


class CacheKwargs(TypedDict, total=False):
    """`RedisCluster`'s options as keyword arguments, for mypy and IDEs; their docs and defaults are
    `CacheOptions`' (a test checks that both name the same options)."""

    cluster_id: Required[str]
    node_type: str
    num_cache_nodes: int
    engine_version: str
    snapshot_retention_days: int
    encryption_key: EncryptionKey | None


@options_signature(CacheOptions, "vpc")
class RedisCluster(Construct):
    """Attributes: `group`, `address` (primary endpoint), `port`, `security_group_id`, `user_id` (the user
    clients authenticate as with IAM)."""

    def __init__(self, scope: Construct, construct_id: str, vpc: Vpc, **options: Unpack[CacheKwargs]) -> None:
        props = validate_options(CacheOptions, scope, construct_id, dict(options))
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        key = props.encryption_key
        self.encryption_key = key
        self.security_group_id = vpc.admit_app(
            self, "SecurityGroup", port=REDIS_PORT, name=f"{props.cluster_id}-cache", description="Redis"
        )
        subnets = elasticache_subnet_group.ElasticacheSubnetGroup(
            self,
            "SubnetGroup",
            name=f"{props.cluster_id}-subnets",
            description="Subnet group for Redis cluster",
            subnet_ids=vpc.private_subnet_ids,
        )
        # IAM authentication: the app's user, and the group's required `default` user switched off.
        self.cluster_id = props.cluster_id
        self.user_id = f"{props.cluster_id}-app"
        app_user = elasticache_user.ElasticacheUser(
            self,
            "AppUser",
            user_id=self.user_id,
            user_name=self.user_id,  # IAM authentication: the name is the id
            engine="redis",
            access_string="on ~* +@all",
            authentication_mode=elasticache_user.ElasticacheUserAuthenticationMode(type="iam"),
        )
        default_user = elasticache_user.ElasticacheUser(
            self,
            "DefaultUser",
            user_id=f"{props.cluster_id}-default",
            user_name="default",
            engine="redis",
            access_string="off -@all",  # no command, no key: unauthenticated connections can do nothing
            authentication_mode=elasticache_user.ElasticacheUserAuthenticationMode(type="no-password-required"),
        )
        users = elasticache_user_group.ElasticacheUserGroup(
            self,
            "Users",
            user_group_id=f"{props.cluster_id}-users",
            engine="redis",
            user_ids=[default_user.user_id, app_user.user_id],
        )
        self._app_user_arn = app_user.arn
        failover = props.num_cache_nodes >= 2
        major = props.engine_version.split(".")[0]
        self.group = elasticache_replication_group.ElasticacheReplicationGroup(
            self,
            "Group",
            replication_group_id=props.cluster_id,
            description=f"Redis of {props.cluster_id}",
            engine="redis",
            engine_version=props.engine_version,
            node_type=props.node_type,
            num_cache_clusters=props.num_cache_nodes,
            parameter_group_name=f"default.redis{major}",
            port=REDIS_PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[self.security_group_id],
            at_rest_encryption_enabled="true",
            kms_key_id=key.arn if key else None,
            transit_encryption_enabled=True,
            user_group_ids=[users.user_group_id],
            automatic_failover_enabled=failover,
            multi_az_enabled=failover,
            snapshot_retention_limit=props.snapshot_retention_days,
            auto_minor_version_upgrade="true",
        )

    @cached_property
    def address(self) -> str:
        return str(self.group.primary_endpoint_address)

    @property
    def port(self) -> int:
        return REDIS_PORT

    def grant_connect(self, grantee: Grantable) -> None:
        """Let `grantee` connect as the app's user with IAM authentication (`elasticache:Connect` on this
        replication group and that user, nothing else)."""
        group_arn = (
            f"arn:{partition_of(self)}:elasticache:{region_of(self)}:{account_of(self)}"
            f":replicationgroup:{self.cluster_id}"
        )
        grant(self, "Connect", grantee, actions=("elasticache:Connect",), resources=[group_arn, self._app_user_arn])
