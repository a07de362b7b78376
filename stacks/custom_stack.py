"""`CustomStack`: the guide's application stack, region by region.

An assets bucket, a DynamoDB table, a jobs queue and the `CustomApi`, with the guide's grants and
outputs; production keeps its data on destroy and gets point-in-time recovery. Optional pieces
from the config (scheduled functions, a database and a cache in a VPC) are added after them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cdk import Construct, TerraformOutput, TerraformStack
from config.names import ResourceNames
from config.schema import (
    PRODUCTION,
    ApiSettings,
    AwsSettings,
    CacheSettings,
    DatabaseSettings,
    ScheduledFunctionSettings,
)
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
from constructs_lib.dns import ApiDomain, api_host, lookup_hosted_zone
from stacks.aws_provider import add_aws_provider


@dataclass(frozen=True)
class RegionalDomain:
    """Serve the region's API at `domain_name`, with its certificate validated in the zone `zone_name`."""

    domain_name: str
    zone_name: str


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
    aws: AwsSettings = field(default_factory=AwsSettings)
    """Endpoints and checks of the AWS provider. Default: real AWS."""
    domain: RegionalDomain | None = None
    """A custom domain for the API (multi-region routing needs one). Default: none."""

    @property
    def is_production(self) -> bool:
        return self.environment == PRODUCTION

    @property
    def prefix(self) -> str:
        return f"{self.app_name}-{self.environment}"

    @property
    def names(self) -> ResourceNames:
        return ResourceNames(self.app_name, self.environment, self.region)


class CustomStack(TerraformStack):
    """The guide's `CustomStack` on Terraform.

    Attributes: `bucket`, `table`, `queue`, `api`, `api_host` (the API's own host name) and, with a
    `domain`, `api_domain` (what the global stack routes to).
    """

    def __init__(self, scope: Construct, stack_id: str, props: CustomStackProps) -> None:
        super().__init__(scope, stack_id)
        self.props = props
        prefix = props.prefix
        names = props.names
        add_aws_provider(
            self,
            region=props.region,
            settings=props.aws,
            tags={"App": props.app_name, "Environment": props.environment, "ManagedBy": "stacks-cloud"},
        )

        self.bucket = Bucket(
            self,
            "AssetsBucket",
            bucket_name=names.assets_bucket,
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN if props.is_production else RemovalPolicy.DESTROY,
        )
        self.table = Table(
            self,
            "MainTable",
            table_name=names.table,
            partition_key="pk",
            sort_key="sk",
            point_in_time_recovery=props.is_production,
        )
        self.queue = Queue(
            self, "JobsQueue", queue_name=names.queue, visibility_timeout=300, retention_period=14 * 24 * 3600
        )

        network = Vpc(self, "Network", name=prefix) if (props.database or props.cache) else None
        self.api = CustomApi(
            self,
            "Api",
            function_name=names.api_function,
            role_name=names.role(names.api_function),
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
        self.api_host = api_host(self.api)
        self.api_domain: ApiDomain | None = None
        if props.domain:
            zone = lookup_hosted_zone(self, "Zone", props.domain.zone_name)
            self.api_domain = ApiDomain(
                self, "ApiDomain", api=self.api, domain_name=props.domain.domain_name, zone_id=zone.zone_id
            )
            TerraformOutput(
                self,
                "RegionalDomainTarget",
                value=self.api_domain.target_domain_name,
                description="Regional API Gateway domain the global records alias",
            )

        for function in props.scheduled_functions:
            add_scheduled_function(
                self,
                function.name,
                function_name=names.function(function.name),
                role_name=names.role(names.function(function.name)),
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
