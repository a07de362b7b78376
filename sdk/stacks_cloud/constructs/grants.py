"""Least-privilege grants: inline IAM policies scoped to a resource's ARNs, attached to a grantee's role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from stacks_cloud.cdk import Construct, Fn
from stacks_cloud.cdk.aws import iam_role, iam_role_policy
from stacks_cloud.constructs._stack import node_addr, node_id, read_once


@runtime_checkable
class Grantable(Protocol):
    """Anything that acts through an IAM role (a `Function`, a `CustomApi`...)."""

    @property
    def grant_role(self) -> iam_role.IamRole: ...


def grant(
    resource: Construct,
    label: str,
    grantee: Grantable,
    *,
    actions: Sequence[str],
    resources: Sequence[str],
) -> iam_role_policy.IamRolePolicy:
    """Attach an inline policy allowing `actions` on exactly `resources` to the grantee's role.

    The policy is a child of `resource` (id `Grant<label><grantee address>`, stable while both
    paths are) and is named `<resource id>-<label>` on the role. Never uses "*" for resources:
    callers pass the ARNs (and ARN patterns such as `arn/*`) of the resource they own.
    """
    if not resources or any(item == "*" for item in resources):
        raise ValueError(f"{resource.node.path}: a grant needs explicit resource ARNs, not {list(resources)!r}")
    role = grantee.grant_role
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": sorted(actions), "Resource": list(resources)}],
    }
    return iam_role_policy.IamRolePolicy(
        resource,
        f"Grant{label}{node_addr(role)[:8]}",
        name=f"{node_id(resource)}-{label}",
        role=read_once(role, "terraform id", lambda: role.id),
        policy=Fn.jsonencode(document),
    )
