"""The guide's `onError`: log the failure, roll back to the last good deployment, notify the team."""

from __future__ import annotations

from hooks.notify import notify_deployment
from stacks_cloud.hooks import rollback_and_notify

on_error = rollback_and_notify(notify_deployment, name="on_error")
"""`context.rollback()`, then "Failed to deploy <version> to <env>: <error> (rolled back to ...)"."""
