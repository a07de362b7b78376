"""Every public construct explains itself: `help()` and `inspect.signature` show its options as keyword
arguments with their types, defaults and docs; mypy sees the same names; each default has one source."""

from __future__ import annotations

import inspect
import pydoc
import typing
from pathlib import Path

import pytest

import stacks_cloud.constructs as constructs
from stacks_cloud.cdk import Construct, TerraformStack
from stacks_cloud.constructs import Code, Function
from stacks_cloud.constructs._options import Options, options_signature
from stacks_cloud.constructs.cache import CacheKwargs, CacheOptions, RedisCluster
from stacks_cloud.constructs.database import DatabaseInstance, DatabaseKwargs, DatabaseOptions
from stacks_cloud.constructs.function import FunctionKwargs, FunctionOptions
from stacks_cloud.core.errors import ConfigError

CODE = Code.from_asset(Path(__file__).resolve().parents[2] / "dist")
PUBLIC_CONSTRUCTS = [
    getattr(constructs, name)
    for name in constructs.__all__
    if inspect.isclass(getattr(constructs, name)) and issubclass(getattr(constructs, name), Construct)
]


@pytest.mark.parametrize("construct", PUBLIC_CONSTRUCTS, ids=lambda c: c.__name__)
def test_every_public_construct_shows_named_options_with_their_docs(construct: type) -> None:
    signature = inspect.signature(construct)
    kinds = {parameter.kind for parameter in signature.parameters.values()}
    assert inspect.Parameter.VAR_KEYWORD not in kinds, signature
    assert inspect.Parameter.VAR_POSITIONAL not in kinds, signature
    assert list(signature.parameters)[:2] == ["scope", "construct_id"]
    doc = pydoc.render_doc(construct, renderer=pydoc.plaintext)  # type: ignore[attr-defined]
    options = [name for name, p in signature.parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    documented = doc[doc.index("Options (keyword arguments):") :].replace(" |  ", "").replace(" |", "")
    for name in options:
        entry = documented.split(f"\n    {name} (", 1)
        assert len(entry) == 2, (construct.__name__, name, "not listed")
        assert entry[1].split("\n")[1].startswith("        "), (construct.__name__, name, "no docs")


@pytest.mark.parametrize(
    ("construct", "kwargs", "model"),
    [
        (Function, FunctionKwargs, FunctionOptions),
        (DatabaseInstance, DatabaseKwargs, DatabaseOptions),
        (RedisCluster, CacheKwargs, CacheOptions),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_the_typed_keywords_and_the_options_model_name_the_same_options(
    construct: type, kwargs: type, model: type[Options]
) -> None:
    """mypy and IDEs read the TypedDict; validation, defaults and docs are the model's: they must agree."""
    hints = typing.get_type_hints(kwargs, include_extras=True)
    assert list(hints) == list(model.model_fields)
    required = {name for name, field in model.model_fields.items() if field.is_required()}
    assert {name for name, hint in hints.items() if typing.get_origin(hint) is typing.Required} == required
    signature = inspect.signature(construct)
    for name, field in model.model_fields.items():
        parameter = signature.parameters[name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        if field.is_required():
            assert parameter.default is inspect.Parameter.empty
        else:
            assert parameter.default == field.get_default(call_default_factory=True)
        assert field.description, f"{model.__name__}.{name} has no docs"


def test_help_of_function_shows_each_option_its_type_default_and_docs() -> None:
    doc = pydoc.render_doc(Function, renderer=pydoc.plaintext)  # type: ignore[attr-defined]
    assert "memory_size: 'int' = 128" in doc  # the signature line
    assert "memory_size (int, default 128)\n" in doc.replace(" |  ", "").replace(" |", "")
    assert "MB, 128 to 10240. Default: 128." in doc
    assert "function_name (str, required)" in doc
    assert "(*args" not in doc.split("\n", 3)[2]


def test_mypy_sees_the_options(stack_scope: TerraformStack) -> None:
    """`./scripts/test` runs mypy with warn_unused_ignores: each ignore below must be needed, so mypy refuses
    these calls, as it would in a user's project; at run time they are refused with a fix."""
    with pytest.raises(ConfigError) as misspelt:
        Function(stack_scope, "F", function_name="f", handler="index.handler", code=CODE, memory_sise=256)  # type: ignore[call-arg]
    assert "did you mean 'memory_size'" in str(misspelt.value)
    with pytest.raises(ConfigError) as camel:
        Function(stack_scope, "G", function_name="g", handler="index.handler", code=CODE, memorySize=256)  # type: ignore[call-arg]
    assert "memorySize = 256: is not a known option: options are snake_case keyword arguments" in str(camel.value)
    assert "Fix: write 'memory_size'." in str(camel.value)
    with pytest.raises(ConfigError) as missing:
        Function(stack_scope, "H", function_name="h", code=CODE)  # type: ignore[call-arg]
    assert "handler (not given): is required." in str(missing.value)
    assert "{" not in str(missing.value)  # not the whole options mapping as "the value"


def test_a_default_stated_in_a_signature_and_its_model_is_refused_at_import() -> None:
    class _Options(Options):
        size: int = 1

    with pytest.raises(TypeError, match=r"the defaults of \['size'\] are in its signature and in _Options"):

        @options_signature(_Options)
        class _Twice(Construct):
            def __init__(self, scope: Construct, construct_id: str, *, size: int = 1) -> None:
                super().__init__(scope, construct_id)
