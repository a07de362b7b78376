"""Typed units shared by the config models and the constructs.

Each is an `Annotated` type whose validator raises `ValueError("what is wrong. Fix: how")`, which
`core.validation` turns into a `Problem` with the field path and the value given.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator

from stacks_cloud.core.regions import region_problem
from stacks_cloud.core.tokens import DeployTime


def _check_region(value: str) -> str:
    problem = region_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Region = Annotated[str, AfterValidator(_check_region)]
"""An AWS region name that botocore knows."""

MEMORY_MIN_MB, MEMORY_MAX_MB = 128, 10240
TIMEOUT_MAX = timedelta(minutes=15)


def _seconds(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    return value


def _check_timeout(value: timedelta) -> timedelta:
    if not timedelta(seconds=1) <= value <= TIMEOUT_MAX:
        raise ValueError(
            f"must be between 1 and 900 seconds (Lambda's limit), but {value.total_seconds():g} was provided."
            " Fix: use a shorter timeout, or a queue for longer work."
        )
    return value


def _check_memory(value: int) -> int:
    if not MEMORY_MIN_MB <= value <= MEMORY_MAX_MB:
        raise ValueError(
            f"must be between {MEMORY_MIN_MB} and {MEMORY_MAX_MB} MB (Lambda's limits), but {value} was provided."
            " Fix: choose a memory size in that range."
        )
    return value


MemorySize = Annotated[int, AfterValidator(_check_memory), DeployTime]
"""Lambda memory in MB: 128 to 10240."""
LambdaTimeout = Annotated[timedelta, BeforeValidator(_seconds), AfterValidator(_check_timeout), DeployTime]
"""A Lambda timeout: seconds (int) or a timedelta, 1 s to 15 min."""


_RATE = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minute|minutes|hour|hours|day|days)\)$")


def schedule_problem(expression: str) -> str | None:
    """Why an EventBridge schedule expression is invalid, or None.

    `cron(minutes hours day-of-month month day-of-week year)` is checked field by field against
    EventBridge's grammar (ranges, `, - * ? / L W #`, exactly one of day-of-month and day-of-week
    `?`) with the maintained `aws-cron-expression-validator`; `rate(N unit)` needs a positive N and
    the unit's singular for 1, plural otherwise.
    """
    if expression.startswith("cron(") and expression.endswith(")"):
        return _cron_problem(expression[5:-1])
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group("value")), rate.group("unit")
        if value == 0:
            return "a rate must be positive. Fix: e.g. 'rate(5 minutes)'."
        if (value == 1) != (not unit.endswith("s")):
            number = "singular" if value == 1 else "plural"
            return f"use the {number} unit with {value}. Fix: e.g. 'rate(1 hour)', 'rate(2 hours)'."
        return None
    if expression.startswith("rate("):
        return "is not a valid rate: 'rate(N minute(s)|hour(s)|day(s))'. Fix: e.g. 'rate(5 minutes)' or 'rate(1 day)'."
    return "must be 'cron(...)' with six fields or 'rate(N unit)'. Fix: e.g. 'cron(0 0 * * ? *)' or 'rate(5 minutes)'."


def _cron_problem(body: str) -> str | None:
    from aws_cron_expression_validator.validator import AWSCronExpressionValidator

    fields = body.split()
    if len(fields) != 6 or body != " ".join(fields):
        return (
            f"cron expressions have 6 fields separated by single spaces (minutes hours day-of-month month"
            f" day-of-week year), but {len(fields)} were given. Fix: e.g. 'cron(0 0 * * ? *)' for every day at"
            " midnight UTC."
        )
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return (
            "exactly one of day-of-month (3rd field) and day-of-week (5th field) must be '?'."
            " Fix: e.g. 'cron(0 0 * * ? *)' (every day) or 'cron(0 9 ? * MON-FRI *)' (weekdays)."
        )
    try:
        AWSCronExpressionValidator.validate(body)
    except ValueError as error:
        field = type(error).__name__.removeprefix("AWSCronExpression").removesuffix("Error")
        ranges = {
            "Minute": "0-59",
            "Hour": "0-23",
            "DayOfMonth": "1-31, L, W",
            "Month": "1-12 or JAN-DEC",
            "DayOfWeek": "1-7 or SUN-SAT, L, #",
            "Year": "1970-2199",
        }
        allowed = f" (allowed: {ranges[field]}, with , - * /)" if field in ranges else ""
        return f"{str(error).rstrip('.')}{allowed}. Fix: e.g. 'cron(0 0 * * ? *)'; see EventBridge's cron reference."
    return None


def _check_schedule(value: str) -> str:
    problem = schedule_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ScheduleExpression = Annotated[str, AfterValidator(_check_schedule), DeployTime]


# --- Lambda handlers ------------------------------------------------------------------------------------

_FILE_FUNCTION = re.compile(r"^[A-Za-z0-9_\-/.]*[A-Za-z0-9_\-]\.[A-Za-z_$][A-Za-z0-9_$]*$")
_JAVA = re.compile(r"^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*(::[A-Za-z_$][\w$]*)?$")
_DOTNET = re.compile(r"^[\w.]+::[\w.]+::\w+$")
HANDLER_MAX = 128


def handler_problem(handler: str, runtime: str | None = None) -> str | None:
    """Why `handler` is not a valid Lambda handler for `runtime`, or None.

    Every runtime: ASCII, no spaces, at most 128 characters (Lambda's rule). Python, Node.js and Ruby:
    `file.function` (a path to the file, then the function: 'index.handler', 'src/app.main'); Java:
    `package.Class::method`; .NET: `Assembly::Namespace.Class::Method`; custom runtimes
    (`provided.*`) read it themselves, so any such string. Without a runtime: `file.function`, the
    guide's form.
    """
    if not handler:
        return "is empty. Fix: name the file and the function, e.g. 'index.handler'."
    if not handler.isascii() or any(c.isspace() for c in handler) or len(handler) > HANDLER_MAX:
        return (
            f"must be ASCII, without spaces, at most {HANDLER_MAX} characters (Lambda's rule)."
            " Fix: rename the file or the function, e.g. 'index.handler'."
        )
    family = (runtime or "").lower()
    if family.startswith("provided"):
        return None
    if family.startswith("java"):
        ok, form = bool(_JAVA.match(handler)), "'com.example.Handler::handleRequest'"
    elif family.startswith("dotnet"):
        ok, form = bool(_DOTNET.match(handler)), "'MyAssembly::MyNamespace.Function::Handler'"
    else:
        ok, form = bool(_FILE_FUNCTION.match(handler)), "'index.handler' (file index, function handler)"
    return None if ok else f"is not a handler of the form file.function. Fix: e.g. {form}."


def _check_handler(value: str) -> str:
    problem = handler_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Handler = Annotated[str, AfterValidator(_check_handler), DeployTime]
"""A handler of the form `file.function` ('index.handler'), ASCII, at most 128 characters."""


# --- paths inside the project -----------------------------------------------------------------------------


def project_path_problem(value: str) -> str | None:
    """Why `value` is not a relative path that stays inside the project, or None."""
    from pathlib import PurePosixPath, PureWindowsPath

    if not value.strip():
        return "is empty. Fix: give a folder relative to the project, e.g. 'dist'."
    path = PurePosixPath(value)
    if path.is_absolute() or PureWindowsPath(value).is_absolute() or value.startswith("~"):
        return (
            "is an absolute path: it must be relative to the project, so that the project alone says what"
            " it deploys. Fix: move the folder into the project and give its relative path, e.g. 'dist'."
        )
    if ".." in path.parts:
        return (
            "leaves the project ('..'). Fix: keep the folder inside the project and give its relative path,"
            " e.g. 'dist' or '.state'."
        )
    return None


def _check_project_path(value: str) -> str:
    problem = project_path_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ProjectPath = Annotated[str, AfterValidator(_check_project_path)]
"""A folder relative to the project that stays inside it (no absolute path, no '..')."""
