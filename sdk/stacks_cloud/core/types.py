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


MemorySize = Annotated[int, AfterValidator(_check_memory)]
"""Lambda memory in MB: 128 to 10240."""
LambdaTimeout = Annotated[timedelta, BeforeValidator(_seconds), AfterValidator(_check_timeout)]
"""A Lambda timeout: seconds (int) or a timedelta, 1 s to 15 min."""


_CRON = re.compile(r"^cron\((?P<body>[^()]*)\)$")
_RATE = re.compile(r"^rate\((?P<value>\d+) (?P<unit>minute|minutes|hour|hours|day|days)\)$")


def schedule_problem(expression: str) -> str | None:
    """Why an EventBridge schedule expression is invalid, or None.

    Accepts `cron(min hour day-of-month month day-of-week year)` (six fields, with exactly one of
    day-of-month and day-of-week being '?') and `rate(N unit)`.
    """
    cron = _CRON.match(expression)
    if cron:
        fields = cron.group("body").split()
        if len(fields) != 6:
            return (
                f"cron expressions have 6 fields (minutes hours day-of-month month day-of-week year),"
                f" but {len(fields)} were given. Fix: e.g. 'cron(0 0 * * ? *)' for every day at midnight."
            )
        day_of_month, day_of_week = fields[2], fields[4]
        if (day_of_month == "?") == (day_of_week == "?"):
            return (
                "exactly one of day-of-month (3rd field) and day-of-week (5th field) must be '?'."
                " Fix: e.g. 'cron(0 0 * * ? *)'."
            )
        return None
    rate = _RATE.match(expression)
    if rate:
        value, unit = int(rate.group("value")), rate.group("unit")
        if value == 0:
            return "a rate must be positive. Fix: e.g. 'rate(5 minutes)'."
        if (value == 1) != (not unit.endswith("s")):
            number = "singular" if value == 1 else "plural"
            return f"use the {number} unit with {value}. Fix: e.g. 'rate(1 hour)', 'rate(2 hours)'."
        return None
    return "must be 'cron(...)' with six fields or 'rate(N unit)'. Fix: e.g. 'cron(0 0 * * ? *)' or 'rate(5 minutes)'."


def _check_schedule(value: str) -> str:
    problem = schedule_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ScheduleExpression = Annotated[str, AfterValidator(_check_schedule)]
