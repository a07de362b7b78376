"""Names that must be unique across regions: checked over every synthesized stack, as any other bad input.

An S3 bucket's name is global to the partition and an IAM role's, policy's, user's or group's to the
account: a multi-region app whose regional stack sets the same name in every region synthesizes fine and
fails at deploy, in the second region, with "already exists". The synthesized stacks are read back here
(`cdk.tf.json`: the values, after the constructs' defaults) and a name set in two stacks is refused,
naming the construct paths.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from stacks_cloud.core.errors import ConfigError, Problem

GLOBAL_NAMES = {
    "aws_s3_bucket": ("bucket", "S3 bucket names are global to the partition"),
    "aws_iam_role": ("name", "IAM role names are global to the account"),
    "aws_iam_policy": ("name", "IAM policy names are global to the account"),
    "aws_iam_user": ("name", "IAM user names are global to the account"),
    "aws_iam_group": ("name", "IAM group names are global to the account"),
    "aws_iam_instance_profile": ("name", "IAM instance profile names are global to the account"),
}
"""Resource type -> (its name attribute, why it must be unique across regions)."""


def global_name_problems(outdir: Path) -> list[Problem]:
    """A problem for each global name that more than one synthesized stack sets (literal names only)."""
    users: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for document in sorted((outdir / "stacks").glob("*/cdk.tf.json")):
        stack = document.parent.name
        resources = json.loads(document.read_text()).get("resource") or {}
        for kind, (attribute, _) in GLOBAL_NAMES.items():
            for name, body in (resources.get(kind) or {}).items():
                value = body.get(attribute)
                if isinstance(value, str) and "${" not in value:
                    path = ((body.get("//") or {}).get("metadata") or {}).get("path") or f"{stack}/{name}"
                    users[(kind, value)].append((stack, path))
    problems = []
    for (kind, value), where in sorted(users.items()):
        if len({stack for stack, _ in where}) < 2:
            continue
        attribute, why = GLOBAL_NAMES[kind]
        problems.append(
            Problem(
                f"{kind}.{attribute}",
                value,
                f"is set in {len(where)} stacks ({', '.join(path for _, path in where)}): {why}, so every region"
                " after the first would fail to create it ('already exists').",
                "derive the name from the stack's region (a RegionalStack has `self.props.region`: e.g."
                f' f"{value}-{{self.props.region}}"), or leave the name out and let Terraform generate one.',
            )
        )
    return problems


def check_global_names(outdir: Path) -> None:
    """Raise `ConfigError` listing every global name set in more than one stack of `outdir`."""
    ConfigError.raise_if_any("names that must be unique across regions", global_name_problems(outdir))
