"""`cloud plan --format markdown`: what a pull request comment shows, secrets masked."""

from __future__ import annotations

from stacks_cloud.core.secrets import MASK, register_secret
from stacks_cloud.deploy.cli import build_parser
from stacks_cloud.deploy.plan_markdown import render_markdown
from stacks_cloud.models import PlanSummary
from stacks_cloud.terraform.plan import Action, AttributeChange, ResourceChange


def test_a_plan_as_markdown_has_the_counts_and_each_changed_attribute() -> None:
    register_secret("pr-comment-secret-4711")
    summaries = [
        PlanSummary(
            stack="shop-production-us-east-1",
            change=1,
            add=1,
            resources=[
                ResourceChange(
                    address="aws_lambda_function.Api_Function_1A2B3C4D",
                    type="aws_lambda_function",
                    action=Action.UPDATE,
                    attributes=[
                        AttributeChange(path="memory_size", before=512, after=1024),
                        AttributeChange(path="environment.variables.KEY", before="a|b", after="pr-comment-secret-4711"),
                    ],
                ),
                ResourceChange(address="aws_sqs_queue.Jobs_Queue_5E6F7A8B", type="aws_sqs_queue", action=Action.CREATE),
            ],
            run={"run": "run-1", "url": "https://app.terraform.io/app/acme/shop/runs/run-1"},
        ),
        PlanSummary(stack="shop-production-global"),
        PlanSummary(stack="shop-production-eu-west-1", error="plan failed: state lock held"),
    ]
    text = render_markdown("shop", "production", summaries)
    assert text.startswith("## Plan: shop production\n")
    assert "| `shop-production-us-east-1` | 1 | 1 | 0 |" in text
    assert "| `shop-production-global` | 0 | 0 | 0 |" in text
    assert "| `shop-production-eu-west-1` | error |  |  |" in text
    assert (
        "<details><summary><code>shop-production-us-east-1</code>: 1 to add, 1 to change, 0 to destroy</summary>"
        in text
    )
    assert "| update | `aws_lambda_function.Api_Function` | `memory_size`: 512 → 1024<br>" in text
    assert '"a\\|b"' in text  # a pipe in a value does not break the table
    assert "| create | `aws_sqs_queue.Jobs_Queue` |  |" in text
    assert "Terraform Cloud run: https://app.terraform.io/app/acme/shop/runs/run-1" in text
    assert "**shop-production-eu-west-1**: error: plan failed: state lock held" in text
    assert "pr-comment-secret-4711" not in text
    assert MASK in text


def test_the_cli_takes_the_format() -> None:
    assert build_parser().parse_args(["plan", "--format", "markdown"]).format == "markdown"
    assert build_parser().parse_args(["plan"]).format == "text"
