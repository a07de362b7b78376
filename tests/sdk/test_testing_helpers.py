"""The user-facing testing helpers fail loudly when a stack does not match."""

from __future__ import annotations

import weakref
from pathlib import Path

import pytest

import stacks_cloud.cdk as cdk
from stacks_cloud.cdk.aws import provider, sqs_queue
from stacks_cloud.testing import (
    Synth,
    assert_resource,
    count_resources,
    find_resources,
    output_of,
    snapshot_json,
    synth,
    temporary_app,
)


@pytest.fixture
def queues() -> Synth:
    stack = cdk.TerraformStack(temporary_app(), "helpers")
    provider.AwsProvider(stack, "aws", region="us-east-1")
    sqs_queue.SqsQueue(stack, "A", name="a", visibility_timeout_seconds=30)
    sqs_queue.SqsQueue(stack, "B", name="b", visibility_timeout_seconds=30, tags={"team": "x"})
    cdk.TerraformOutput(stack, "Out", value="v")
    return synth(stack)


def test_counts_and_finds(queues: Synth) -> None:
    assert count_resources(queues, "aws_sqs_queue") == 2
    assert count_resources(queues, "aws_s3_bucket") == 0
    assert len(find_resources(queues, "aws_sqs_queue", visibility_timeout_seconds=30)) == 2
    assert assert_resource(queues, "aws_sqs_queue", tags={"team": "x"})["name"] == "b"
    assert output_of(queues, "Out")["value"] == "v"


def test_assert_resource_rejects_no_match_and_ambiguity(queues: Synth) -> None:
    with pytest.raises(AssertionError, match="found 0"):
        assert_resource(queues, "aws_sqs_queue", name="c")
    with pytest.raises(AssertionError, match="found 2"):
        assert_resource(queues, "aws_sqs_queue", visibility_timeout_seconds=30)
    with pytest.raises(AssertionError, match="no output"):
        output_of(queues, "Missing")


def test_snapshot_text_is_stable(queues: Synth) -> None:
    text = snapshot_json(queues)
    assert text == snapshot_json(dict(reversed(list(queues.items()))))
    assert text.endswith("}\n")


def test_temporary_app_removes_its_output_folder() -> None:
    """cdktf's Testing.app() leaves a folder in the temporary directory per app; ours goes with the app."""
    app = temporary_app()
    outdir = Path(app.outdir)
    stack = cdk.TerraformStack(app, "scratch")
    provider.AwsProvider(stack, "aws", region="us-east-1")
    sqs_queue.SqsQueue(stack, "Q", name="q")
    app.synth()
    assert (outdir / "stacks" / "scratch" / "cdk.tf.json").is_file()
    finalizers = [f for f in weakref.finalize._registry if f.peek() and f.peek()[0] is app]  # type: ignore[attr-defined]
    assert len(finalizers) == 1
    finalizers[0]()  # what garbage collection or the end of the process runs
    assert not outdir.exists()
