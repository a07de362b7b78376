"""Per-stack singletons the constructs share (the partition, region and account data sources), and
memoized reads of values that never change once a construct exists.

Every read from a jsii object is a message to the Node side and back; a synth of many regions builds
thousands of constructs, so the values the constructs read over and over (a scope's stack, a
construct's id and address, the data sources' attributes) are read once and kept here, on the
Python objects themselves (weak references: nothing outlives its app).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TypeVar

from stacks_cloud.cdk import Construct, TerraformStack
from stacks_cloud.cdk.aws import data_aws_caller_identity, data_aws_partition, data_aws_region

SingletonT = TypeVar("SingletonT", bound=Construct)
T = TypeVar("T")

_READS: weakref.WeakKeyDictionary[Construct, dict[str, object]] = weakref.WeakKeyDictionary()
"""Values read so far, per construct object: found again without asking the Node side."""


def read_once(construct: Construct, key: str, read: Callable[[], T]) -> T:
    """`read()` the first time `key` is asked of `construct`; the same value ever after."""
    known = _READS.setdefault(construct, {})
    if key not in known:
        known[key] = read()
    value: T = known[key]  # type: ignore[assignment]  # stored by this function under this key
    return value


def remember(construct: Construct, scope: Construct, construct_id: str) -> None:
    """Record what an SDK construct was made with (its scope and id), so neither is asked of the Node side."""
    known = _READS.setdefault(construct, {})
    known["id"] = construct_id
    known["scope"] = scope


def stack_of(scope: Construct) -> TerraformStack:
    """`TerraformStack.of(scope)`, read once per scope (found through the remembered scopes when it can be)."""

    def find() -> TerraformStack:
        parent = _READS.get(scope, {}).get("scope")
        return stack_of(parent) if isinstance(parent, Construct) else TerraformStack.of(scope)

    return read_once(scope, "stack", find)


def node_id(construct: Construct) -> str:
    """`construct.node.id`, read once."""
    return read_once(construct, "id", lambda: construct.node.id)


def node_addr(construct: Construct) -> str:
    """`construct.node.addr` (a stable hash of its path), read once."""
    return read_once(construct, "addr", lambda: construct.node.addr)


def _per_stack(scope: Construct, construct_id: str, kind: type[SingletonT]) -> SingletonT:
    """The stack's one `kind` data source with id `construct_id`, created on first use and shared."""
    stack = stack_of(scope)

    def find_or_make() -> SingletonT:
        existing = stack.node.try_find_child(construct_id)
        return existing if isinstance(existing, kind) else kind(stack, construct_id)

    return read_once(stack, f"singleton:{construct_id}", find_or_make)


def stack_partition(scope: Construct) -> data_aws_partition.DataAwsPartition:
    """The stack's `aws_partition` data source, shared by its functions (aws, aws-cn, aws-us-gov)."""
    return _per_stack(scope, "AwsPartition", data_aws_partition.DataAwsPartition)


def stack_region(scope: Construct) -> data_aws_region.DataAwsRegion:
    """The stack's `aws_region` data source: the region of its provider."""
    return _per_stack(scope, "AwsRegion", data_aws_region.DataAwsRegion)


def stack_account(scope: Construct) -> data_aws_caller_identity.DataAwsCallerIdentity:
    """The stack's `aws_caller_identity` data source: the account it deploys to."""
    return _per_stack(scope, "AwsAccount", data_aws_caller_identity.DataAwsCallerIdentity)


def partition_of(scope: Construct) -> str:
    """The stack's partition (`aws`, `aws-cn`, ...), a deploy-time value read from `aws_partition`."""
    source = stack_partition(scope)
    return read_once(source, "partition", lambda: str(source.partition))


def region_of(scope: Construct) -> str:
    """The stack's region, a deploy-time value read from `aws_region`."""
    source = stack_region(scope)
    return read_once(source, "name", lambda: str(source.name))


def account_of(scope: Construct) -> str:
    """The account the stack deploys to, a deploy-time value read from `aws_caller_identity`."""
    source = stack_account(scope)
    return read_once(source, "account", lambda: str(source.account_id))
