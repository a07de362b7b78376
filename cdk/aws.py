"""The typed hashicorp/aws resource modules this project uses, loaded one by one.

Import resource modules from here (`from cdk.aws import s3_bucket`) rather than from
`cdktf_cdktf_provider_aws` directly: going through `cdk` guarantees the lazy loader is installed
first. Any other provider module is available the same way once `cdk` is imported, e.g.
`import cdk; from cdktf_cdktf_provider_aws.wafv2_web_acl import Wafv2WebAcl`.
"""

from cdktf_cdktf_provider_aws import (
    api_gateway_deployment,
    api_gateway_integration,
    api_gateway_method,
    api_gateway_resource,
    api_gateway_rest_api,
    api_gateway_stage,
    cloudwatch_event_rule,
    cloudwatch_event_target,
    data_aws_availability_zones,
    data_aws_partition,
    db_instance,
    db_subnet_group,
    dynamodb_table,
    elasticache_cluster,
    elasticache_subnet_group,
    iam_role,
    iam_role_policy,
    iam_role_policy_attachment,
    lambda_function,
    lambda_permission,
    provider,
    s3_bucket,
    s3_bucket_public_access_block,
    s3_bucket_server_side_encryption_configuration,
    s3_bucket_versioning,
    security_group,
    sqs_queue,
    subnet,
    vpc,
    vpc_security_group_egress_rule,
    vpc_security_group_ingress_rule,
)

import cdk  # noqa: F401  (installs the lazy loader before the provider package is touched)

__all__ = [
    "api_gateway_deployment",
    "api_gateway_integration",
    "api_gateway_method",
    "api_gateway_resource",
    "api_gateway_rest_api",
    "api_gateway_stage",
    "cloudwatch_event_rule",
    "cloudwatch_event_target",
    "data_aws_availability_zones",
    "data_aws_partition",
    "db_instance",
    "db_subnet_group",
    "dynamodb_table",
    "elasticache_cluster",
    "elasticache_subnet_group",
    "iam_role",
    "iam_role_policy",
    "iam_role_policy_attachment",
    "lambda_function",
    "lambda_permission",
    "provider",
    "s3_bucket",
    "s3_bucket_public_access_block",
    "s3_bucket_server_side_encryption_configuration",
    "s3_bucket_versioning",
    "security_group",
    "sqs_queue",
    "subnet",
    "vpc",
    "vpc_security_group_egress_rule",
    "vpc_security_group_ingress_rule",
]
