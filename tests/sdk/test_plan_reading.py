"""Reading terraform's JSON plan representation (`terraform show -json`, format 1.2): actions, changed
attributes, what forces a replacement, sensitive and unknown values, drift limited to configured attributes.

The real counterpart (terraform planning against moto) is in tests/test_plan_drift_e2e.py; these cover
the cases moto does not easily produce (a replacement, sensitive values, a resource deleted outside)."""

from __future__ import annotations

from typing import Any

from stacks_cloud.core.secrets import register_secret
from stacks_cloud.models import PlanSummary
from stacks_cloud.terraform.plan import (
    SENSITIVE,
    UNKNOWN,
    Action,
    counts,
    has_prior_state,
    read_drift,
    read_plan,
    short_address,
)


def entry(address: str, actions: list[str], before: Any, after: Any, **change: Any) -> dict[str, Any]:
    reason = change.pop("action_reason", None)
    return {
        "address": address,
        "mode": "managed",
        "type": address.split(".")[0],
        "change": {"actions": actions, "before": before, "after": after, **change},
        **({"action_reason": reason} if reason else {}),
    }


PLAN = {
    "format_version": "1.2",
    "resource_changes": [
        entry("aws_sqs_queue.Jobs", ["no-op"], {"name": "jobs"}, {"name": "jobs"}),
        entry("aws_sqs_queue.New", ["create"], None, {"name": "new"}, after_unknown={"arn": True}),
        entry(
            "aws_lambda_function.Api",
            ["update"],
            {"memory_size": 512, "environment": [{"variables": {"MODE": "a", "TOKEN": "x"}}], "tags": {}},
            {"memory_size": 1024, "environment": [{"variables": {"MODE": "b", "TOKEN": "y"}}], "tags": None},
            before_sensitive={"environment": [{"variables": {"TOKEN": True}}]},
            after_sensitive={"environment": [{"variables": {"TOKEN": True}}]},
            after_unknown={"last_modified": True},
        ),
        entry(
            "aws_db_instance.Db",
            ["delete", "create"],
            {"identifier": "db-a", "password": "old", "engine": "mysql"},
            {"identifier": "db-b", "password": "new", "engine": "mysql"},
            replace_paths=[["identifier"]],
            before_sensitive={"password": True},
            after_sensitive={"password": True},
            action_reason="replace_because_cannot_update",
        ),
        entry("aws_s3_bucket.Old", ["delete"], {"bucket": "old"}, None),
        entry("data.aws_caller_identity.Me", ["read"], None, {}),
    ],
    "prior_state": {"values": {"root_module": {"resources": [{"mode": "managed", "address": "aws_sqs_queue.Jobs"}]}}},
}


def test_actions_attributes_replacements_and_masking() -> None:
    changes = {change.address: change for change in read_plan(PLAN)}
    assert "aws_sqs_queue.Jobs" not in changes  # no-ops are not changes
    assert changes["aws_sqs_queue.New"].action is Action.CREATE
    assert changes["aws_sqs_queue.New"].attributes == []
    assert changes["aws_s3_bucket.Old"].action is Action.DELETE
    assert changes["data.aws_caller_identity.Me"].action is Action.READ

    function = changes["aws_lambda_function.Api"]
    assert function.action is Action.UPDATE
    shown = {a.path: (a.before, a.after) for a in function.attributes}
    assert shown["memory_size"] == (512, 1024)
    # the environment's list holds a sensitive value: the list is shown with it masked
    assert shown["environment"][0] == [{"variables": {"MODE": "a", "TOKEN": SENSITIVE}}]
    assert shown["last_modified"] == (None, UNKNOWN)
    assert "tags" not in shown  # {} -> null is no change to a reader

    database = changes["aws_db_instance.Db"]
    assert database.action is Action.REPLACE
    assert database.reason == "replace_because_cannot_update"
    forced = {a.path: a for a in database.attributes}
    assert forced["identifier"].forces_replacement is True
    assert (forced["password"].before, forced["password"].after) == (SENSITIVE, SENSITIVE)
    rendered = "\n".join(database.render())
    assert "-/+ aws_db_instance.Db  replace (forced by: identifier)" in rendered
    assert "old" not in rendered
    assert '"new"' not in rendered

    assert counts(list(changes.values())) == {"add": 2, "change": 1, "destroy": 2}
    assert has_prior_state(PLAN) is True
    data_only = {"prior_state": {"values": {"root_module": {"resources": [{"mode": "data"}]}}}}
    assert has_prior_state(data_only) is False  # the data sources a plan read are not a deployment


def test_registered_secrets_are_masked_in_values() -> None:
    register_secret("s3cr3t-Value-991")
    plan = {
        "resource_changes": [entry("aws_ssm_parameter.P", ["update"], {"value": "a"}, {"value": "s3cr3t-Value-991"})]
    }
    (change,) = read_plan(plan)
    assert "s3cr3t-Value-991" not in "\n".join(change.render())


def test_drift_counts_only_what_the_configuration_sets() -> None:
    document = {
        "resource_drift": [
            entry(
                "aws_sqs_queue.Jobs_Queue_315937AB",
                ["update"],
                {"visibility_timeout_seconds": 45, "arn": "a"},
                {"visibility_timeout_seconds": 300, "arn": "a"},
            ),
            entry(
                "aws_s3_bucket.Assets",
                ["update"],
                {"versioning": [{"enabled": False}]},
                {"versioning": [{"enabled": True}]},
            ),
            entry("aws_iam_role.Gone", ["delete"], {"name": "gone"}, None),
        ],
        "configuration": {
            "root_module": {
                "resources": [
                    {"address": "aws_sqs_queue.Jobs_Queue_315937AB", "expressions": {"visibility_timeout_seconds": {}}},
                    {"address": "aws_s3_bucket.Assets", "expressions": {"bucket": {}}},
                    {"address": "aws_iam_role.Gone", "expressions": {"name": {}}},
                ]
            }
        },
    }
    drifted = {change.address: change for change in read_drift(document)}
    assert sorted(drifted) == ["aws_iam_role.Gone", "aws_sqs_queue.Jobs_Queue_315937AB"]  # versioning: set elsewhere
    (attribute,) = drifted["aws_sqs_queue.Jobs_Queue_315937AB"].attributes
    assert (attribute.path, attribute.before, attribute.after) == ("visibility_timeout_seconds", 45, 300)
    summary = PlanSummary(stack="s", drift=list(drifted.values()))
    text = "\n".join(summary.render(drift=True))
    assert "s: 2 drifted" in text
    assert "aws_iam_role.Gone  deleted outside Terraform" in text
    assert "aws_sqs_queue.Jobs_Queue_315937AB  changed outside Terraform" in text
    assert "visibility_timeout_seconds: 45 -> 300" in text


def test_short_addresses_drop_cdktfs_hash() -> None:
    assert short_address("aws_lambda_function.Api_Function_FF61B543") == "aws_lambda_function.Api_Function"
    assert short_address("aws_iam_role_policy.JobsQueue_GrantSendMessagesc83bc84d") == (
        "aws_iam_role_policy.JobsQueue_GrantSendMessagesc83bc84d"
    )
    assert short_address("aws_s3_bucket.assets") == "aws_s3_bucket.assets"
