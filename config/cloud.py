"""The project's cloud configuration: the Python twin of the guide's `config/cloud.ts`.

Edit `CLOUD` the way you would edit `config/cloud.ts`; camelCase keys from a Stacks config are
accepted as they are. `AppConfig` is the SDK's `CloudConfig` plus this app's own sections (its API,
scheduled functions, database and cache); `load_config()` validates `CLOUD` with it (one error
listing every problem) for the environment chosen on the command line.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from config.sections import ApiSettings, CacheSettings, DatabaseSettings, JobsSettings, ScheduledFunctionSettings
from hooks import on_error, post_deploy_hook, pre_deploy_hook
from providers import CustomCloudProvider
from stacks_cloud import CloudConfig, DerivedName, Problem, from_env
from stacks_cloud.core import naming
from stacks_cloud.core.names import ResourceNames


class AppConfig(CloudConfig):
    """`CloudConfig` with the sections the guide's `CustomStack` reads."""

    api: ApiSettings = Field(default_factory=ApiSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    scheduled_functions: list[ScheduledFunctionSettings] = Field(default_factory=list)
    database: DatabaseSettings | None = None
    """Default: no database (and no VPC unless a cache is configured)."""
    cache: CacheSettings | None = None
    """Default: no cache."""

    def semantic_problems(self) -> list[Problem]:
        """The SDK's checks, plus: can every name `CustomStack` derives from this config exist in AWS?"""
        app = ("app_name", self.app_name)
        fix = "use a shorter app_name or environment."
        derived = [
            DerivedName(*app, "S3 bucket", naming.s3_bucket_name_problems, lambda n: n.bucket("assets"), fix),
            DerivedName(*app, "DynamoDB table", naming.dynamodb_table_name_problems, lambda n: n.name(), fix),
            DerivedName(*app, "SQS queue", naming.sqs_queue_name_problems, lambda n: n.name("jobs"), fix),
            DerivedName(
                *app, "Lambda function", naming.lambda_function_name_problems, lambda n: n.function("api"), fix
            ),
            DerivedName(*app, "IAM role", naming.iam_role_name_problems, lambda n: n.role(n.function("api")), fix),
        ]
        seen: dict[str, int] = {}
        duplicates = []
        for index, function in enumerate(self.scheduled_functions):
            derived += _scheduled_function_names(f"scheduled_functions.{index}.name", function.name)
            if function.name in seen:
                duplicates.append(
                    Problem(
                        f"scheduled_functions.{index}.name",
                        function.name,
                        f"is already the name of scheduled_functions.{seen[function.name]}: each scheduled function"
                        " is a construct of its own, named after it.",
                        "give each scheduled function a different name.",
                    )
                )
            seen.setdefault(function.name, index)
        return super().semantic_problems() + duplicates + self.derived_name_problems(derived)


def _scheduled_function_names(path: str, name: str) -> list[DerivedName]:
    """The function, role and rule names `add_scheduled_function` derives from a scheduled function's name."""

    def function_name(names: ResourceNames) -> str:
        return names.function(name)

    return [
        DerivedName(path, name, "function", naming.lambda_function_name_problems, function_name),
        DerivedName(path, name, "IAM role", naming.iam_role_name_problems, lambda n: n.role(function_name(n))),
        DerivedName(
            path,
            name,
            "EventBridge rule",
            naming.eventbridge_rule_name_problems,
            lambda n: f"{function_name(n)}-schedule",
        ),
    ]


CLOUD: dict[str, Any] = {
    "appName": "my-app",
    "driver": "aws",
    "region": "us-east-1",
    # The guide's "Multi-Region Deployment": one stack per region, and a global stack that routes
    # api.myapp.com to the nearest healthy region (latency records + health checks on /api/health).
    "multiRegion": {
        "enabled": True,
        "primaryRegion": "us-east-1",
        "replicaRegions": ["eu-west-1", "ap-southeast-1"],
        "routing": "latency",  # 'latency' | 'geolocation' | 'weighted'
        "domainName": "api.myapp.com",
        "hostedZone": "myapp.com",  # an existing public zone, looked up by name
        # Production is released region by region: us-east-1 alone, watched for 10 minutes (its health
        # check every 30 s; add CloudWatch alarm names under "alarms"), then the other two together, then
        # the global stack. A failed gate halts the release and rolls us-east-1 back to what was live.
        # Development and staging deploy every region at once, without gates.
        "rollout": {
            "waves": [["us-east-1"], ["eu-west-1", "ap-southeast-1"]],
            "bakeTime": 600,
            "checkInterval": 30,
            "onFailure": "rollback",
            "environments": ["production"],
        },
    },
    # Where each stack keeps its state. The default is local files in .state/; for a team use S3:
    #   "state": {"backend": "s3", "s3": {"bucket": "acme-tfstate", "region": "us-east-1"}},
    # The guide's "Registering Custom Providers": `driver: "custom"` deploys through it instead.
    "providers": {"custom": CustomCloudProvider()},
    # Provider-specific configuration, as in the guide's `custom: { apiKey, region }`.
    "custom": {
        "apiKey": from_env("CUSTOM_CLOUD_API_KEY"),
        "region": "us-east-1",
        "endpoint": "https://api.custom-cloud.com",
    },
    "aws": {
        "region": "us-east-1",
    },
    "api": {
        "handler": "index.handler",
        "memorySize": 512,
        "timeout": 30,
        "codePath": "dist",
    },
    # The guide's "Registering Hooks" (hooks/ composes them from the SDK's ready-made hooks).
    "hooks": {
        "preDeploy": pre_deploy_hook,
        "postDeploy": post_deploy_hook,
        "onError": on_error,
    },
    # The guide's "Usage" of addScheduledFunction.
    "scheduledFunctions": [
        {"name": "DailyCleanup", "schedule": "cron(0 0 * * ? *)", "handler": "cleanup.handler"},
    ],
}


def load_config(environment: str | None = None, overrides: dict[str, Any] | None = None) -> AppConfig:
    """Validate `CLOUD` (plus `overrides`) for `environment` (default: the config's, else development)."""
    data: dict[str, Any] = {**CLOUD, **(overrides or {})}
    if environment:
        data["environment"] = environment
    return AppConfig.model_validate(data)
