"""The team's notification channel, shared by the post-deploy and on-error hooks."""

from __future__ import annotations

from stacks_cloud import from_env
from stacks_cloud.hooks import notify_slack

notify_deployment = notify_slack(from_env("SLACK_WEBHOOK_URL"), channel="#deployments")
"""Posts "Deployed 1.4.0 to production" (or "Failed to deploy ...: <error>") to #deployments.
The webhook URL is read from the environment when the hook runs, and never logged."""
