"""Helpers that turn validation failures into one `ConfigError` listing every problem."""

from __future__ import annotations

from pydantic import ValidationError

from stacks_cloud.core.errors import Problem

_FIX_BY_ERROR_TYPE = {
    "missing": "add this field.",
    "extra_forbidden": "remove it or check its spelling against the documented fields.",
    "greater_than_equal": "use a value inside the documented range.",
    "less_than_equal": "use a value inside the documented range.",
    "greater_than": "use a value inside the documented range.",
    "less_than": "use a value inside the documented range.",
}


def problems_from_validation_error(error: ValidationError, prefix: str = "") -> list[Problem]:
    """One `Problem` per pydantic error, with dotted paths of Python field names (`api.memory_size`)."""
    problems = []
    for item in error.errors(include_url=False):
        location = [str(part) for part in item["loc"]]
        path = ".".join([prefix, *location] if prefix else location)
        message = item["msg"]
        # Our own validators raise ValueError("message. Fix: how"); pydantic prefixes "Value error, ".
        message = message.removeprefix("Value error, ")
        fix = ""
        if " Fix: " in message:
            message, fix = message.split(" Fix: ", 1)
        else:
            fix = _FIX_BY_ERROR_TYPE.get(item["type"], "")
        problems.append(Problem(path=path, value=item.get("input"), message=message, fix=fix))
    return problems
