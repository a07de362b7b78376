"""The guide's `addScheduledFunction` (`cloud/functions/custom-function.ts`)."""

from __future__ import annotations

from stacks_cloud.cdk import Construct
from stacks_cloud.constructs import Code, Function, Rule, Runtime, Schedule


def add_scheduled_function(
    scope: Construct,
    construct_id: str,
    *,
    schedule: str,
    handler: str,
    memory_size: int | None = None,
    function_name: str | None = None,
    code: Code | None = None,
    role_name: str | None = None,
) -> Function:
    """A function run on `schedule` (a `cron(...)` or `rate(...)` expression); returns the function.

    `function_name` defaults to the construct id, `code` to `./dist/functions` (the guide's),
    `memory_size` to 128 MB (the guide's), `role_name` to `<function_name>-role`. The rule is named
    `<function_name>-schedule`.
    """
    name = function_name or construct_id
    fn = Function(
        scope,
        construct_id,
        function_name=name,
        runtime=Runtime.PROVIDED_AL2,
        handler=handler,
        code=code if code is not None else Code.from_asset("./dist/functions"),
        memory_size=128 if memory_size is None else memory_size,
        role_name=role_name,
    )

    # Create scheduled rule
    rule = Rule(scope, f"{construct_id}Rule", schedule=Schedule.expression(schedule), rule_name=f"{name}-schedule")
    rule.add_target(fn)

    return fn
