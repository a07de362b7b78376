"""`LambdaRestApi`: an API Gateway REST API that proxies every request to one Lambda function.

The building block under the guide's `CustomApi` (AWS CDK's `apigateway.LambdaRestApi`): `ANY /`
and `ANY /{proxy+}` integrated with the function (`AWS_PROXY`), a deployment that is replaced when
the routes change, one stage, and the permission for API Gateway to invoke the function.

Secure by default: who may call it is an explicit choice (`authorization`; `NONE`, a public API, is
allowed and flagged by the policy gate until a suppression gives the reason); requests are
validated; the stage writes JSON access logs to its own log group (retention, optional encryption),
traces with X-Ray, logs errors, and throttles (`throttling_rate_limit` requests per second, bursts of
`throttling_burst_limit`); a `WebAcl` can filter it.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Self

from pydantic import Field, model_validator

from stacks_cloud.cdk import Construct, Fn, TerraformResourceLifecycle
from stacks_cloud.cdk.aws import (
    api_gateway_account,
    api_gateway_deployment,
    api_gateway_integration,
    api_gateway_method,
    api_gateway_method_settings,
    api_gateway_request_validator,
    api_gateway_resource,
    api_gateway_rest_api,
    api_gateway_stage,
    iam_role,
    iam_role_policy_attachment,
)
from stacks_cloud.constructs._iam import assume_role_policy
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import node_id, partition_of, remember, stack_of
from stacks_cloud.constructs.function import Function
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.logs import DEFAULT_RETENTION_DAYS, LogGroup, RetentionDays
from stacks_cloud.constructs.waf import WebAcl

DEFAULT_STAGE_NAME = "prod"
"""The guide's `deployOptions.stageName`."""


ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
    }
)


class Authorization(StrEnum):
    """Who may call the API's methods (API Gateway's `authorization`)."""

    NONE = "NONE"
    """Anyone: a public API. The policy gate flags it until a suppression says why that is right."""
    AWS_IAM = "AWS_IAM"
    """Callers that sign with AWS credentials allowed by IAM to `execute-api:Invoke`."""
    CUSTOM = "CUSTOM"
    """A Lambda authorizer (`authorizer_id`)."""
    COGNITO_USER_POOLS = "COGNITO_USER_POOLS"
    """Tokens of a Cognito user pool (`authorizer_id`)."""


class RestApiOptions(Options):
    rest_api_name: Annotated[str, Field(min_length=1, max_length=1024)]
    """The REST API's name. Required."""
    authorization: Authorization
    """Required: an API's exposure is a decision, not a default."""
    authorizer_id: str | None
    """The authorizer of `CUSTOM` and `COGNITO_USER_POOLS`."""
    stage_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,128}$")]
    """Default: prod (the guide's)."""
    throttling_rate_limit: Annotated[float, Field(gt=0)]
    """Steady requests per second the stage accepts. Default: 100."""
    throttling_burst_limit: Annotated[int, Field(gt=0)]
    """Requests in a burst. Default: 200."""
    log_retention_days: RetentionDays
    """Retention of the API's access logs. Default: 365 days."""
    encryption_key: EncryptionKey | None
    """Encrypts the access log group. Default: CloudWatch Logs' own encryption."""
    web_acl: WebAcl | None
    """A WAF web ACL filtering the stage's requests. Default: none."""

    @model_validator(mode="after")
    def _authorizer_when_needed(self) -> Self:
        needs = self.authorization in (Authorization.CUSTOM, Authorization.COGNITO_USER_POOLS)
        if needs and not self.authorizer_id:
            raise ValueError(
                f"authorization {self.authorization.value} needs authorizer_id. Fix: pass the authorizer's id,"
                " or use AWS_IAM."
            )
        if not needs and self.authorizer_id:
            raise ValueError(f"authorizer_id is set, but authorization is {self.authorization.value}. Fix: remove it.")
        return self


@options_signature(
    RestApiOptions, docs={"handler": "The function every route (`/` and `/{proxy+}`) invokes. Required."}
)
class LambdaRestApi(Construct):
    """A regional REST API whose every route (`ANY /`, `ANY /{proxy+}`) goes to `handler`.

    Args:
        handler: the `Function` that answers every request.
        rest_api_name: the API's name.
        stage_name: the stage the API is deployed to. Default: prod.

    Attributes: `api` (the REST API), `stage`, `stage_name`, `url` (the stage's invoke URL),
    `handler`, `grant_role` (grants to the API go to its function's role).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: Function,
        rest_api_name: str,
        authorization: Authorization | str,
        authorizer_id: str | None = None,
        stage_name: str = DEFAULT_STAGE_NAME,
        throttling_rate_limit: float = 100.0,
        throttling_burst_limit: int = 200,
        log_retention_days: int = DEFAULT_RETENTION_DAYS,
        encryption_key: EncryptionKey | None = None,
        web_acl: WebAcl | None = None,
    ) -> None:
        props = validate_options(
            RestApiOptions,
            scope,
            construct_id,
            {
                "rest_api_name": rest_api_name,
                "authorization": authorization,
                "authorizer_id": authorizer_id,
                "stage_name": stage_name,
                "throttling_rate_limit": throttling_rate_limit,
                "throttling_burst_limit": throttling_burst_limit,
                "log_retention_days": log_retention_days,
                "encryption_key": encryption_key,
                "web_acl": web_acl,
            },
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.handler = handler
        self.props = props
        self.stage_name = props.stage_name
        self.api = api_gateway_rest_api.ApiGatewayRestApi(
            self,
            "Api",
            name=props.rest_api_name,
            endpoint_configuration=api_gateway_rest_api.ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        self.api_id = self.api.id  # references read once: each read is a round trip to the Node side
        root_resource_id = self.api.root_resource_id
        self.validator = api_gateway_request_validator.ApiGatewayRequestValidator(
            self, "Validator", rest_api_id=self.api_id, name="parameters", validate_request_parameters=True
        )
        self.validator_id = self.validator.id
        root_method, root_integration = self._proxy_method("Root", root_resource_id)
        proxy = api_gateway_resource.ApiGatewayResource(
            self, "Proxy", rest_api_id=self.api_id, parent_id=root_resource_id, path_part="{proxy+}"
        )
        proxy_method, proxy_integration = self._proxy_method("Proxy", proxy.id)
        parts = [root_method, root_integration, proxy, proxy_method, proxy_integration]
        deployment = api_gateway_deployment.ApiGatewayDeployment(
            self,
            "Deployment",
            rest_api_id=self.api_id,
            # A new deployment whenever the routes change; the old one goes after the new is live.
            triggers={"redeployment": Fn.sha1(Fn.jsonencode([part.id for part in parts]))},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=parts,
        )
        self.access_logs = LogGroup(
            self,
            "AccessLogs",
            name=f"/aws/apigateway/{props.rest_api_name}/{props.stage_name}",
            retention_days=props.log_retention_days,
            key_arn=encryption_key.arn if encryption_key else None,
        )
        self.stage = api_gateway_stage.ApiGatewayStage(
            self,
            "Stage",
            rest_api_id=self.api_id,
            deployment_id=deployment.id,
            stage_name=props.stage_name,
            xray_tracing_enabled=True,
            access_log_settings=api_gateway_stage.ApiGatewayStageAccessLogSettings(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            depends_on=[cloudwatch_logging_role(self)],
        )
        api_gateway_method_settings.ApiGatewayMethodSettings(
            self,
            "MethodSettings",
            rest_api_id=self.api_id,
            stage_name=self.stage.stage_name,
            method_path="*/*",
            settings=api_gateway_method_settings.ApiGatewayMethodSettingsSettings(
                metrics_enabled=True,
                logging_level="ERROR",
                data_trace_enabled=False,  # request and response bodies never reach the logs
                throttling_rate_limit=props.throttling_rate_limit,
                throttling_burst_limit=props.throttling_burst_limit,
            ),
        )
        if props.web_acl is not None:
            props.web_acl.protect(self, "WebAclAssociation", self.stage.arn)
        handler.allow_invoke(
            self,
            "InvokePermission",
            statement_id="AllowApiGatewayInvoke",
            principal="apigateway.amazonaws.com",
            source_arn=f"{self.api.execution_arn}/*/*",
        )

    def _proxy_method(
        self, prefix: str, resource_id: str
    ) -> tuple[api_gateway_method.ApiGatewayMethod, api_gateway_integration.ApiGatewayIntegration]:
        method = api_gateway_method.ApiGatewayMethod(
            self,
            f"{prefix}Method",
            rest_api_id=self.api_id,
            resource_id=resource_id,
            http_method="ANY",
            authorization=self.props.authorization.value,
            authorizer_id=self.props.authorizer_id,
            request_validator_id=self.validator_id,
        )
        integration = api_gateway_integration.ApiGatewayIntegration(
            self,
            f"{prefix}Integration",
            rest_api_id=self.api_id,
            resource_id=resource_id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=self.handler.invoke_uri,  # not invoke_arn: see Function.invoke_uri
        )
        return method, integration

    @cached_property
    def url(self) -> str:
        """The invoke URL of the stage (known after deploy)."""
        return str(self.stage.invoke_url)

    @property
    def grant_role(self) -> iam_role.IamRole:
        """Grants to the API go to its function's role."""
        return self.handler.role


def cloudwatch_logging_role(scope: Construct) -> api_gateway_account.ApiGatewayAccount:
    """The region's API Gateway setting that lets stages write logs: one per stack, created on first use.

    It is an account-wide, per-region setting; several stacks setting it is harmless (each sets a role
    with the same managed policy), and destroying it leaves the setting in place (AWS has no reset).
    The role is named after the stack (`shop-production-us-east-1-apigw`), so that an account holding
    several apps shows whose it is.
    """
    stack = stack_of(scope)
    existing = stack.node.try_find_child("ApiGatewayCloudWatch")
    if existing is not None:
        account = existing.node.find_child("Account")
        assert isinstance(account, api_gateway_account.ApiGatewayAccount)
        return account
    holder = Construct(stack, "ApiGatewayCloudWatch")
    role = iam_role.IamRole(
        holder,
        "Role",
        # A fixed name, not a prefix: a role created by an interrupted apply is then found by the next
        # one ("already exists", with the import command) instead of left behind as an orphan.
        name=f"{node_id(stack)[:57]}-apigw",  # IAM role names: 64 characters at most
        assume_role_policy=assume_role_policy("apigateway.amazonaws.com"),
    )
    iam_role_policy_attachment.IamRolePolicyAttachment(
        holder,
        "Policy",
        role=role.name,
        policy_arn=f"arn:{partition_of(holder)}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
    )
    return api_gateway_account.ApiGatewayAccount(holder, "Account", cloudwatch_role_arn=role.arn)
