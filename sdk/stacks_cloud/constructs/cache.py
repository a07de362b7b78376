"""`RedisCluster`: Redis on ElastiCache in the VPC's private subnets (the guide's `CfnCacheCluster`, secured).

A replication group (a cache cluster cannot require AUTH): TLS in transit, encryption at rest (with the
given KMS key), an AUTH token that Terraform generates (Secrets Manager's random password) and keeps
in a Secrets Manager secret the app reads (`grant_read_auth_token`), daily snapshots, and with two
nodes or more, automatic failover across availability zones. Reachable only from the app's security
group.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Required, TypedDict, Unpack

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct, TerraformResourceLifecycle
from stacks_cloud.cdk.aws import (
    data_aws_secretsmanager_random_password,
    elasticache_replication_group,
    elasticache_subnet_group,
    secretsmanager_secret,
    secretsmanager_secret_version,
)
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import node_id, remember
from stacks_cloud.constructs.database import SECRET_READ_ACTIONS
from stacks_cloud.constructs.grants import Grantable, grant
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.network import Vpc
from stacks_cloud.core import naming

REDIS_PORT = 6379


def _replication_group_id_problems(name: str) -> list[str]:
    return naming.elasticache_cluster_id_problems(name) if len(name) <= 40 else ["must be at most 40 characters"]


class CacheOptions(Options):
    cluster_id: Annotated[
        str, AfterValidator(naming.name_validator(_replication_group_id_problems, "ElastiCache replication group id"))
    ]
    """The replication group's id (at most 40 characters, unique per region). Required."""
    node_type: Annotated[str, Field(pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")] = "cache.t3.micro"
    """Default: cache.t3.micro (the guide's)."""
    num_cache_nodes: Annotated[int, Field(ge=1, le=6)] = 1
    """A primary and up to five replicas; two or more fail over automatically across zones. Default: 1."""
    engine_version: Annotated[str, Field(pattern=r"^\d+\.\d+$")] = "7.1"
    """Pinned so plans are stable (and required by some API emulators). Default: 7.1."""
    snapshot_retention_days: Annotated[int, Field(ge=1, le=35)] = 7
    """Daily snapshots kept. Default: 7."""
    encryption_key: EncryptionKey | None = None
    """Encrypts the data at rest and the AUTH token's secret. Default: AWS-managed keys."""


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
    """Attributes: `group`, `address` (primary endpoint), `port`, `security_group_id`, `auth_token_secret_arn`."""

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
        self.secret = secretsmanager_secret.SecretsmanagerSecret(
            self,
            "AuthToken",
            name_prefix=f"{props.cluster_id}-auth-token-",
            description=f"AUTH token of the Redis replication group {props.cluster_id}",
            kms_key_id=key.arn if key else None,
        )
        token = data_aws_secretsmanager_random_password.DataAwsSecretsmanagerRandomPassword(
            self, "RandomToken", password_length=64, exclude_punctuation=True
        )
        version = secretsmanager_secret_version.SecretsmanagerSecretVersion(
            self,
            "AuthTokenValue",
            secret_id=self.secret.id,
            secret_string=token.random_password,
            # A new random value is read on every plan: the first one is kept.
            lifecycle=TerraformResourceLifecycle(ignore_changes=["secret_string"]),
        )
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
            auth_token=version.secret_string,
            # A new token (the secret version replaced) is added next to the old one, so clients that
            # still hold the old token keep working until they read the new one.
            auth_token_update_strategy="ROTATE",
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

    @cached_property
    def auth_token_secret_arn(self) -> str:
        return str(self.secret.arn)

    def grant_read_auth_token(self, grantee: Grantable) -> None:
        """Let `grantee` read the AUTH token's secret (and nothing else in Secrets Manager)."""
        grant(self, "ReadAuthToken", grantee, actions=SECRET_READ_ACTIONS, resources=[self.auth_token_secret_arn])
        if self.encryption_key is not None:
            self.encryption_key.grant_decrypt(grantee, label=node_id(self))
