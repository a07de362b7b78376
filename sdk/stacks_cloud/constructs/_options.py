"""Construct options: frozen pydantic models validated with the construct's path in every error."""

from __future__ import annotations

import weakref
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from stacks_cloud.cdk import Construct
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.validation import problems_from_validation_error


class Options(BaseModel):
    """Base of construct option models: frozen, unknown options rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


OptionsT = TypeVar("OptionsT", bound=Options)

_CHILD_IDS: weakref.WeakKeyDictionary[Construct, set[str]] = weakref.WeakKeyDictionary()
"""The ids the SDK's constructs took under each scope, known without asking the Node side."""


def validate_options(model: type[OptionsT], scope: Construct, construct_id: str, values: dict[str, Any]) -> OptionsT:
    """Validate `values` into `model`; every problem is reported at once, prefixed by the construct path.

    An id another SDK construct already took in `scope` is refused here, with the construct path. A
    clash with a construct made directly with cdktf is refused by the constructs library when it is
    created (`build_app` reports that one as a `ConfigError` too). Nothing here asks the Node side
    unless there is a problem to report: a synth builds many constructs, and every read costs a
    message each way."""
    taken = _CHILD_IDS.setdefault(scope, set())

    def path() -> str:
        parent = scope.node.path
        return f"{parent}/{construct_id}" if parent else construct_id

    if construct_id in taken:
        raise ConfigError(
            f"options of {path()}",
            [
                Problem(
                    "construct_id",
                    construct_id,
                    f"is already the id of another construct in {scope.node.path or 'the app'}: ids name the"
                    " resources, so they must be unique within their scope.",
                    "give this construct another id.",
                )
            ],
        )
    try:
        props = model.model_validate(values)
    except ValidationError as error:
        raise ConfigError(f"options of {path()}", problems_from_validation_error(error, model=model)) from None
    taken.add(construct_id)
    return props
