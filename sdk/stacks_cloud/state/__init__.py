"""Remote state infrastructure: creating the S3 state bucket and lock table before the first deploy."""

from stacks_cloud.state.bootstrap import BootstrapReport, bootstrap_state

__all__ = ["BootstrapReport", "bootstrap_state"]
