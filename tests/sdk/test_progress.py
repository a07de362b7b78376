"""What a user watches: CI lines from terraform's events (stack named once, warnings once, no error echo),
the live table on a terminal, the summary table. Events are terraform's `-json` events as 1.11 writes them."""

from __future__ import annotations

import io
import re
from typing import cast

from stacks_cloud.deploy.progress import Progress
from stacks_cloud.terraform.events import Event

US, EU = "shop-development-us-east-1", "shop-development-eu-west-1"


def hook(kind: str, address: str, action: str, **extra: object) -> Event:
    kind_name = address.split(".")[0]
    return cast(
        Event,
        {
            "type": kind,
            "@message": f"{address}: ...",
            "hook": {"resource": {"addr": address, "resource_type": kind_name}, "action": action, **extra},
        },
    )


def summary(operation: str, add: int, change: int = 0, remove: int = 0) -> Event:
    return {
        "type": "change_summary",
        "changes": {"operation": operation, "add": add, "change": change, "remove": remove},
    }


def warning(summary_text: str) -> Event:
    detail = "The attribute is deprecated.\n\nUse the new one instead."
    return {"type": "diagnostic", "diagnostic": {"severity": "warning", "summary": summary_text, "detail": detail}}


def two_resource_change(progress: Progress, stack: str) -> None:
    progress.event(stack, {"type": "phase", "phase": "init", "message": None})
    progress.event(stack, {"type": "phase", "phase": "refresh", "message": "refresh and plan"})
    for _ in range(40):  # a stack of 40 resources refreshes each one: no line for those
        progress.event(stack, {"type": "refresh_start", "hook": {"resource": {"addr": "aws_iam_role.R_1A2B3C4D"}}})
    progress.event(stack, hook("apply_start", "data.aws_caller_identity.Me", "read"))
    progress.event(stack, hook("apply_complete", "data.aws_caller_identity.Me", "read"))
    progress.event(stack, {"type": "planned_change", "change": {}})
    progress.event(stack, warning("Deprecated attribute"))
    progress.event(stack, summary("plan", 1, 1))
    progress.event(stack, hook("apply_start", "aws_sqs_queue.Jobs_Queue_1A2B3C4D", "create"))
    progress.event(stack, hook("apply_progress", "aws_sqs_queue.Jobs_Queue_1A2B3C4D", "create", elapsed_seconds=10))
    progress.event(stack, hook("apply_complete", "aws_sqs_queue.Jobs_Queue_1A2B3C4D", "create", elapsed_seconds=25))
    progress.event(stack, hook("apply_start", "aws_lambda_function.Api_Function_FF61B543", "update"))
    progress.event(
        stack, hook("apply_complete", "aws_lambda_function.Api_Function_FF61B543", "update", elapsed_seconds=3)
    )
    progress.event(stack, summary("apply", 1, 1))
    progress.event(stack, {"type": "stack_done", "result": "deployed", "url": "https://x.example/prod"})


def test_ci_lines_for_a_two_resource_change() -> None:
    stream = io.StringIO()
    progress = Progress(stream, ci=True)
    two_resource_change(progress, US)
    lines = stream.getvalue().splitlines()
    assert [re.sub(r"in \d+s$", "in Ns", line) for line in lines] == [
        f"[{US}] init",
        f"[{US}] refresh and plan",
        f"[{US}] warning: Deprecated attribute: The attribute is deprecated.",
        f"[{US}] plan: 1 to add, 1 to change, 0 to destroy",
        f"[{US}] aws_sqs_queue.Jobs_Queue: creating",
        f"[{US}] aws_sqs_queue.Jobs_Queue: created (1/2, 25s)",
        f"[{US}] aws_lambda_function.Api_Function: updating",
        f"[{US}] aws_lambda_function.Api_Function: updated (2/2, 3s)",
        f"[{US}] deployed: +1 ~1 -0 in Ns",
    ]


def test_warnings_are_shown_once_per_run_and_errors_not_echoed() -> None:
    stream = io.StringIO()
    progress = Progress(stream, ci=True)
    two_resource_change(progress, US)
    two_resource_change(progress, EU)
    error: Event = {
        "type": "diagnostic",
        "diagnostic": {"severity": "error", "summary": "Error acquiring the state lock"},
    }
    progress.event(EU, error)
    progress.event(EU, error)
    text = stream.getvalue()
    assert text.count("warning: Deprecated attribute") == 1
    assert "state lock" not in text  # the command's failure message says it, once


def test_other_lines_are_prefixed_and_masked() -> None:
    stream = io.StringIO()
    progress = Progress(stream, ci=True)
    progress("policy", "policy gate passed: 3 checks")
    progress("hook", "password=hunter2 in a log line")
    progress("hook", "")
    assert stream.getvalue().splitlines() == [
        "[policy] policy gate passed: 3 checks",
        "[hook] password=********** in a log line",
    ]


def test_the_live_table_and_the_summary() -> None:
    stream = io.StringIO()
    with Progress(stream, live=True) as progress:
        progress.event(US, {"type": "phase", "phase": "init", "message": None})
        progress.event(EU, {"type": "phase", "phase": "init", "message": None})
        progress.event(US, summary("plan", 2))
        progress.event(US, hook("apply_start", "aws_sqs_queue.Jobs_Queue_1A2B3C4D", "create"))
        screen = stream.getvalue()
        progress.event(US, hook("apply_complete", "aws_sqs_queue.Jobs_Queue_1A2B3C4D", "create"))
        progress.event(US, hook("apply_complete", "aws_sqs_queue.Jobs_DeadLetters_5E6F7A8B", "create"))
        progress.event(US, {"type": "stack_done", "result": "deployed", "url": "https://x.example/prod"})
        progress.event(EU, summary("plan", 0, 1))
        progress.event(EU, {"type": "stack_done", "result": "failed", "url": None})
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    assert re.search(r"stack\s+phase\s+resources\s+elapsed\s+now", plain), plain  # the head, in 80 columns
    assert "shop-development" in plain  # the shared prefix, once, as the title
    assert re.search(r"\nus-east-1\s+apply\s+0/2\s+\d+s\s+creating aws_sqs_queue.Jobs_Queue", plain), plain
    assert re.search(r"\neu-west-1\s+init\s", plain), plain
    table = io.StringIO()
    Progress(table, live=False).console.print(progress.summary())
    rows = table.getvalue().splitlines()
    assert rows[1].split() == ["stack", "region", "result", "changes", "duration", "url"]
    # a complete apply: its changes (as planned), the URL
    assert rows[2].split() == [
        US,
        "us-east-1",
        "deployed",
        "+2",
        "~0",
        "-0",
        rows[2].split()[6],
        "https://x.example/prod",
    ]
    # a failed apply: what it changed, of what was planned (never the plan alone, as if made)
    assert rows[3].split()[:9] == [EU, "eu-west-1", "failed", "+0", "~0", "-0", "of", "+0", "~1"]
    assert progress.as_dict()[US]["applied"] == {"add": 2, "change": 0, "destroy": 0}
    assert progress.as_dict()[US]["planned"] == {"add": 2, "change": 0, "destroy": 0}


def test_a_warning_names_its_resource_and_says_what_it_is() -> None:
    stream = io.StringIO()
    progress = Progress(stream, ci=True)
    destruction: Event = {
        "type": "diagnostic",
        "diagnostic": {
            "severity": "warning",
            "summary": "Resource Destruction",
            "detail": "Terraform is about to destroy aws_s3_bucket.AssetsBucket_Bucket_1A2B3C4D.\nIt holds data.",
            "address": "aws_s3_bucket.AssetsBucket_Bucket_1A2B3C4D",
        },
    }
    progress.event(US, destruction)
    assert stream.getvalue().splitlines() == [
        f"[{US}] warning: Resource Destruction (aws_s3_bucket.AssetsBucket_Bucket): Terraform is about to destroy"
        " aws_s3_bucket.AssetsBucket_Bucket_1A2B3C4D."
    ]


def test_a_summary_too_wide_for_the_terminal_is_printed_whole_one_stack_a_line() -> None:
    """A 120-column terminal cannot hold the table with three long stack names and URLs: nothing is cut."""
    url = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod"
    stacks = ("my-infra-development-us-east-1", "my-infra-development-eu-west-1", "my-infra-development-global")
    screens = {}
    for width in (120, 220):
        buffer = io.StringIO()
        progress = Progress(buffer, live=True)
        progress.console.width = width
        for stack in stacks:
            progress.event(stack, {"type": "phase", "phase": "apply"})
            progress.event(stack, {"type": "change_summary", "changes": {"operation": "plan", "add": 32}})
            progress.event(stack, {"type": "stack_done", "result": "deployed", "url": url})
        progress.print_summary()
        screens[width] = re.sub(r"\x1b\[[0-9;]*m", "", buffer.getvalue())
    narrow, wide = screens[120], screens[220]
    assert "…" not in narrow
    for stack in stacks:
        assert stack in narrow
        assert stack in wide
    assert narrow.count(url) == wide.count(url) == 3
    assert "my-infra-development-us-east-1 (us-east-1): deployed, +0 ~0 -0 of +32 ~0 -0, 0s\n  " + url in narrow
    assert re.search(r"stack\s+region\s+result\s+changes\s+duration\s+url", wide)
    assert all(len(line) <= 120 for line in narrow.splitlines())
