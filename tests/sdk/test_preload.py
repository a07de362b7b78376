"""The kernel starts with its assembly loads queued: same stacks, and a broken package still fails as jsii says."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from stacks_cloud.cdk import _preload
from tests.sdk.python_runs import python_json

SYNTH = """
    import json, sys
    import stacks_cloud.cdk as cdk
    from stacks_cloud.cdk import _preload
    from stacks_cloud.cdk.aws import provider, sqs_queue
    from stacks_cloud.testing import synth, temporary_app
    unread_after_imports = _preload.unread_answers()
    stack = cdk.TerraformStack(temporary_app(), "s")
    provider.AwsProvider(stack, "aws", region="us-east-1")
    sqs_queue.SqsQueue(stack, "q", name="q", visibility_timeout_seconds=300)
    print(json.dumps({
        "preloaded": [a.name for a in _preload.preloaded],
        "unread": [unread_after_imports, _preload.unread_answers()],
        "stack": synth(stack),
    }))
"""


def test_the_assemblies_are_queued_in_order_and_the_stack_is_the_same() -> None:
    queued = python_json(SYNTH)
    assert queued["preloaded"] == ["constructs", "cdktf", "@cdktf/provider-aws"]
    # importing cdktf and the provider's modules waited for none of the kernel's answers (hello + 3 loads)
    assert queued["unread"] == [4, 0]
    one_by_one = python_json(SYNTH, env={"STACKS_CLOUD_PRELOAD_KERNEL": "0"})
    assert (one_by_one["preloaded"], one_by_one["unread"]) == ([], [0, 0])
    assert queued["stack"] == one_by_one["stack"]
    assert queued["stack"]["resource"]["aws_sqs_queue"]["q"]["visibility_timeout_seconds"] == 300


LOAD = 'jsii.JSIIAssembly.load("pkg", "1.0.0", __name__[0:-6], "pkg@1.0.0.jsii.tgz")'
"""What a generated `_jsii/__init__.py` does."""


def write_package(root: Path, name: str, load_call: str, tarball: bytes | None = b"not a tarball") -> None:
    jsii_dir = root / name / "_jsii"
    jsii_dir.mkdir(parents=True)
    (root / name / "__init__.py").write_text("")
    (jsii_dir / "__init__.py").write_text(f"import jsii\n\n__jsii_assembly__ = {load_call}\n")
    if tarball is not None:
        (jsii_dir / "pkg@1.0.0.jsii.tgz").write_bytes(tarball)


def test_only_the_expected_shape_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_package(tmp_path, "preload_good", LOAD)
    write_package(tmp_path, "preload_computed", LOAD.replace('"1.0.0",', "VERSION,"))
    write_package(tmp_path, "preload_no_tarball", LOAD, tarball=None)
    write_package(tmp_path, "preload_other_call", LOAD.replace("JSIIAssembly.load", "something_else"))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    good = _preload.assembly_of("preload_good")
    assert good == _preload.Assembly("pkg", "1.0.0", tmp_path / "preload_good" / "_jsii" / "pkg@1.0.0.jsii.tgz")
    for name in ("preload_computed", "preload_no_tarball", "preload_other_call", "preload_missing_package"):
        assert _preload.assembly_of(name) is None, name
    assert "preload_good" not in sys.modules  # read, not imported


def test_a_failed_queued_load_raises_at_the_next_call_naming_the_assembly(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    write_package(tmp_path, "preload_broken", LOAD)
    write_package(tmp_path, "preload_not_queued", LOAD.replace('"pkg"', '"other"'))
    outcome = python_json(
        f"""
        import importlib.util, json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        # the module on its own, so that it runs before `stacks_cloud.cdk` starts the kernel
        spec = importlib.util.spec_from_file_location("preload_alone", {_preload.__file__!r})
        preload = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(preload)
        preload.preload(("preload_broken", *preload.PRELOADED_PACKAGES))
        import preload_broken._jsii  # queued: not sent again
        import stacks_cloud.cdk as cdk
        from stacks_cloud.testing import synth, temporary_app

        def failure(action):
            try:
                action()
            except Exception as error:
                return f"{{type(error).__name__}}: {{error}}"

        queued_failure = failure(temporary_app)  # the first request reads the queued answers first
        stack = cdk.TerraformStack(temporary_app(), "s")  # and the kernel goes on
        cdk.TerraformOutput(stack, "out", value="v")
        own_failure = failure(lambda: importlib.import_module("preload_not_queued._jsii"))
        print(json.dumps({{
            "queued": [a.name for a in preload.preloaded],
            "queued_failure": queued_failure,
            "own_failure": own_failure,
            "stack": synth(stack),
        }}))
        """,
        env={"TMPDIR": str(scratch)},
    )
    assert outcome["queued"] == ["pkg", "constructs", "cdktf", "@cdktf/provider-aws"]
    bad_archive = "TAR_BAD_ARCHIVE: Unrecognized archive format"  # the kernel's own words
    assert outcome["queued_failure"] == f"RuntimeError: loading pkg@1.0.0: {bad_archive}"
    assert outcome["own_failure"] == f"RuntimeError: {bad_archive}"  # a package not queued loads as before
    assert outcome["stack"]["output"]["out"]["value"] == "v"
    assert list(scratch.iterdir()) == []  # the app that failed to start left no folder; the other went at exit
