"""`CustomApi`: the guide's Lambda function behind an API Gateway REST API."""

from __future__ import annotations

from datetime import timedelta

from cdk import Construct, Fn, TerraformResourceLifecycle
from cdk.aws import (
    api_gateway_deployment,
    api_gateway_integration,
    api_gateway_method,
    api_gateway_resource,
    api_gateway_rest_api,
    api_gateway_stage,
    iam_role,
)
from constructs_lib.function import Function, LambdaCode, VpcPlacement

STAGE_NAME = "prod"
"""The guide's `deployOptions.stageName`."""


class CustomApi(Construct):
    """Lambda (`provided.al2`) + REST API: `ANY /` and `ANY /{proxy+}` proxied to the function, stage `prod`.

    Args:
        function_name: Lambda name; the API is `<function_name>-api`.
        handler: the function's handler, e.g. "index.handler".
        code: the function's code. Default: the `./dist` folder, as in the guide.
        memory_size: MB, 128 to 10240. Default: 256.
        timeout: seconds or timedelta, 1 s to 15 min. Default: 30 s.
        environment: environment variables of the function. Default: none.
        vpc: subnets and security groups to run in. Default: none.
        role_name: the function's IAM role (account-global: make it region-specific when the API runs
            in several regions). Default: `<function_name>-role`.

    Attributes: `function` (a `Function`), `api` (the REST API), `stage`, `url` (the stage's invoke URL).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        handler: str,
        memory_size: int = 256,
        timeout: int | timedelta = 30,
        code: LambdaCode | None = None,
        environment: dict[str, str] | None = None,
        vpc: VpcPlacement | None = None,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.function = Function(
            self,
            "Handler",
            function_name=function_name,
            handler=handler,
            memory_size=memory_size,
            timeout=timeout,
            code=code if code is not None else LambdaCode.from_asset("./dist"),
            environment=environment or {},
            vpc=vpc,
            role_name=role_name,
        )
        self.api = api_gateway_rest_api.ApiGatewayRestApi(
            self,
            "Api",
            name=f"{function_name}-api",
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
            self, "Stage", rest_api_id=self.api.id, deployment_id=deployment.id, stage_name=STAGE_NAME
        )
        self.function.allow_invoke(
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
            uri=self.function.invoke_arn,
        )
        return method, integration

    @property
    def url(self) -> str:
        """The invoke URL of the `prod` stage (known after deploy)."""
        return str(self.stage.invoke_url)

    @property
    def grant_role(self) -> iam_role.IamRole:
        """Grants to the API go to its function's role."""
        return self.function.role
