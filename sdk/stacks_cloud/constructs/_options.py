"""Construct options: frozen pydantic models validated with the construct's path in every error."""

from __future__ import annotations

import inspect
import types
import typing
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from stacks_cloud.cdk import Construct
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.validation import problems_from_validation_error


class Options(BaseModel):
    """Base of construct option models: frozen, unknown options rejected. Each field's docstring is its
    documentation (`help()` of the construct shows it) and its default is the one default."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, use_attribute_docstrings=True)


OptionsT = TypeVar("OptionsT", bound=Options)
ConstructT = TypeVar("ConstructT", bound=type)


def _type_name(annotation: Any) -> str:
    """A readable type: `int`, `str | None`, `Literal[0, 1]` (validators and constraints left out)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(map(repr, args))}]"
    if annotation is type(None):
        return "None"
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(arg) for arg in args)}]"
    return annotation.__name__ if isinstance(annotation, type) else str(annotation)


def _defaults(model: type[Options]) -> dict[str, Any]:
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if not field.is_required()
    }


def options_signature(
    model: type[Options], *leading: str, docs: dict[str, str] | None = None
) -> Callable[[ConstructT], ConstructT]:
    """Class decorator for a construct whose options `model` validates: `help()` lists each option with
    its type, default and docs, and each default has one source.

    A construct taking `(scope, construct_id, *leading, **options: Unpack[...])` gets the signature
    (`inspect.signature`, `help()`) of its options as keyword arguments, their defaults read from `model`.
    A construct with keyword parameters of its own keeps them: the defaults are its signature's, and
    `model` must state none of them again (a `TypeError` at import otherwise); `docs` documents its
    keyword parameters that `model` does not validate (constructs passed in, callbacks)."""

    def apply(cls: ConstructT) -> ConstructT:
        init = inspect.signature(cls.__init__)  # type: ignore[misc]
        variadic = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in init.parameters.values())
        model_defaults = _defaults(model)
        if variadic:
            positional = [init.parameters[name] for name in ("self", "scope", "construct_id", *leading)]
            keywords = [
                inspect.Parameter(
                    name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=model_defaults.get(name, inspect.Parameter.empty),
                    annotation=_type_name(field.annotation),
                )
                for name, field in model.model_fields.items()
            ]
            signature = inspect.Signature([*positional, *keywords], return_annotation=None)
            cls.__init__.__signature__ = signature  # type: ignore[misc]
            cls.__init__.__doc__ = f"{cls.__name__}'s options with their defaults and docs: see help({cls.__name__})."  # type: ignore[misc]
            cls.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])  # type: ignore[attr-defined]
            defaults = model_defaults
        else:
            defaults = {
                name: parameter.default
                for name, parameter in init.parameters.items()
                if parameter.default is not inspect.Parameter.empty
            }
            twice = sorted(set(defaults) & set(model_defaults))
            if twice:
                raise TypeError(f"{cls.__name__}: the defaults of {twice} are in its signature and in {model.__name__}")
            # the class's own signature (jsii's metaclass would show `(*args, **kwargs)`), private ones left out
            public = [p for name, p in init.parameters.items() if name != "self" and not name.startswith("_")]
            cls.__signature__ = init.replace(parameters=public)  # type: ignore[attr-defined]
        signature = inspect.signature(cls)
        lines = ["", "Options (keyword arguments):"]
        for name, parameter in signature.parameters.items():
            if parameter.kind is not inspect.Parameter.KEYWORD_ONLY:
                continue
            field = model.model_fields.get(name)
            kind = _type_name(field.annotation) if field is not None else str(parameter.annotation).strip("'")
            default = f"default {defaults[name]!r}" if name in defaults else "required"
            lines.append(f"    {name} ({kind}, {default})")
            text = field.description if field is not None else (docs or {}).get(name)
            if text:
                lines += [f"        {line}" for line in text.splitlines()]
        cls.__doc__ = inspect.cleandoc(cls.__doc__ or "") + "\n" + "\n".join(lines)
        return cls

    return apply


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
