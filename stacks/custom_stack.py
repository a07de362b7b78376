"""The guide's `CustomStack` (`cloud/stacks/custom-stack.ts`), one per region.

An assets bucket, a DynamoDB table, a jobs queue and the `CustomApi`, with the guide's grants and
outputs; production keeps its data on destroy and gets point-in-time recovery. Then what the guide
adds elsewhere, from the config: the API served for multi-region routing, scheduled functions, and a
database and cache in a VPC.
"""

from __future__ import annotations

from config.cloud import AppConfig
from constructs_lib import CustomApi, add_rds_database, add_redis_cluster, add_scheduled_function
from stacks_cloud import RegionalStack, RegionalStackProps
from stacks_cloud.cdk import Construct, TerraformOutput
from stacks_cloud.constructs import Bucket, Queue, RemovalPolicy, Table, Vpc


class CustomStack(RegionalStack[AppConfig]):
    """Attributes: `bucket`, `table`, `queue`, `api` (the `CustomApi`), and the SDK's `endpoint`."""

    def __init__(self, scope: Construct, stack_id: str, props: RegionalStackProps[AppConfig]) -> None:
        super().__init__(scope, stack_id, props)
        config, names = self.config, self.names
        production = props.is_production

        # S3 Bucket for assets (bucket names are global: they carry the region)
        self.bucket = Bucket(
            self,
            "AssetsBucket",
            bucket_name=names.bucket("assets"),
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY,
        )

        # DynamoDB Table
        self.table = Table(
            self,
            "MainTable",
            table_name=names.name(),
            partition_key="pk",
            sort_key="sk",
            point_in_time_recovery=production,
        )

        # SQS Queue for background jobs
        self.queue = Queue(
            self,
            "JobsQueue",
            queue_name=names.name("jobs"),
            visibility_timeout=config.jobs.visibility_timeout,  # the guide's 300 s by default
            retention_period=config.jobs.retention_period,  # and 14 days
        )

        network = Vpc(self, "Network", name=names.prefix) if (config.database or config.cache) else None

        # Custom API
        api_function = names.function("api")
        self.api = CustomApi(
            self,
            "Api",
            function_name=api_function,
            handler=config.api.handler,
            memory_size=config.api.memory_size,
            timeout=config.api.timeout,
            code=self.code(config.api.code_path),
            vpc=network.app_placement if network else None,
            role_name=names.role(api_function),  # IAM names are global: one role per region
        )

        # Grant permissions
        self.bucket.grant_read_write(self.api.function)
        self.table.grant_read_write_data(self.api.function)
        self.queue.grant_send_messages(self.api.function)

        # Outputs
        TerraformOutput(self, "ApiUrl", value=self.api.url, description="Invoke URL of the API's prod stage")
        TerraformOutput(self, "BucketName", value=self.bucket.name, description="Name of the assets bucket")

        # Multi-region: serve the API at the routed domain (nothing without routing)
        self.serve_api(self.api.api)

        for function in config.scheduled_functions:
            function_name = names.function(function.name)
            add_scheduled_function(
                self,
                function.name,
                function_name=function_name,
                role_name=names.role(function_name),
                schedule=function.schedule,
                handler=function.handler,
                memory_size=function.memory_size,
                code=self.code(function.code_path),
            )
        if network and config.database:
            database = add_rds_database(
                self,
                "Database",
                network,
                identifier=names.name("db"),
                instance_type=config.database.instance_type,
                engine=config.database.engine.value,
                multi_az=config.database.multi_az,
            )
            TerraformOutput(self, "DatabaseEndpoint", value=database.endpoint, description="host:port of the database")
            TerraformOutput(
                self,
                "DatabaseSecretArn",
                value=database.secret_arn,
                description="Secrets Manager ARN of the master credentials (not the password)",
            )
        if network and config.cache:
            cache = add_redis_cluster(
                self,
                "Cache",
                network,
                cluster_id=names.name("cache"),
                node_type=config.cache.node_type,
                num_cache_nodes=config.cache.num_cache_nodes,
            )
            TerraformOutput(self, "CacheAddress", value=cache.address, description="Host name of the Redis node")
