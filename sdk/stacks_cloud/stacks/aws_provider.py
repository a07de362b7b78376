"""The `AwsProvider` block every stack of the app gets: region, default tags, optional custom endpoints."""

from __future__ import annotations

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.aws import provider
from stacks_cloud.config import AwsSettings

ENDPOINT_SERVICES = (
    "acm",
    "apigateway",
    "cloudfront",
    "cloudwatchlogs",
    "dynamodb",
    "ec2",
    "elasticache",
    "events",
    "iam",
    "kms",
    "lambda_",
    "rds",
    "route53",
    "s3",
    "secretsmanager",
    "sqs",
    "sts",
    "wafv2",
)
"""Services the app's stacks call; `AwsSettings.endpoint` redirects all of them."""


def add_aws_provider(
    scope: Construct, *, region: str, settings: AwsSettings, tags: dict[str, str]
) -> provider.AwsProvider:
    """The stack's AWS provider in `region`, tagging every resource with `tags`.

    Credentials are not written here: Terraform's AWS provider reads them from the environment.
    With `settings.endpoint` (an emulator), every service above is sent there.
    """
    endpoint_options: dict[str, object] = {}
    if settings.endpoint:
        endpoint_options["endpoints"] = [
            provider.AwsProviderEndpoints(**dict.fromkeys(ENDPOINT_SERVICES, settings.endpoint))
        ]
    if settings.s3_use_path_style:
        endpoint_options["s3_use_path_style"] = True
    if settings.skip_aws_checks:
        endpoint_options |= {
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": "true",
            "skip_region_validation": True,
        }
    return provider.AwsProvider(
        scope,
        "aws",
        region=region,
        default_tags=[provider.AwsProviderDefaultTags(tags=tags)],
        **endpoint_options,
    )
