"""The guide's deployment hooks (`cloud/hooks/pre-deploy.ts`, `post-deploy.ts`, and the `onError` of
`config/cloud.ts`), composed from the SDK's ready-made hooks."""

from hooks.on_error import on_error
from hooks.post_deploy import post_deploy_hook
from hooks.pre_deploy import get_pending_migrations, pre_deploy_hook

__all__ = ["get_pending_migrations", "on_error", "post_deploy_hook", "pre_deploy_hook"]
