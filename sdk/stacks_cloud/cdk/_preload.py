"""Start the jsii kernel and queue its assembly loads before Python asks for them.

Importing cdktf is a chain of waits: Python starts node, waits for its hello, sends `load` for
`constructs` and waits, then for `cdktf`, then (at the first resource module) for the AWS provider,
importing Python modules in between. Node does ~0.35 s of work there while Python sits idle, and
Python does ~0.3 s of imports while node sits idle.

`preload()` starts the kernel without waiting for its hello and writes the `load` requests for the
assemblies at once; the kernel works through them while Python goes on importing. The first request
Python sends afterwards first reads the hello and the queued responses, in order. The `load` that
each `_jsii` package sends later is answered at once: the kernel knows the assembly already.

The requests are the ones jsii itself sends, read from each package's `_jsii/__init__.py`; a package
whose file does not have the expected shape is not preloaded (it loads as before, slower). A queued
load that fails is ignored here: the package's own `load` repeats it and raises jsii's error there.
"""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path
from typing import Any, NamedTuple

PRELOADED_PACKAGES: tuple[str, ...] = ("constructs", "cdktf", "cdktf_cdktf_provider_aws")
"""In dependency order: a package's assembly loads after the assemblies it depends on."""


class Assembly(NamedTuple):
    name: str
    version: str
    tarball: Path


preloaded: list[Assembly] = []
"""What `preload()` queued in this process (for tests and diagnostics)."""
_unread: list[Assembly | None] = []
"""The kernel's answers not read yet, in order: None is its hello, an assembly the answer to its load."""


def unread_answers() -> int:
    """How many of the kernel's start-up answers Python has not waited for yet."""
    return len(_unread)


def assembly_of(package: str) -> Assembly | None:
    """The assembly that `<package>._jsii` loads, read from its source without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    jsii_dir = Path(next(iter(spec.submodule_search_locations))) / "_jsii"
    try:
        tree = ast.parse((jsii_dir / "__init__.py").read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        call = node.value if isinstance(node, ast.Assign) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "load"
            and ast.unparse(call.func.value) == "jsii.JSIIAssembly"
            and len(call.args) == 4
        ):
            name, version, _module, filename = call.args
            if all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in (name, version, filename)):
                tarball = jsii_dir / str(filename.value)  # type: ignore[attr-defined]
                if tarball.is_file():
                    return Assembly(str(name.value), str(version.value), tarball)  # type: ignore[attr-defined]
    return None


def preload(packages: tuple[str, ...] | None = None) -> None:
    """Start the kernel and queue the loads of `packages` (default: `PRELOADED_PACKAGES`), stopping at
    the first whose assembly cannot be read.

    Call only before the kernel has started (`_fastload.install` checks).
    """
    assemblies = []
    for package in PRELOADED_PACKAGES if packages is None else packages:
        assembly = assembly_of(package)
        if assembly is None:
            break  # the later ones may depend on it: they load the ordinary way
        assemblies.append(assembly)
    if not assemblies:
        return
    from jsii._kernel.providers import process
    from jsii._runtime import kernel
    from jsii.errors import ErrorType, JavaScriptError, JSIIError

    node_process, provider = process._NodeProcess, process.ProcessProvider
    real_handshake, real_send, real_load = node_process.handshake, node_process.send, provider.load
    if getattr(real_send, "__wrapped__", None) is not None:
        return  # already installed
    pending = _unread
    queued = {(assembly.name, assembly.version) for assembly in assemblies}

    def deferred_handshake(self: Any) -> None:
        pending.append(None)

    def send(self: Any, request: Any, response_type: Any) -> Any:
        while pending:
            assembly = pending.pop(0)
            if assembly is None:
                real_handshake(self)
                continue
            response = self._serializer.structure(self._next_message(), process._ProcessResponse)
            if isinstance(response, process._ErrorResponse):  # as jsii raises a failed load, naming it
                fault = response.name == ErrorType.JSII_FAULT.value
                error = (JSIIError if fault else RuntimeError)(
                    f"loading {assembly.name}@{assembly.version}: {response.error}"
                )
                raise error from JavaScriptError(response.stack)  # type: ignore[no-untyped-call]
        return real_send(self, request, response_type)

    def load(self: Any, request: Any) -> Any:
        if (request.name, request.version) in queued:
            return None  # queued at start-up (the kernel would answer a second load of it with no-op)
        return real_load(self, request)

    send.__wrapped__ = real_send  # type: ignore[attr-defined]
    node_process.handshake = deferred_handshake  # type: ignore[method-assign]
    node_process.send = send  # type: ignore[method-assign]
    provider.load = load  # type: ignore[method-assign]
    try:
        started = kernel.provider._process  # type: ignore[attr-defined]  # starts node; the hello is read later
    finally:
        node_process.handshake = real_handshake  # type: ignore[method-assign]
    stdin = started._process.stdin
    for assembly in assemblies:
        request = {"api": "load", "name": assembly.name, "version": assembly.version, "tarball": str(assembly.tarball)}
        stdin.write(json.dumps(request).encode() + b"\n")
        pending.append(assembly)
        preloaded.append(assembly)
    stdin.flush()
