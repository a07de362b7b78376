"""The guide's `addScheduledFunction` (`cloud/functions/custom-function.ts`)."""

from __future__ import annotations

from stacks_cloud.cdk import Construct
from stacks_cloud.constructs import Code, EncryptionKey, Function, Queue, Rule, Runtime, Schedule, VpcPlacement


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
    dead_letter_queue: Queue | None = None,
    encryption_key: EncryptionKey | None = None,
    vpc: VpcPlacement | None = None,
    reserved_concurrency: int | None = None,
) -> Function:
    """A function run on `schedule` (a `cron(...)` or `rate(...)` expression); returns the function.

    `function_name` defaults to the construct id, `code` to `./dist/functions` (the guide's),
    `memory_size` to 128 MB (the guide's), `role_name` to `<function_name>-role`. The rule is named
    `<function_name>-schedule`. EventBridge invokes the function asynchronously: failed runs go to
    `dead_letter_queue` when one is given.
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
        dead_letter_queue=dead_letter_queue,
        encryption_key=encryption_key,
        vpc=vpc,
        reserved_concurrency=reserved_concurrency,
    )

    # Create scheduled rule
    rule = Rule(scope, f"{construct_id}Rule", schedule=Schedule.expression(schedule), rule_name=f"{name}-schedule")
    rule.add_target(fn)

    return fn
