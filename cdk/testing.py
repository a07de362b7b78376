"""Testing helpers for users' own tests of stacks (cdktf's Python testing API is thin).

    from cdk.testing import synth, resources_of, assert_resource, count_resources, snapshot_json

    synthesized = synth(stack)                       # the stack's Terraform JSON as a dict
    assert count_resources(synthesized, "aws_sqs_queue") == 1
    assert_resource(synthesized, "aws_sqs_queue", visibility_timeout_seconds=300)
    assert snapshot_json(synthesized) == snapshot    # with syrupy's `snapshot` fixture

Matching is by property values, never by generated logical ids, so renaming an internal id does
not break a behavioural test (a snapshot will show it, which is what snapshots are for).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cdk import TerraformStack, Testing

Synth = dict[str, Any]


def synth(stack: TerraformStack) -> Synth:
    """Synthesize one stack to its Terraform JSON (as a dict) without writing files."""
    result: Synth = json.loads(Testing.synth(stack))
    return result


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
