"""EventBridge schedules: `Schedule`, a `Rule` that targets Lambda functions, and `ScheduledFunction`.

The guide's `addScheduledFunction` is written on these as it is on AWS CDK's `events.Rule`:

    fn = Function(scope, "DailyCleanup", ...)
    rule = Rule(scope, "DailyCleanupRule", schedule=Schedule.expression("cron(0 0 * * ? *)"))
    rule.add_target(fn)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.aws import cloudwatch_event_rule, cloudwatch_event_target, iam_role
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import remember
from stacks_cloud.constructs.function import Code, Function, Runtime, VpcPlacement
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.constructs.queue import Queue
from stacks_cloud.core import naming
from stacks_cloud.core.types import MemorySize, ScheduleExpression


@dataclass(frozen=True)
class Schedule:
    """When a rule fires: an EventBridge `cron(...)` or `rate(...)` expression (checked by the `Rule`)."""

    expression_string: str

    @classmethod
    def expression(cls, expression: str) -> Schedule:
        """The guide's `events.Schedule.expression('cron(0 0 * * ? *)')`."""
        return cls(expression)

    @classmethod
    def cron(cls, *, minute: str = "*", hour: str = "*", day: str = "*", month: str = "*", year: str = "*") -> Schedule:
        """`cron(minute hour day month ? year)`: AWS CDK's `Schedule.cron({...})` for day-of-month schedules."""
        return cls(f"cron({minute} {hour} {day} {month} ? {year})")

    @classmethod
    def rate_minutes(cls, minutes: int) -> Schedule:
        unit = "minute" if minutes == 1 else "minutes"
        return cls(f"rate({minutes} {unit})")


class RuleOptions(Options):
    rule_name: Annotated[
        str, AfterValidator(naming.name_validator(naming.eventbridge_rule_name_problems, "EventBridge rule name"))
    ]
    """The EventBridge rule's name (unique per region and event bus). Required."""
    schedule: ScheduleExpression
    """`cron(...)` with six fields or `rate(N unit)`."""


@options_signature(RuleOptions)
class Rule(Construct):
    """An EventBridge rule firing on a schedule; `add_target(fn)` makes it invoke a `Function`.

    Attributes: `rule`, `name`, `arn`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, schedule: Schedule, rule_name: str) -> None:
        props = validate_options(
            RuleOptions, scope, construct_id, {"rule_name": rule_name, "schedule": schedule.expression_string}
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.rule = cloudwatch_event_rule.CloudwatchEventRule(
            self, "Rule", name=props.rule_name, schedule_expression=props.schedule
        )
        self._targets = 0

    @cached_property
    def name(self) -> str:
        return str(self.rule.name)

    @cached_property
    def arn(self) -> str:
        return str(self.rule.arn)

    def add_target(self, function: Function) -> None:
        """Invoke `function` whenever the rule fires (the guide's `rule.addTarget(new targets.LambdaFunction(fn))`).

        Adds the target and the permission for EventBridge to invoke the function from this rule only.
        """
        suffix = "" if self._targets == 0 else str(self._targets)
        self._targets += 1
        cloudwatch_event_target.CloudwatchEventTarget(
            self, f"Target{suffix}", rule=self.rule.name, arn=function.arn, target_id=f"function{suffix}"
        )
        function.allow_invoke(
            self,
            f"InvokePermission{suffix}",
            statement_id="AllowEventBridgeInvoke",
            principal="events.amazonaws.com",
            source_arn=self.rule.arn,
        )


def _rule_name_problems(function_name: str) -> list[str]:
    return naming.eventbridge_rule_name_problems(f"{function_name}-schedule")


class ScheduleOptions(Options):
    function_name: Annotated[
        str, AfterValidator(naming.name_validator(_rule_name_problems, "name for '<name>-schedule' (the rule)"))
    ]
    """The scheduled function's name (unique per region). Required."""
    memory_size: MemorySize
    """MB. Default: 128 (the guide's)."""


@options_signature(
    ScheduleOptions,
    docs={
        "schedule": "When it runs: `Schedule.expression(...)`, `.cron(...)` or `.rate_minutes(...)`. Required.",
        "handler": "What Lambda calls, as `Function`'s `handler`. Required.",
        "code": "The function's code: `Code.from_asset(...)`. Required.",
        "runtime": "As `Function`'s `runtime`.",
        "role_name": "The execution role's name (IAM names are account-global). Default: `<function_name>-role`.",
        "dead_letter_queue": "Where failed invocations go after Lambda's retries. Default: none.",
        "encryption_key": "Encrypts the function's logs and environment. Default: AWS-managed keys.",
        "vpc": "Run inside these subnets (to reach a database or cache). Default: no VPC.",
    },
)
class ScheduledFunction(Construct):
    """A `Function` run by a `Rule` named `<function_name>-schedule`. EventBridge invokes it asynchronously:
    give it a `dead_letter_queue` so that failed runs are kept.

    Attributes: `function`, `rule`, `grant_role`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        schedule: Schedule,
        handler: str,
        code: Code,
        memory_size: int = 128,
        runtime: Runtime = Runtime.PROVIDED_AL2,
        role_name: str | None = None,
        dead_letter_queue: Queue | None = None,
        encryption_key: EncryptionKey | None = None,
        vpc: VpcPlacement | None = None,
    ) -> None:
        props = validate_options(
            ScheduleOptions, scope, construct_id, {"function_name": function_name, "memory_size": memory_size}
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.function = Function(
            self,
            "Handler",
            function_name=function_name,
            runtime=runtime,
            handler=handler,
            memory_size=props.memory_size,
            code=code,
            role_name=role_name,
            dead_letter_queue=dead_letter_queue,
            encryption_key=encryption_key,
            vpc=vpc,
        )
        self.rule = Rule(self, "Schedule", schedule=schedule, rule_name=f"{function_name}-schedule")
        self.rule.add_target(self.function)

    @property
    def grant_role(self) -> iam_role.IamRole:
        return self.function.role
