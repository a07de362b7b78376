"""The L2-like building blocks cdktf lacks, one per module, with secure defaults and `grant_*` methods.

They know cdktf, the AWS bindings and `stacks_cloud.core` only (never the config, the stacks or the
deploy engine), so a project composes them into its own constructs as the guide composes AWS CDK's:

- `Function` (+ `Code`, `Runtime`): a Lambda function with its own execution role.
- `LambdaRestApi`: a REST API proxying every route to a function.
- `Rule` (+ `Schedule`), `ScheduledFunction`: EventBridge schedules that invoke functions.
- `Bucket`, `Table`, `Queue`: S3, DynamoDB and SQS with least-privilege grants.
- `Vpc`, `DatabaseInstance`, `RedisCluster`: the data tier (endpoints, TLS, AUTH, IAM authentication).
- `EncryptionKey`, `LogGroup`, `WebAcl`: a customer-managed key, log groups with retention, AWS WAF.
- `ApiDomain`, `HttpsHealthCheck`, `lookup_hosted_zone`, `routed_alias_record`: DNS for a regional API.
"""

from stacks_cloud.constructs._removal import RemovalPolicy
from stacks_cloud.constructs.bucket import Bucket
from stacks_cloud.constructs.cache import RedisCluster
from stacks_cloud.constructs.database import DatabaseInstance, Engine
from stacks_cloud.constructs.dns import ApiDomain, HttpsHealthCheck, lookup_hosted_zone, routed_alias_record
from stacks_cloud.constructs.events import Rule, Schedule, ScheduledFunction
from stacks_cloud.constructs.function import Code, Function, Runtime, VpcPlacement
from stacks_cloud.constructs.grants import Grantable, grant
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.logs import LogGroup
from stacks_cloud.constructs.network import Vpc
from stacks_cloud.constructs.queue import Queue
from stacks_cloud.constructs.rest_api import Authorization, LambdaRestApi
from stacks_cloud.constructs.table import Table
from stacks_cloud.constructs.waf import WebAcl

__all__ = [
    "ApiDomain",
    "Authorization",
    "Bucket",
    "Code",
    "DatabaseInstance",
    "EncryptionKey",
    "Engine",
    "Function",
    "Grantable",
    "HttpsHealthCheck",
    "LambdaRestApi",
    "LogGroup",
    "Queue",
    "RedisCluster",
    "RemovalPolicy",
    "Rule",
    "Runtime",
    "Schedule",
    "ScheduledFunction",
    "Table",
    "Vpc",
    "VpcPlacement",
    "WebAcl",
    "grant",
    "lookup_hosted_zone",
    "routed_alias_record",
]
