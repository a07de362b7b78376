"""Construct options: frozen pydantic models validated with the construct's path in every error."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from stacks_cloud.cdk import Construct
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.validation import problems_from_validation_error


class Options(BaseModel):
    """Base of construct option models: frozen, unknown options rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


OptionsT = TypeVar("OptionsT", bound=Options)


def validate_options(model: type[OptionsT], scope: Construct, construct_id: str, values: dict[str, Any]) -> OptionsT:
    """Validate `values` into `model`; every problem is reported at once, prefixed by the construct path.

    The construct path is read (two jsii round trips) only to report a problem: a synth builds many
    constructs, and every read from the Node side costs a message each way."""
    node = scope.node

    def path() -> str:
        parent = node.path
        return f"{parent}/{construct_id}" if parent else construct_id

    if node.try_find_child(construct_id) is not None:
        raise ConfigError(
            f"options of {path()}",
            [
                Problem(
                    "construct_id",
                    construct_id,
                    f"is already the id of another construct in {node.path or 'the app'}: ids name the"
                    " resources, so they must be unique within their scope.",
                    "give this construct another id.",
                )
            ],
        )
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise ConfigError(f"options of {path()}", problems_from_validation_error(error, model=model)) from None
