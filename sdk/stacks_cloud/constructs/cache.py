"""`RedisCluster`: an ElastiCache Redis cluster in the VPC's private subnets (the guide's `CfnCacheCluster`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.aws import elasticache_cluster, elasticache_subnet_group
from stacks_cloud.constructs._options import Options, validate_options
from stacks_cloud.constructs.network import Vpc
from stacks_cloud.core import naming

REDIS_PORT = 6379


def _check_single_node(value: int) -> int:
    if value != 1:
        raise ValueError(
            f"a Redis cache cluster has exactly one node, but {value} were requested."
            " Fix: use 1, or a replication group for read replicas."
        )
    return value


class CacheOptions(Options):
    cluster_id: Annotated[
        str, AfterValidator(naming.name_validator(naming.elasticache_cluster_id_problems, "ElastiCache cluster id"))
    ]
    node_type: Annotated[str, Field(pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")] = "cache.t3.micro"
    """Default: cache.t3.micro (the guide's)."""
    num_cache_nodes: Annotated[int, AfterValidator(_check_single_node)] = 1
    engine_version: Annotated[str, Field(pattern=r"^\d+\.\d+$")] = "7.1"
    """Pinned so plans are stable (and required by some API emulators). Default: 7.1."""


class RedisCluster(Construct):
    """A subnet group and a Redis cluster reachable only from the app's security group.

    Attributes: `cluster`, `address`, `port`, `security_group_id`.
    """

    def __init__(self, scope: Construct, construct_id: str, vpc: Vpc, **options: object) -> None:
        props = validate_options(CacheOptions, scope, construct_id, options)
        super().__init__(scope, construct_id)
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
        major = props.engine_version.split(".")[0]
        self.cluster = elasticache_cluster.ElasticacheCluster(
            self,
            "Cluster",
            cluster_id=props.cluster_id,
            engine="redis",
            engine_version=props.engine_version,
            node_type=props.node_type,
            num_cache_nodes=props.num_cache_nodes,
            parameter_group_name=f"default.redis{major}",
            port=REDIS_PORT,
            subnet_group_name=subnets.name,
            security_group_ids=[self.security_group_id],
        )

    @property
    def address(self) -> str:
        return str(self.cluster.cache_nodes.get(0).address)

    @property
    def port(self) -> int:
        return REDIS_PORT
