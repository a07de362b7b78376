"""`LambdaRestApi`: an API Gateway REST API that proxies every request to one Lambda function.

The building block under the guide's `CustomApi` (AWS CDK's `apigateway.LambdaRestApi`): `ANY /`
and `ANY /{proxy+}` integrated with the function (`AWS_PROXY`), a deployment that is replaced when
the routes change, one stage, and the permission for API Gateway to invoke the function.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from stacks_cloud.cdk import Construct, Fn, TerraformResourceLifecycle
from stacks_cloud.cdk.aws import (
    api_gateway_deployment,
    api_gateway_integration,
    api_gateway_method,
    api_gateway_resource,
    api_gateway_rest_api,
    api_gateway_stage,
    iam_role,
)
from stacks_cloud.constructs._options import Options, validate_options
from stacks_cloud.constructs.function import Function

DEFAULT_STAGE_NAME = "prod"
"""The guide's `deployOptions.stageName`."""


class RestApiOptions(Options):
    rest_api_name: Annotated[str, Field(min_length=1, max_length=1024)]
    stage_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,128}$")] = DEFAULT_STAGE_NAME
    """Default: prod (the guide's)."""


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
        stage_name: str = DEFAULT_STAGE_NAME,
    ) -> None:
        props = validate_options(
            RestApiOptions, scope, construct_id, {"rest_api_name": rest_api_name, "stage_name": stage_name}
        )
        super().__init__(scope, construct_id)
        self.handler = handler
        self.stage_name = props.stage_name
        self.api = api_gateway_rest_api.ApiGatewayRestApi(
            self,
            "Api",
            name=props.rest_api_name,
            endpoint_configuration=api_gateway_rest_api.ApiGatewayRestApiEndpointConfiguration(types=["REGIONAL"]),
        )
        root_method, root_integration = self._proxy_method("Root", self.api.root_resource_id)
        proxy = api_gateway_resource.ApiGatewayResource(
            self, "Proxy", rest_api_id=self.api.id, parent_id=self.api.root_resource_id, path_part="{proxy+}"
        )
        proxy_method, proxy_integration = self._proxy_method("Proxy", proxy.id)
        parts = [root_method, root_integration, proxy, proxy_method, proxy_integration]
        deployment = api_gateway_deployment.ApiGatewayDeployment(
            self,
            "Deployment",
            rest_api_id=self.api.id,
            # A new deployment whenever the routes change; the old one goes after the new is live.
            triggers={"redeployment": Fn.sha1(Fn.jsonencode([part.id for part in parts]))},
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
            depends_on=parts,
        )
        self.stage = api_gateway_stage.ApiGatewayStage(
            self, "Stage", rest_api_id=self.api.id, deployment_id=deployment.id, stage_name=props.stage_name
        )
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
            rest_api_id=self.api.id,
            resource_id=resource_id,
            http_method="ANY",
            authorization="NONE",
        )
        integration = api_gateway_integration.ApiGatewayIntegration(
            self,
            f"{prefix}Integration",
            rest_api_id=self.api.id,
            resource_id=resource_id,
            http_method=method.http_method,
            type="AWS_PROXY",
            integration_http_method="POST",
            uri=self.handler.invoke_uri,  # not invoke_arn: see Function.invoke_uri
        )
        return method, integration

    @property
    def url(self) -> str:
        """The invoke URL of the stage (known after deploy)."""
        return str(self.stage.invoke_url)

    @property
    def grant_role(self) -> iam_role.IamRole:
        """Grants to the API go to its function's role."""
        return self.handler.role
