"""State backends: where each stack keeps its Terraform state, and the ledger and locks that go with it.

`backend_for(config)` gives the backend `state.backend` names (see `state.base` for what a backend
provides). The built-in ones are registered below; a project registers its own the same way:

    from stacks_cloud.state import register_backend
    register_backend(MyBackend())
"""

from stacks_cloud.state.base import (
    BootstrapOutcome,
    StateBackend,
    backend_for,
    register_backend,
    registered_backends,
)
from stacks_cloud.state.cloud import CloudStateBackend
from stacks_cloud.state.ledger import DEFAULT_KEEP_ARCHIVES, Ledger, LockHolder, current_operator, pid_alive
from stacks_cloud.state.local import LocalStateBackend
from stacks_cloud.state.s3 import BootstrapReport, S3Ledger, S3StateBackend, bootstrap_state
from stacks_cloud.state.sqlite_ledger import SCHEMA_VERSION, SqliteLedger

register_backend(LocalStateBackend())
register_backend(S3StateBackend())
register_backend(CloudStateBackend())

__all__ = [
    "DEFAULT_KEEP_ARCHIVES",
    "SCHEMA_VERSION",
    "BootstrapOutcome",
    "BootstrapReport",
    "Ledger",
    "LockHolder",
    "S3Ledger",
    "SqliteLedger",
    "StateBackend",
    "backend_for",
    "bootstrap_state",
    "current_operator",
    "pid_alive",
    "register_backend",
    "registered_backends",
]
