"""Helpers that turn validation failures into one `ConfigError` listing every problem.

Each pydantic error becomes a `Problem` with the dotted path of Python field names, the value given
and a fix: "did you mean" for unknown keys and for values outside a fixed set, the unit to drop for
"512MB", the variable to set for an unset `from_env(...)`.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic.alias_generators import to_camel, to_snake

from stacks_cloud.core.errors import NOT_GIVEN, Problem
from stacks_cloud.core.suggest import did_you_mean

_FIX_BY_ERROR_TYPE = {
    "missing": "add this field.",
    "extra_forbidden": "remove it or check its spelling against the documented fields.",
    "greater_than_equal": "use a value inside the documented range.",
    "less_than_equal": "use a value inside the documented range.",
    "greater_than": "use a value inside the documented range.",
    "less_than": "use a value inside the documented range.",
    "string_too_short": "give a longer value.",
}
_NUMBER_ERRORS = {"int_parsing", "int_type", "float_parsing", "float_type", "int_from_float"}
_QUOTED = re.compile(r"'([^']*)'")


def problems_from_validation_error(
    error: ValidationError, prefix: str = "", *, model: type[BaseModel] | None = None
) -> list[Problem]:
    """One `Problem` per pydantic error, with dotted paths of Python field names (`api.memory_size`).

    With `model` (the model that was validated), unknown keys get "did you mean" among its fields.
    """
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
        value = item.get("input")
        kind = item["type"]
        if kind == "missing":  # pydantic gives the whole mapping the field is missing from, not a value
            value, message = NOT_GIVEN, "is required."
        if kind == "extra_forbidden" and model is not None:
            message, fix = _unknown_key(model, item["loc"], message, fix)
        elif kind in ("literal_error", "enum") and isinstance(value, str):
            expected = _QUOTED.findall(str((item.get("ctx") or {}).get("expected", "")))
            fix = did_you_mean(value, expected) or f"use one of {', '.join(map(repr, expected))}."
        elif kind in _NUMBER_ERRORS and isinstance(value, str):
            digits = re.match(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]+)\s*$", value)
            message = "must be a number."
            fix = (
                f"write the number without its unit: {digits.group(1)}."
                if digits
                else "write a plain number, e.g. 512."
            )
        elif kind == "time_delta_parsing":
            message = "must be a duration: seconds as a number, or a timedelta."
            fix = "write e.g. 30 (seconds) or timedelta(minutes=5)."
        problems.append(Problem(path=path, value=value, message=message, fix=fix))
    return problems


def _unknown_key(model: type[BaseModel], loc: tuple[Any, ...], message: str, fix: str) -> tuple[str, str]:
    """A better message for an unknown key: "given twice" for a field's other spelling, else did you mean."""
    key = str(loc[-1])
    owner = model_at(model, loc[:-1])
    if owner is None:
        return message, fix
    if owner.model_config.get("alias_generator") is None and not any(f.alias for f in owner.model_fields.values()):
        # Keyword options (the constructs'): snake_case names only
        fields = list(owner.model_fields)
        if to_snake(key) in fields and to_snake(key) != key:
            return "is not a known option: options are snake_case keyword arguments.", f"write {to_snake(key)!r}."
        return message if "known" in message else "is not a known option.", (
            did_you_mean(key, fields) or f"use one of {', '.join(sorted(fields))}."
        )
    names = {name: (field.alias or to_camel(name)) for name, field in owner.model_fields.items()}
    if key in names:  # e.g. app_name beside appName: both spellings of one field
        return (
            f"is given twice, as {names[key]!r} and {key!r}.",
            f"keep one of them (camelCase {names[key]!r} as in the guide, or snake_case {key!r}).",
        )
    spellings = list(names) if "_" in key else list(names.values())  # snake_case, or the guide's camelCase
    suggestion = did_you_mean(key, spellings)
    return "is not a known setting here.", suggestion or f"use one of {', '.join(sorted(names.values()))}."


def model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the value at `loc` (field names, list indexes, dict keys), or None."""
    current: type[BaseModel] | None = model
    skip = 0
    for part in loc:
        if skip:
            skip -= 1
            continue
        if current is None:
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            field = next((f for n, f in current.model_fields.items() if (f.alias or to_camel(n)) == part), None)
        if field is None:
            return None
        current, skip = _inner_model(field.annotation)
    return current


def _inner_model(annotation: Any) -> tuple[type[BaseModel] | None, int]:
    """The model inside an annotation, and how many location parts its containers add (a list index)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _inner_model(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for argument in typing.get_args(annotation):
            found, skip = _inner_model(argument)
            if found is not None:
                return found, skip
        return None, 0
    if origin in (list, tuple, set, frozenset, dict):
        arguments = typing.get_args(annotation)
        inner = arguments[-1] if arguments else None
        found, skip = _inner_model(inner) if inner is not None else (None, 0)
        return found, skip + 1
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, 0
    return None, 0
