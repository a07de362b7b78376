"""Turn jsii's kernel requests into JSON-ready dicts without cattrs walking every value.

jsii's `_NodeProcess` unstructures each request (`create`, `get`, `invoke`, ...) with cattrs, which
dispatches on the type of every nested value: about 20 calls for a resource's `create`, a tenth of
the Python time of a warm synth. Most of a request is already plain data (the struct dicts, lists and
strings jsii built for it). `install()` registers, on each new `_NodeProcess`'s converter, a hook per
request class that copies plain values (str, int, float, bool, None, lists and string-keyed dicts of
them) as they are and hands anything else (object references, overrides, enums, a datetime) to the
same converter, so the JSON written to the kernel is the same, byte for byte (a test compares them on
a real synth).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_PLAIN = (str, int, float, bool)
_REQUESTS = {
    "CreateRequest": "create",
    "GetRequest": "get",
    "SetRequest": "set",
    "StaticGetRequest": "sget",
    "InvokeRequest": "invoke",
    "StaticInvokeRequest": "sinvoke",
}
"""jsii's request classes (in `jsii._kernel.types`) and the `api` name jsii gives each."""


def install() -> bool:
    """Hook the request classes into every `_NodeProcess` made from now on (False: jsii is not as expected)."""
    import attr
    from jsii._kernel import types
    from jsii._kernel.providers import process

    found = {getattr(types, name, None): api for name, api in _REQUESTS.items()}
    classes: dict[type, str] = {cls: api for cls, api in found.items() if isinstance(cls, type) and attr.has(cls)}
    if len(classes) != len(_REQUESTS):
        return False
    node_process = process._NodeProcess
    real_init: Callable[[Any], None] = node_process.__init__
    if getattr(real_init, "__wrapped__", None) is not None:
        return True  # already installed

    @functools.wraps(real_init)
    def __init__(self: Any) -> None:  # noqa: N807  (jsii's own method)
        real_init(self)
        converter = self._serializer
        for cls, api in classes.items():
            converter.register_unstructure_hook(cls, request_unstructurer(cls, api, converter.unstructure))

    node_process.__init__ = __init__  # type: ignore[method-assign]
    return True


def request_unstructurer(cls: type, api: str, unstructure: Callable[[Any], Any]) -> Callable[[Any], dict[str, Any]]:
    """`cls`'s fields as a dict plus `"api": api`, as jsii's `_with_api_key(api, unstructure_attrs_asdict)`."""
    import attr

    names = [field.name for field in attr.fields(cls)]

    def plain(value: Any) -> Any:
        kind = type(value)
        if value is None or kind in _PLAIN:
            return value
        if kind is list:
            return [plain(item) for item in value]
        if kind is dict and all(type(key) is str for key in value):
            return {key: plain(item) for key, item in value.items()}
        return unstructure(value)  # references, overrides, enums, anything else: as jsii's converter does

    def unstructurer(request: Any) -> dict[str, Any]:
        unstructured = {name: plain(getattr(request, name)) for name in names}
        unstructured["api"] = api
        return unstructured

    return unstructurer
