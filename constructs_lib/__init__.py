"""The guide's custom constructs (`cloud/constructs`, `cloud/functions`, `cloud/databases`, `cloud/caching`),
written on the SDK's building blocks (`stacks_cloud.constructs`) as the guide writes them on AWS CDK's."""

from constructs_lib.cache import add_redis_cluster
from constructs_lib.custom_api import CustomApi
from constructs_lib.database import add_rds_database
from constructs_lib.scheduled_function import add_scheduled_function

__all__ = ["CustomApi", "add_rds_database", "add_redis_cluster", "add_scheduled_function"]
