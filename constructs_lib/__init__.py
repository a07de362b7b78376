"""Reusable constructs mirroring the guide, one per module. They know cdktf and the AWS bindings only.

- `CustomApi`: Lambda + REST API (the guide's `CustomApi`).
- `add_scheduled_function` / `ScheduledFunction`: Lambda on an EventBridge schedule.
- `add_rds_database` / `RdsDatabase`, `add_redis_cluster` / `RedisCluster`, `Vpc`: the data tier.
- `Bucket`, `Table`, `Queue`: the guide's S3 / DynamoDB / SQS with `grant_*` methods.
"""

from constructs_lib.bucket import Bucket, RemovalPolicy
from constructs_lib.cache import RedisCluster, add_redis_cluster
from constructs_lib.custom_api import CustomApi
from constructs_lib.database import RdsDatabase, add_rds_database
from constructs_lib.function import Function, LambdaCode
from constructs_lib.grants import Grantable
from constructs_lib.network import Vpc
from constructs_lib.queue import Queue
from constructs_lib.scheduled_function import ScheduledFunction, add_scheduled_function
from constructs_lib.table import Table

__all__ = [
    "Bucket",
    "CustomApi",
    "Function",
    "Grantable",
    "LambdaCode",
    "Queue",
    "RdsDatabase",
    "RedisCluster",
    "RemovalPolicy",
    "ScheduledFunction",
    "Table",
    "Vpc",
    "add_rds_database",
    "add_redis_cluster",
    "add_scheduled_function",
]
