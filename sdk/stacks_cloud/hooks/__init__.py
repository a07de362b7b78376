"""Deployment hooks: the hook model and ready-made hooks for the guide's pre-deploy, post-deploy and on-error tasks.

from stacks_cloud.hooks import validate_env, run_migrations, create_backup, invalidate_cloudfront, flush_redis
from stacks_cloud.hooks import warm_up, notify_slack, rollback_and_notify, hook
"""

from stacks_cloud.hooks.backup import create_backup
from stacks_cloud.hooks.base import Hook, HookOutcome, Phase, as_hook, hook, run_phase
from stacks_cloud.hooks.cache import IamAuth, flush_redis, iam_auth_token
from stacks_cloud.hooks.cdn import invalidate_cloudfront
from stacks_cloud.hooks.checks import validate_env
from stacks_cloud.hooks.http import EndpointResult, notify_slack, warm_up
from stacks_cloud.hooks.migrations import Migration, MigrationError, run_migrations
from stacks_cloud.hooks.recovery import rollback_and_notify

__all__ = [
    "EndpointResult",
    "Hook",
    "HookOutcome",
    "IamAuth",
    "Migration",
    "MigrationError",
    "Phase",
    "as_hook",
    "create_backup",
    "flush_redis",
    "hook",
    "iam_auth_token",
    "invalidate_cloudfront",
    "notify_slack",
    "rollback_and_notify",
    "run_migrations",
    "run_phase",
    "validate_env",
    "warm_up",
]
