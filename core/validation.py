"""Helpers that turn validation failures into one `ConfigError` listing every problem."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.errors import ConfigError, Problem

ModelT = TypeVar("ModelT", bound=BaseModel)

_FIX_BY_ERROR_TYPE = {
    "missing": "add this field.",
    "extra_forbidden": "remove it or check its spelling against the documented fields.",
    "greater_than_equal": "use a value inside the documented range.",
    "less_than_equal": "use a value inside the documented range.",
    "greater_than": "use a value inside the documented range.",
    "less_than": "use a value inside the documented range.",
}


def problems_from_validation_error(error: ValidationError, prefix: str = "") -> list[Problem]:
    """One `Problem` per pydantic error, with dotted field paths (aliases as the user wrote them)."""
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


def validate_model(model: type[ModelT], data: Any, *, subject: str, prefix: str = "") -> ModelT:
    """`model.model_validate(data)`, raising a `ConfigError` that lists every problem."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(subject, problems_from_validation_error(error, prefix)) from None


def build_options(model: type[ModelT], subject: str, **values: Any) -> ModelT:
    """Validate keyword arguments of a construct into its options model (`subject` = construct path)."""
    return validate_model(model, values, subject=f"options for {subject}")
