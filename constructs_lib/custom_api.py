"""The guide's `CustomApi` (`cloud/constructs/custom-api.ts`): a Lambda function behind a REST API."""

from __future__ import annotations

from datetime import timedelta

from stacks_cloud.cdk import Construct
from stacks_cloud.constructs import (
    Authorization,
    Code,
    EncryptionKey,
    Function,
    LambdaRestApi,
    Runtime,
    VpcPlacement,
    WebAcl,
)


class CustomApi(Construct):
    """A `provided.al2` function answering every route of a REST API (stage `prod`).

    Args:
        function_name: the function's name; the API is `<function_name>-api`.
        handler: the function's handler, e.g. "index.handler".
        memory_size: MB. Default: 256 (the guide's `props.memorySize || 256`).
        timeout: seconds or a timedelta. Default: 30 s (the guide's).
        code: the function's code. Default: `./dist`, as in the guide.
        authorization: who may call the API (required: `Authorization.NONE` makes it public).
        environment, vpc, role_name: passed to the `Function` (not in the guide: the app's VPC and
            a region-specific role name when the API runs in several regions).
        encryption_key: encrypts the function's and the API's logs and the function's environment.
        web_acl: a WAF web ACL in front of the API. Default: none.

    Attributes: `function` (a `Function`) and `api` (a `LambdaRestApi`), as in the guide; `url`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        handler: str,
        authorization: Authorization | str,
        memory_size: int | None = None,
        timeout: int | timedelta | None = None,
        code: Code | None = None,
        environment: dict[str, str] | None = None,
        vpc: VpcPlacement | None = None,
        role_name: str | None = None,
        encryption_key: EncryptionKey | None = None,
        web_acl: WebAcl | None = None,
        reserved_concurrency: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)

        # Create Lambda function
        self.function = Function(
            self,
            "Function",
            function_name=function_name,
            runtime=Runtime.PROVIDED_AL2,
            handler=handler,
            code=code if code is not None else Code.from_asset("./dist"),
            memory_size=256 if memory_size is None else memory_size,
            timeout=30 if timeout is None else timeout,
            environment=environment or {},
            vpc=vpc,
            role_name=role_name,
            encryption_key=encryption_key,
            reserved_concurrency=reserved_concurrency,
        )

        # Create API Gateway, every route integrated with the function
        self.api = LambdaRestApi(
            self,
            "Api",
            handler=self.function,
            rest_api_name=f"{function_name}-api",
            stage_name="prod",
            authorization=authorization,
            encryption_key=encryption_key,
            web_acl=web_acl,
        )

    @property
    def url(self) -> str:
        """The invoke URL of the `prod` stage (known after deploy)."""
        return self.api.url
