"""Per-stack singletons the constructs share: the partition, region and account data sources."""

from __future__ import annotations

import weakref
from typing import TypeVar

from stacks_cloud.cdk import Construct, TerraformStack
from stacks_cloud.cdk.aws import data_aws_caller_identity, data_aws_partition, data_aws_region

SingletonT = TypeVar("SingletonT", bound=Construct)


_SHARED: weakref.WeakKeyDictionary[TerraformStack, dict[str, Construct]] = weakref.WeakKeyDictionary()
"""The singletons made so far, per stack object: found again without asking the Node side."""


def _per_stack(scope: Construct, construct_id: str, kind: type[SingletonT]) -> SingletonT:
    """The stack's one `kind` data source with id `construct_id`, created on first use and shared."""
    stack = TerraformStack.of(scope)
    known = _SHARED.setdefault(stack, {})
    cached = known.get(construct_id)
    if isinstance(cached, kind):
        return cached
    existing = stack.node.try_find_child(construct_id)
    made = existing if isinstance(existing, kind) else kind(stack, construct_id)
    known[construct_id] = made
    return made


def stack_partition(scope: Construct) -> data_aws_partition.DataAwsPartition:
    """The stack's `aws_partition` data source, shared by its functions (aws, aws-cn, aws-us-gov)."""
    return _per_stack(scope, "AwsPartition", data_aws_partition.DataAwsPartition)


def stack_region(scope: Construct) -> data_aws_region.DataAwsRegion:
    """The stack's `aws_region` data source: the region of its provider."""
    return _per_stack(scope, "AwsRegion", data_aws_region.DataAwsRegion)


def stack_account(scope: Construct) -> data_aws_caller_identity.DataAwsCallerIdentity:
    """The stack's `aws_caller_identity` data source: the account it deploys to."""
    return _per_stack(scope, "AwsAccount", data_aws_caller_identity.DataAwsCallerIdentity)
