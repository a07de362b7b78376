"""The deployment ledger: where history and the environment lock live, by state backend.

| backend | history (records, stack runs, archives) and the environment lock |
|---|---|
| `local` | `<state dir>/ledger.sqlite` in the project (`SqliteLedger`) |
| `s3` | the state bucket, under `{app}/{env}/_stacks-cloud/` (`S3Ledger`) |
| `cloud` | `<state dir>/ledger.sqlite` on the deploying machine (Terraform Cloud keeps each stack's state, |
|         | runs and workspace locks) |
"""

from __future__ import annotations

from pathlib import Path

from stacks_cloud.config import CloudConfig
from stacks_cloud.deploy.ledger.base import DEFAULT_KEEP_ARCHIVES, Ledger, LockHolder, current_operator, pid_alive
from stacks_cloud.deploy.ledger.s3 import S3Ledger
from stacks_cloud.deploy.ledger.sqlite import SCHEMA_VERSION, SqliteLedger

__all__ = [
    "DEFAULT_KEEP_ARCHIVES",
    "SCHEMA_VERSION",
    "Ledger",
    "LockHolder",
    "S3Ledger",
    "SqliteLedger",
    "current_operator",
    "open_ledger",
    "pid_alive",
]


def open_ledger(config: CloudConfig, project_dir: Path) -> Ledger:
    """The ledger of `config`'s environment: beside the state for `s3`, in the project's state folder otherwise."""
    if config.state.backend == "s3" and config.state.s3 is not None:
        return S3Ledger(config.state.s3, app=config.app_name, environment=config.environment)
    return SqliteLedger.for_project(project_dir, config.state.local_dir)
