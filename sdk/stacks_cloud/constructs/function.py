"""`Function`: a Lambda function with its own execution role (the guide's `lambda.Function`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Required, TypedDict, Unpack

from pydantic import AfterValidator, Field, ValidationInfo, field_validator

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.assets import archive_asset
from stacks_cloud.cdk.aws import (
    iam_role,
    iam_role_policy_attachment,
    lambda_function,
    lambda_permission,
)
from stacks_cloud.constructs._iam import assume_role_policy
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import account_of, partition_of, region_of, remember
from stacks_cloud.constructs.grants import grant
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.logs import DEFAULT_RETENTION_DAYS, LogGroup, RetentionDays
from stacks_cloud.constructs.queue import Queue
from stacks_cloud.core import naming
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.tokens import is_token
from stacks_cloud.core.types import LambdaTimeout, MemorySize, handler_problem


class Runtime(StrEnum):
    """Lambda runtimes (AWS CDK's `lambda.Runtime`)."""

    PROVIDED_AL2 = "provided.al2"
    """The guide's `lambda.Runtime.PROVIDED_AL2`: a custom runtime (a `bootstrap` executable)."""
    PROVIDED_AL2023 = "provided.al2023"
    PYTHON_3_12 = "python3.12"
    PYTHON_3_13 = "python3.13"
    NODEJS_20_X = "nodejs20.x"
    NODEJS_22_X = "nodejs22.x"


_ASSUME_LAMBDA = assume_role_policy("lambda.amazonaws.com", compact=True)


@dataclass(frozen=True)
class Code:
    """Where a function's code comes from (the guide's `lambda.Code.fromAsset('./dist')`)."""

    path: Path

    @classmethod
    def from_asset(cls, path: str | Path) -> Code:
        """A folder zipped at synth time. Relative paths are resolved against the working directory."""
        folder = Path(path).resolve()
        if not folder.is_dir():
            raise ConfigError(
                "function code",
                [
                    Problem(
                        "code",
                        str(path),
                        f"is not a folder (resolved to {folder}).",
                        "build the function into that folder, or point the code path at the folder"
                        " holding its `bootstrap`.",
                    )
                ],
            )
        return cls(folder)


@dataclass(frozen=True)
class VpcPlacement:
    """Subnets and security groups a function runs in (to reach a database or cache)."""

    subnet_ids: list[str]
    security_group_ids: list[str]


IamRoleName = Annotated[
    str,
    AfterValidator(naming.name_validator(naming.iam_role_name_problems, "IAM role name", fix="use a shorter name.")),
]


class FunctionOptions(Options):
    function_name: Annotated[
        str,
        AfterValidator(
            naming.name_validator(
                naming.lambda_function_name_problems, "Lambda function name", fix="use a shorter name."
            )
        ),
    ]
    """Lambda function name (unique per region). Required."""
    role_name: IamRoleName | None = Field(default=None, validate_default=True)
    """Name of the execution role. IAM names are global to the account, so a function deployed to
    several regions needs a region-specific role name. Default: `<function_name>-role`."""
    runtime: Runtime = Runtime.PROVIDED_AL2
    """Default: provided.al2 (the guide's)."""
    handler: str
    """What Lambda calls: `file.function` for Python, Node.js and Ruby ('index.handler'), `Class::method`
    for Java, anything without spaces for custom runtimes (`provided.*`). ASCII, at most 128 characters."""
    code: Code
    """The function's code: `Code.from_asset("dist")`."""
    memory_size: MemorySize = 128
    """MB, 128 to 10240. Default: 128."""
    timeout: LambdaTimeout = timedelta(seconds=3)
    """Seconds or timedelta, up to 15 min. Default: 3 s (Lambda's default)."""
    environment: dict[str, str] = Field(default_factory=dict)
    """Environment variables (not for secrets: grant the function a secret to read instead). Default: none."""
    vpc: VpcPlacement | None = None
    """Run inside these subnets; the role then also gets ENI permissions. Default: no VPC."""
    tracing: bool = True
    """X-Ray tracing (`Active`), with the role's permission to send traces. Default: on."""
    log_retention_days: RetentionDays = DEFAULT_RETENTION_DAYS
    """Retention of the function's log group `/aws/lambda/<name>`. Default: 365 days."""
    encryption_key: EncryptionKey | None = None
    """Encrypts the log group and the environment variables (the role may decrypt them). Default: AWS's keys."""
    reserved_concurrency: Annotated[int, Field(ge=0, le=10_000)] | None = None
    """Concurrent executions reserved for (and limited to) this function. Default: none (the account's pool)."""
    dead_letter_queue: Queue | None = None
    """Where failed asynchronous invocations (schedules, events) go after Lambda's retries. Default: none."""

    @field_validator("role_name", mode="after")
    @classmethod
    def _default_role_name_is_valid(cls, value: str | None, info: ValidationInfo) -> str | None:
        function_name = info.data.get("function_name")
        if value is None and function_name:
            problems = naming.iam_role_name_problems(f"{function_name}-role")
            if problems:
                raise ValueError(
                    f"is not set, and the default role name '{function_name}-role' {'; '.join(problems)}."
                    " Fix: set role_name, or use a shorter function name."
                )
        return value

    @field_validator("handler", mode="after")
    @classmethod
    def _handler_fits_the_runtime(cls, value: str, info: ValidationInfo) -> str:
        runtime = info.data.get("runtime")
        problem = None if is_token(value) else handler_problem(value, runtime.value if runtime else None)
        if problem:
            raise ValueError(problem)
        return value


class FunctionKwargs(TypedDict, total=False):
    """`Function`'s options as keyword arguments, for mypy and IDEs; their docs and defaults are
    `FunctionOptions`' (a test checks that both name the same options)."""

    function_name: Required[str]
    role_name: str | None
    runtime: Runtime | str
    handler: Required[str]
    code: Required[Code]
    memory_size: int | float  # a number token (`Token.as_number`) is a float
    timeout: int | float | timedelta
    environment: Mapping[str, str]
    vpc: VpcPlacement | None
    tracing: bool
    log_retention_days: int
    encryption_key: EncryptionKey | None
    reserved_concurrency: int | None
    dead_letter_queue: Queue | None


@options_signature(FunctionOptions)
class Function(Construct):
    """A Lambda function with its own role, log group (retention, optional encryption) and X-Ray tracing.

    The role may write only to the function's log group, plus ENI management when the function runs
    in a VPC, X-Ray when tracing, its dead-letter queue when it has one, and decrypting its
    environment when encrypted.

    Attributes: `function` (the `aws_lambda_function`), `role`, `log_group`, `arn`, `name`, `invoke_arn`.
    """

    def __init__(self, scope: Construct, construct_id: str, **options: Unpack[FunctionKwargs]) -> None:
        props = validate_options(FunctionOptions, scope, construct_id, dict(options))
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.options = props
        partition = partition_of(self)
        self.role = iam_role.IamRole(
            self, "Role", name=props.role_name or f"{props.function_name}-role", assume_role_policy=_ASSUME_LAMBDA
        )
        key = props.encryption_key
        self.log_group = LogGroup(
            self,
            "Logs",
            name=f"/aws/lambda/{props.function_name}",
            retention_days=props.log_retention_days,
            key_arn=key.arn if key else None,
        )
        grant(
            self.log_group,
            "Write",
            self,
            actions=("logs:CreateLogStream", "logs:PutLogEvents"),
            resources=[f"{self.log_group.arn}:*"],
        )
        managed = ["service-role/AWSLambdaVPCAccessExecutionRole"] if props.vpc else []
        managed += ["AWSXRayDaemonWriteAccess"] if props.tracing else []
        for name in managed:
            iam_role_policy_attachment.IamRolePolicyAttachment(
                self,
                name.rsplit("/", 1)[-1],
                role=self.role.name,
                policy_arn=f"arn:{partition}:iam::aws:policy/{name}",
            )
        if props.dead_letter_queue is not None:
            props.dead_letter_queue.grant_send_messages(self)
        if key is not None and props.environment:
            key.grant_decrypt(self, "Environment")
        asset = archive_asset(self, "Code", props.code.path)
        self.function = lambda_function.LambdaFunction(
            self,
            "Function",
            function_name=props.function_name,
            role=self.role.arn,
            runtime=props.runtime.value,
            handler=props.handler,
            filename=asset.path,
            source_code_hash=asset.asset_hash,
            memory_size=props.memory_size,
            timeout=int(props.timeout.total_seconds()),
            environment=(
                lambda_function.LambdaFunctionEnvironment(variables=props.environment) if props.environment else None
            ),
            kms_key_arn=key.arn if key and props.environment else None,
            vpc_config=(
                lambda_function.LambdaFunctionVpcConfig(
                    subnet_ids=props.vpc.subnet_ids, security_group_ids=props.vpc.security_group_ids
                )
                if props.vpc
                else None
            ),
            tracing_config=lambda_function.LambdaFunctionTracingConfig(mode="Active") if props.tracing else None,
            reserved_concurrent_executions=props.reserved_concurrency,
            dead_letter_config=(
                lambda_function.LambdaFunctionDeadLetterConfig(target_arn=props.dead_letter_queue.arn)
                if props.dead_letter_queue is not None
                else None
            ),
            depends_on=[self.log_group.group],  # before Lambda creates it, without retention, on first run
        )

    @property
    def grant_role(self) -> iam_role.IamRole:
        return self.role

    def allow_invoke(
        self, scope: Construct, construct_id: str, *, principal: str, source_arn: str, statement_id: str
    ) -> lambda_permission.LambdaPermission:
        """Let an AWS service invoke this function, only from `source_arn`."""
        return lambda_permission.LambdaPermission(
            scope,
            construct_id,
            statement_id=statement_id,
            action="lambda:InvokeFunction",
            function_name=self.name,
            principal=principal,
            source_arn=source_arn,
        )

    @cached_property
    def arn(self) -> str:
        return str(self.function.arn)

    @cached_property
    def name(self) -> str:
        return str(self.function.function_name)

    @cached_property
    def invoke_arn(self) -> str:
        return str(self.function.invoke_arn)

    @property
    def invoke_uri(self) -> str:
        """The URI an API Gateway integration invokes this function with, built from its name, not its resource.

        The same value as `invoke_arn`, but without a reference to the function's resource: API
        Gateway's deployment is `create_before_destroy`, which Terraform propagates to everything it
        depends on. Through `invoke_arn`, a tainted function (what an interrupted create leaves) would
        be replaced create-before-destroy and collide with itself on its fixed name.
        """
        partition, region = partition_of(self), region_of(self)
        account = account_of(self)
        function = f"arn:{partition}:lambda:{region}:{account}:function:{self.options.function_name}"
        return f"arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations"
