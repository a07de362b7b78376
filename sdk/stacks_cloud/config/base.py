"""The validation machinery every config model shares: frozen models, camelCase aliases, one `ConfigError`.

`Model` is the base of every section. Constructing or validating one raises a single `ConfigError`
listing every problem (field errors and the cross-field `semantic_problems` of what is valid) with its
field path, the value given and how to fix it, instead of pydantic's `ValidationError`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic._internal._model_construction import ModelMetaclass  # stable in pydantic 2.x
from pydantic.alias_generators import to_camel

from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.validation import problems_from_validation_error


def _prune(data: Any, locations: list[tuple[int | str, ...]]) -> tuple[dict[str, Any], list[str]] | None:
    """A copy of `data` without the entries at `locations` (pydantic error locations), and their paths.

    A bad list item is removed from its list, and the list's path is reported as pruned (the
    positions of the items after it have moved). None when a location cannot be followed through
    plain dicts and lists (then nothing partial is checked).
    """
    if not isinstance(data, dict):
        return None
    root: dict[str, Any] = dict(data)
    paths = []
    doomed: dict[int, tuple[list[Any], set[int]]] = {}  # id(list) -> (list, indexes to remove)
    copied: set[int] = {id(root)}  # containers that are ours to change
    for location in locations:
        node: Any = root
        for depth, part in enumerate(location):
            done = depth == len(location) - 1
            if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                doomed.setdefault(id(node), (node, set()))[1].add(part)
                paths.append(".".join(str(p) for p in location[:depth]))
                break
            if not isinstance(node, dict):
                return None
            key = next((k for k in (str(part), to_camel(str(part))) if k in node), None)
            if key is None:
                return None
            if done or not isinstance(node[key], dict | list):
                del node[key]
                paths.append(".".join(str(p) for p in location[: depth + 1]))
                break
            if id(node[key]) not in copied:
                node[key] = dict(node[key]) if isinstance(node[key], dict) else list(node[key])
                copied.add(id(node[key]))
            node = node[key]
    for items, indexes in doomed.values():
        items[:] = [item for index, item in enumerate(items) if index not in indexes]
    return root, paths


def _related(path: str, other: str) -> bool:
    """Whether one field path contains the other (or they are equal)."""
    return path == other or path.startswith(f"{other}.") or other.startswith(f"{path}.")


class _RaisesConfigError(ModelMetaclass):
    """Turns `Model(...)` failures into `ConfigError`.

    Done in the metaclass rather than `__init__` because pydantic calls a custom `__init__` for
    nested models too, which would wrap one model's error inside its parent's.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: N805  (a metaclass method)
        try:
            model = super().__call__(*args, **kwargs)
        except ValidationError as error:
            raise ConfigError(cls._subject, cls._all_problems(kwargs, error)) from None  # type: ignore[attr-defined]
        model._raise_semantic_problems()
        return model


class Model(BaseModel, metaclass=_RaisesConfigError):
    """Base of every config model: frozen, camelCase aliases, unknown keys rejected.

    `model_validate` and the constructor raise `ConfigError` (a `ValueError`) listing every problem
    instead of pydantic's `ValidationError`.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        arbitrary_types_allowed=True,
        loc_by_alias=False,  # error paths use the Python field names, whichever spelling was given
    )
    _subject: ClassVar[str] = "configuration"

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        try:
            model = super().model_validate(obj, **kwargs)
        except ValidationError as error:
            raise ConfigError(cls._subject, cls._all_problems(obj, error)) from None
        model._raise_semantic_problems()
        return model

    @classmethod
    def _all_problems(cls, data: Any, error: ValidationError) -> list[Problem]:
        """The field errors, plus the cross-field problems of what is valid, so one error lists everything.

        The invalid entries are pruned from a copy of `data` (a whole list when one of its items is
        bad) and the rest is validated again; cross-field problems about a pruned field are dropped.
        """
        problems = cls._problems(error)
        pruned = _prune(data, [item["loc"] for item in error.errors()])
        if pruned is None:
            return problems
        partial_data, pruned_paths = pruned
        try:
            partial = BaseModel.model_validate.__func__(cls, partial_data)  # type: ignore[attr-defined]
        except ValidationError:
            return problems
        return problems + [
            problem
            for problem in partial.semantic_problems()
            if not any(_related(problem.path, path) for path in pruned_paths)
        ]

    @classmethod
    def _problems(cls, error: ValidationError) -> list[Problem]:
        return problems_from_validation_error(error, model=cls)

    def _raise_semantic_problems(self) -> None:
        ConfigError.raise_if_any(self._subject, self.semantic_problems())

    def semantic_problems(self) -> list[Problem]:
        """Cross-field rules, checked once every field is valid. Subclasses extend."""
        return []
