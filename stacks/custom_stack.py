"""`CustomStack`: the guide's application stack, region by region.

An assets bucket, a DynamoDB table, a jobs queue and the `CustomApi`, with the guide's grants and
outputs; production keeps its data on destroy and gets point-in-time recovery. Optional pieces
from the config (scheduled functions, a database and a cache in a VPC) are added after them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cdk import Construct, TerraformOutput, TerraformStack
from cdk.aws import provider
from config.schema import PRODUCTION, ApiSettings, CacheSettings, DatabaseSettings, ScheduledFunctionSettings
from constructs_lib import (
    Bucket,
    CustomApi,
    LambdaCode,
    Queue,
    RemovalPolicy,
    Table,
    Vpc,
    add_rds_database,
    add_redis_cluster,
    add_scheduled_function,
)


@dataclass(frozen=True)
class CustomStackProps:
    """The guide's `CustomStackProps` (`environment`, `appName`) plus where and what to deploy.

    Code paths are resolved against `project_dir`.
    """

    environment: str
    app_name: str
    region: str
    project_dir: Path
    api: ApiSettings = field(default_factory=ApiSettings)
    scheduled_functions: tuple[ScheduledFunctionSettings, ...] = ()
    database: DatabaseSettings | None = None
    cache: CacheSettings | None = None

    @property
    def is_production(self) -> bool:
        return self.environment == PRODUCTION

    @property
    def prefix(self) -> str:
        return f"{self.app_name}-{self.environment}"


class CustomStack(TerraformStack):
    """The guide's `CustomStack` on Terraform. Attributes: `bucket`, `table`, `queue`, `api`."""

    def __init__(self, scope: Construct, stack_id: str, props: CustomStackProps) -> None:
        super().__init__(scope, stack_id)
        self.props = props
        prefix = props.prefix
        provider.AwsProvider(
            self,
            "aws",
            region=props.region,
            default_tags=[
                provider.AwsProviderDefaultTags(
                    tags={"App": props.app_name, "Environment": props.environment, "ManagedBy": "stacks-cloud"}
                )
            ],
        )

        self.bucket = Bucket(
            self,
            "AssetsBucket",
            bucket_name=f"{prefix}-assets",
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN if props.is_production else RemovalPolicy.DESTROY,
        )
        self.table = Table(
            self,
            "MainTable",
            table_name=prefix,
            partition_key="pk",
            sort_key="sk",
            point_in_time_recovery=props.is_production,
        )
        self.queue = Queue(
            self, "JobsQueue", queue_name=f"{prefix}-jobs", visibility_timeout=300, retention_period=14 * 24 * 3600
        )

        network = Vpc(self, "Network", name=prefix) if (props.database or props.cache) else None
        self.api = CustomApi(
            self,
            "Api",
            function_name=f"{prefix}-api",
            handler=props.api.handler,
            memory_size=props.api.memory_size,
            timeout=props.api.timeout,
            code=LambdaCode.from_asset(props.project_dir / props.api.code_path),
            vpc=network.app_placement if network else None,
        )

        self.bucket.grant_read_write(self.api)
        self.table.grant_read_write_data(self.api)
        self.queue.grant_send_messages(self.api)

        TerraformOutput(self, "ApiUrl", value=self.api.url, description="Invoke URL of the API's prod stage")
        TerraformOutput(self, "BucketName", value=self.bucket.name, description="Name of the assets bucket")

        for function in props.scheduled_functions:
            add_scheduled_function(
                self,
                function.name,
                function_name=f"{prefix}-{function.name}",
                schedule=function.schedule,
                handler=function.handler,
                memory_size=function.memory_size,
                code=LambdaCode.from_asset(props.project_dir / function.code_path),
            )
        if network and props.database:
            database = add_rds_database(
                self,
                "Database",
                network,
                identifier=f"{prefix}-db",
                instance_type=props.database.instance_type,
                engine=props.database.engine.value,
                multi_az=props.database.multi_az,
            )
            TerraformOutput(self, "DatabaseEndpoint", value=database.endpoint, description="host:port of the database")
            TerraformOutput(
                self,
                "DatabaseSecretArn",
                value=database.secret_arn,
                description="Secrets Manager ARN of the master credentials (not the password)",
            )
        if network and props.cache:
            cache = add_redis_cluster(
                self,
                "Cache",
                network,
                cluster_id=f"{prefix}-cache",
                node_type=props.cache.node_type,
                num_cache_nodes=props.cache.num_cache_nodes,
            )
            TerraformOutput(self, "CacheAddress", value=cache.address, description="Host name of the Redis node")
