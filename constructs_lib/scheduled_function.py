"""`add_scheduled_function`: a Lambda function run by an EventBridge schedule (the guide's helper)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from cdk import Construct
from cdk.aws import cloudwatch_event_rule, cloudwatch_event_target, iam_role
from constructs_lib._options import Options, validate_options
from constructs_lib.function import Function, LambdaCode
from core import naming
from core.types import MemorySize, ScheduleExpression


def _rule_name_problems(function_name: str) -> list[str]:
    return naming.eventbridge_rule_name_problems(f"{function_name}-schedule")


class ScheduleOptions(Options):
    function_name: Annotated[
        str, AfterValidator(naming.name_validator(_rule_name_problems, "name for '<name>-schedule' (the rule)"))
    ]
    schedule: ScheduleExpression
    """`cron(...)` with six fields or `rate(N unit)`."""
    memory_size: MemorySize = 128
    """MB. Default: 128 (the guide's)."""


class ScheduledFunction(Construct):
    """A `Function`, an EventBridge rule with the schedule, the rule's target and the invoke permission.

    Attributes: `function`, `rule`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        schedule: str,
        handler: str,
        memory_size: int = 128,
        code: LambdaCode | None = None,
        role_name: str | None = None,
    ) -> None:
        props = validate_options(
            ScheduleOptions,
            scope,
            construct_id,
            {"function_name": function_name, "schedule": schedule, "memory_size": memory_size},
        )
        super().__init__(scope, construct_id)
        self.function = Function(
            self,
            "Handler",
            function_name=function_name,
            handler=handler,
            memory_size=props.memory_size,
            code=code if code is not None else LambdaCode.from_asset("./dist/functions"),
            role_name=role_name,
        )
        self.rule = cloudwatch_event_rule.CloudwatchEventRule(
            self, "Rule", name=f"{function_name}-schedule", schedule_expression=props.schedule
        )
        cloudwatch_event_target.CloudwatchEventTarget(
            self, "Target", rule=self.rule.name, arn=self.function.arn, target_id="function"
        )
        self.function.allow_invoke(
            self,
            "InvokePermission",
            statement_id="AllowEventBridgeInvoke",
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
        )

    @property
    def grant_role(self) -> iam_role.IamRole:
        return self.function.role


def add_scheduled_function(
    scope: Construct,
    construct_id: str,
    *,
    schedule: str,
    handler: str,
    memory_size: int = 128,
    function_name: str | None = None,
    code: LambdaCode | None = None,
    role_name: str | None = None,
) -> ScheduledFunction:
    """The guide's `addScheduledFunction(scope, id, {schedule, handler, memorySize})`.

    `function_name` defaults to the construct id; `code` to `./dist/functions` (the guide's);
    `role_name` to `<function_name>-role`.
    """
    return ScheduledFunction(
        scope,
        construct_id,
        function_name=function_name or construct_id,
        schedule=schedule,
        handler=handler,
        memory_size=memory_size,
        code=code,
        role_name=role_name,
    )
