"""Terraform's `-json` events become messages and typed errors: a held lock, resources created but not in state."""

from __future__ import annotations

import json
from pathlib import Path

from stacks_cloud.core.errors import CloudProviderError, InfrastructureError
from stacks_cloud.terraform.events import Events
from stacks_cloud.terraform.local import StackDir
from stacks_cloud.terraform.process import ProcessResult


def diagnostic(summary: str, detail: str = "", address: str | None = None) -> str:
    body: dict[str, object] = {"severity": "error", "summary": summary, "detail": detail}
    if address:
        body["address"] = address
    return json.dumps({"@level": "error", "@message": f"Error: {summary}", "type": "diagnostic", "diagnostic": body})


def failed(lines: list[str], code: int = 1) -> tuple[ProcessResult, Events]:
    events = Events()
    for line in lines:
        events.feed(line)
    return ProcessResult(code, "\n".join(lines[-5:]), "\n".join(lines)), events


def test_messages_and_progress_are_read_from_the_event_stream() -> None:
    events = Events()
    start = {
        "@message": "aws_sqs_queue.q: Creating...",
        "type": "apply_start",
        "hook": {"resource": {"addr": "aws_sqs_queue.q"}},
    }
    done = {
        "@message": "aws_sqs_queue.q: Creation complete after 25s",
        "type": "apply_complete",
        "hook": {"resource": {"addr": "aws_sqs_queue.q"}},
    }
    assert events.feed(json.dumps(start)) == ("aws_sqs_queue.q: Creating...", start)
    assert events.feed(json.dumps(done)) == ("aws_sqs_queue.q: Creation complete after 25s", done)
    assert events.feed("plain text from terraform before -json applies") == (
        "plain text from terraform before -json applies",
        None,
    )
    assert (events.started, events.changed) == (["aws_sqs_queue.q"], ["aws_sqs_queue.q"])


def test_a_held_state_lock_names_the_stack_and_how_to_unlock(tmp_path: Path) -> None:
    stack = StackDir("shop-dev-us-east-1", tmp_path, {})
    result, events = failed([diagnostic("Error acquiring the state lock", "Lock Info:\n  ID: 1234\n  Who: ci@runner")])
    error = stack.failure("apply", result, events)
    assert isinstance(error, InfrastructureError)
    assert "state lock is held by another run" in str(error)
    assert "cloud unlock --stack shop-dev-us-east-1" in str(error)
    assert "ID: 1234" in str(error)


def test_resources_that_exist_but_are_not_in_state_come_with_import_commands(tmp_path: Path) -> None:
    (tmp_path / "cdk.tf.json").write_text(
        json.dumps({"resource": {"aws_iam_role": {"Api_Role_1A2B": {"name": "shop-api-us-east-1"}}}})
    )
    stack = StackDir("shop-dev-us-east-1", tmp_path, {})
    result, events = failed(
        [
            diagnostic(
                "creating IAM Role (shop-api-us-east-1): operation error IAM: CreateRole",
                "EntityAlreadyExists: Role with name shop-api-us-east-1 already exists.",
                address="aws_iam_role.Api_Role_1A2B",
            ),
            diagnostic(
                "creating Lambda Function (shop-api): ResourceConflictException", address="aws_lambda_function.X"
            ),
        ]
    )
    error = stack.failure("apply", result, events)
    assert isinstance(error, InfrastructureError)
    text = str(error)
    assert "2 resource(s) exist in the cloud but not in this stack's state" in text
    assert f"cd {tmp_path} && terraform import 'aws_iam_role.Api_Role_1A2B' 'shop-api-us-east-1'" in text
    assert "terraform import 'aws_lambda_function.X' '<ID>'" in text  # not in the config: the user fills it in


def test_other_failures_keep_terraforms_errors_and_secrets_stay_masked(tmp_path: Path) -> None:
    stack = StackDir("s", tmp_path, {})
    result, events = failed([diagnostic("Invalid value", "password=hunter2 was rejected")])
    error = stack.failure("apply", result, events)
    assert isinstance(error, InfrastructureError)
    assert "Invalid value" in str(error)
    assert "hunter2" not in str(error)
    timed_out = stack.failure("apply", ProcessResult(None, "", ""), Events())
    assert isinstance(timed_out, CloudProviderError)
    assert "timed out" in str(timed_out)


def test_a_failure_names_its_cause_once_with_the_next_step(tmp_path: Path) -> None:
    stack = StackDir("shop-dev-us-east-1", tmp_path, {})
    (tmp_path / "errored.tfstate").write_text("{}")  # what terraform writes when it cannot save the state
    lock_block = diagnostic("Failed to save state", "Error saving state: bucket unreachable")
    result, events = failed([lock_block, lock_block, diagnostic("Other", "second cause")])
    text = str(stack.failure("apply", result, events))
    assert text.count("Failed to save state") == 1  # terraform repeated it; the user reads it once
    assert text.startswith("shop-dev-us-east-1: apply failed: Failed to save state")
    assert "(and 1 more error(s), below)" in text
    assert f"next: terraform could not save the stack's state and wrote it to {tmp_path / 'errored.tfstate'}" in text
    assert "terraform state push errored.tfstate" in text


def test_a_missing_state_bucket_points_to_bootstrap(tmp_path: Path) -> None:
    stack = StackDir("shop-dev-us-east-1", tmp_path, {})
    output = (
        "Initializing the backend...\n"
        'Error: Failed to get existing workspaces: S3 bucket "shop-state" does not exist.\n'
        "The referenced S3 bucket must have been previously created."
    )
    text = str(stack.failure("init", ProcessResult(1, output, output), Events()))
    assert "next: the state bucket does not exist: `cloud bootstrap` creates it" in text


def test_missing_credentials_are_the_providers_failure_not_the_infrastructures(tmp_path: Path) -> None:
    """The guide's error handling tells `CloudProviderError` (the tool or its access) from `InfrastructureError`
    (what was being changed): no credentials is the former, with what to set."""
    stack = StackDir("shop-dev-us-east-1", tmp_path, {})
    result, events = failed(
        [
            diagnostic(
                "No valid credential sources found",
                "Please see https://registry.terraform.io/providers/hashicorp/aws for more information about"
                " providing credentials.\n\nError: failed to refresh cached credentials, no EC2 IMDS role found",
            )
        ]
    )
    error = stack.failure("apply", result, events)
    assert isinstance(error, CloudProviderError)
    assert not isinstance(error, InfrastructureError)
    assert "found no usable cloud credentials (No valid credential sources found)" in str(error)
    assert "AWS_ACCESS_KEY_ID" in str(error)
