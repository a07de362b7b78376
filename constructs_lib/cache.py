"""The guide's `addRedisCluster` (`cloud/caching/elasticache.ts`)."""

from __future__ import annotations

from stacks_cloud.cdk import Construct
from stacks_cloud.constructs import EncryptionKey, RedisCluster, Vpc


def add_redis_cluster(
    scope: Construct,
    construct_id: str,
    vpc: Vpc,
    *,
    node_type: str | None = None,
    num_cache_nodes: int | None = None,
    cluster_id: str | None = None,
    encryption_key: EncryptionKey | None = None,
) -> RedisCluster:
    """Redis in `vpc`'s private subnets with its subnet group (the guide's `CfnSubnetGroup` +
    `CfnCacheCluster`), as a replication group with TLS and AUTH. `node_type` defaults to cache.t3.micro,
    `num_cache_nodes` to 1 (2 or more fail over automatically), `cluster_id` to the construct id in lowercase."""
    return RedisCluster(
        scope,
        construct_id,
        vpc,
        cluster_id=cluster_id or construct_id.lower(),
        node_type="cache.t3.micro" if node_type is None else node_type,
        num_cache_nodes=1 if num_cache_nodes is None else num_cache_nodes,
        encryption_key=encryption_key,
    )
