"""Testing helpers for users' own tests of their stacks (cdktf's Python testing API is thin).

    from stacks_cloud.testing import synth_stack, assert_resource, count_resources, assert_matches_snapshot
    from main import app                              # the project's CloudApp

    synthesized = synth_stack(app, app.load_config("production"), region="eu-west-1")
    assert count_resources(synthesized, "aws_sqs_queue") == 1
    assert_resource(synthesized, "aws_sqs_queue", visibility_timeout_seconds=300)
    assert_matches_snapshot(synthesized, Path(__file__).parent / "snapshots" / "production.json")

Matching is by property values, never by generated logical ids, so renaming an internal id does
not break a behavioural test (a snapshot will show it, which is what snapshots are for).

Snapshots: the first run (outside CI) writes the file; later runs compare and fail with a diff.
Review a new or changed snapshot like code, and commit it. With `CI` set, a missing snapshot fails
instead of being written; `STACKS_CLOUD_UPDATE_SNAPSHOTS=1` rewrites snapshots after an intended change.
"""

from __future__ import annotations

import difflib
import json
import os
import shutil
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import Any

from stacks_cloud.cdk import App, TerraformStack, Testing
from stacks_cloud.config import CloudConfig
from stacks_cloud.stacks.app import CloudApp, regional_stack_name, routed_domain
from stacks_cloud.stacks.regional import RegionalStackProps

Synth = dict[str, Any]

UPDATE_SNAPSHOTS_ENV = "STACKS_CLOUD_UPDATE_SNAPSHOTS"
"""Set to 1 to rewrite snapshots (after an intended change; review the diff before committing)."""
_MAX_DIFF_LINES = 200


def temporary_app() -> App:
    """cdktf's `Testing.app()` whose output folder is removed when the app is garbage-collected (or the
    process ends). `Testing.app()` alone makes a `cdktf.outdir.*` folder in the temporary directory
    for every app and never removes it: a test suite leaves hundreds behind.

        stack = TerraformStack(temporary_app(), "test")
    """
    outdir = tempfile.mkdtemp(prefix="stacks-cloud-test-")
    try:
        app = Testing.app(outdir=outdir)
    except BaseException:
        shutil.rmtree(outdir, ignore_errors=True)  # no app to tie the folder to
        raise
    weakref.finalize(app, shutil.rmtree, outdir, True)
    return app


def synth(stack: TerraformStack) -> Synth:
    """Synthesize one stack to its Terraform JSON (as a dict) without writing files."""
    result: Synth = json.loads(Testing.synth(stack))
    return result


def synth_stack(
    app: CloudApp, config: CloudConfig, *, region: str | None = None, project_dir: Path | None = None
) -> Synth:
    """Synthesize the project's regional stack for `region` (default: the primary) without writing files.

    The stack is built as `build_app` builds it (same id, props and routed domain), without its
    state backend, which depends on where the project lives.
    """
    if app.stack is None:
        raise ValueError("the app declares no stack (CloudApp(..., stack=YourStack))")
    region = region or config.regions[0]
    props = RegionalStackProps(
        config=config, region=region, project_dir=(project_dir or Path.cwd()).resolve(), domain=routed_domain(config)
    )
    with tempfile.TemporaryDirectory(prefix="stacks-cloud-test-") as outdir:
        return synth(app.stack(Testing.app(outdir=outdir), regional_stack_name(config, region), props))


def synth_file(outdir: Path, stack_name: str) -> Synth:
    """Read a stack synthesized by `App.synth()` / `cdktf synth` from `<outdir>/stacks/<name>`."""
    result: Synth = json.loads((outdir / "stacks" / stack_name / "cdk.tf.json").read_text())
    return result


def resources_of(synthesized: Synth, resource_type: str) -> dict[str, dict[str, Any]]:
    """All resources of a type, by logical id (`{}` when there are none)."""
    found: dict[str, dict[str, Any]] = synthesized.get("resource", {}).get(resource_type, {})
    return found


def data_sources_of(synthesized: Synth, data_type: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = synthesized.get("data", {}).get(data_type, {})
    return found


def count_resources(synthesized: Synth, resource_type: str) -> int:
    return len(resources_of(synthesized, resource_type))


def _matches(actual: Any, expected: Any) -> bool:
    """Deep subset match: dicts match when every expected key matches; lists and scalars must be equal."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and _matches(actual[key], value) for key, value in expected.items()
        )
    return bool(actual == expected)


def find_resources(synthesized: Synth, resource_type: str, **properties: Any) -> list[dict[str, Any]]:
    """Resources of `resource_type` whose configuration contains `properties` (deep subset match)."""
    return [config for config in resources_of(synthesized, resource_type).values() if _matches(config, properties)]


def assert_resource(synthesized: Synth, resource_type: str, **properties: Any) -> dict[str, Any]:
    """Assert exactly one resource of the type has these properties; return its configuration."""
    matches = find_resources(synthesized, resource_type, **properties)
    if len(matches) == 1:
        return matches[0]
    candidates = {
        logical_id: {key: config.get(key) for key in properties}
        for logical_id, config in resources_of(synthesized, resource_type).items()
    }
    raise AssertionError(
        f"expected exactly one {resource_type} with {properties!r}, found {len(matches)}."
        f" Candidates (the asserted keys only): {json.dumps(candidates, indent=2, default=str)}"
    )


def output_of(synthesized: Synth, name: str) -> dict[str, Any]:
    outputs: dict[str, dict[str, Any]] = synthesized.get("output", {})
    if name not in outputs:
        raise AssertionError(f"no output {name!r}; outputs are {sorted(outputs)}")
    return outputs[name]


def snapshot_json(synthesized: Synth) -> str:
    """A stable text form of a synthesized stack for snapshot tests (sorted keys, 2-space indent)."""
    return json.dumps(synthesized, indent=2, sort_keys=True) + "\n"


def assert_matches_snapshot(synthesized: Synth, path: str | Path) -> None:
    """Assert `synthesized` equals the snapshot file at `path` (see the module docstring for the rules)."""
    snapshot = Path(path)
    text = snapshot_json(synthesized)
    missing = not snapshot.is_file()
    if os.environ.get(UPDATE_SNAPSHOTS_ENV) or (missing and not os.environ.get("CI")):
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(text)
        if missing:
            warnings.warn(f"new snapshot written to {snapshot}: review it and commit it", stacklevel=2)
        return
    if missing:
        raise AssertionError(
            f"no snapshot at {snapshot}: run the tests once outside CI (or with {UPDATE_SNAPSHOTS_ENV}=1)"
            " to write it, review it and commit it."
        )
    expected = snapshot.read_text()
    if expected == text:
        return
    diff = list(
        difflib.unified_diff(
            expected.splitlines(), text.splitlines(), fromfile=str(snapshot), tofile="synthesized", lineterm=""
        )
    )
    shown = "\n".join(diff[:_MAX_DIFF_LINES]) + (
        f"\n... {len(diff) - _MAX_DIFF_LINES} more lines" if len(diff) > _MAX_DIFF_LINES else ""
    )
    raise AssertionError(
        f"the synthesized stack differs from the snapshot {snapshot}:\n{shown}\n"
        f"If the change is intended, run the tests with {UPDATE_SNAPSHOTS_ENV}=1, review the diff and commit it."
    )
