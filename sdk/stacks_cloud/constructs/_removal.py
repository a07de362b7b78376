"""`RemovalPolicy`: what `terraform destroy` does to a construct that holds data."""

from __future__ import annotations

from enum import StrEnum


class RemovalPolicy(StrEnum):
    """What `terraform destroy` does to stateful data (the guide's `cdk.RemovalPolicy`)."""

    RETAIN = "retain"
    """Refuse to destroy (`lifecycle.prevent_destroy`); the data outlives the stack (`cloud destroy`
    removes it from the state and leaves it in the account)."""
    DESTROY = "destroy"
    """Destroy, emptying the bucket first (`force_destroy`)."""
