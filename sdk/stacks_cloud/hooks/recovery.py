"""`rollback_and_notify`: the guide's on-error hook ("rollback on failure, notify team") ready-made."""

from __future__ import annotations

from typing import Any

from stacks_cloud.core.secrets import redact_text
from stacks_cloud.hooks.base import Hook, as_hook


def rollback_and_notify(
    notify: Hook | None = None, *, rollback: bool = True, name: str = "rollback_and_notify"
) -> Hook:
    """On error: log it, `context.rollback()` to the last good deployment, then run `notify(error, context)`.

    `notify` is usually `notify_slack(from_env("SLACK_WEBHOOK_URL"))`. The notification is sent even
    when the rollback itself fails (it then reports both).
    """

    async def run(error: BaseException, context: Any) -> None:
        context.logger.error("Deployment failed: %s", redact_text(str(error)))
        rollback_error: BaseException | None = None
        if rollback:
            try:
                result = await context.rollback()
                if result is None:
                    context.logger.warning("nothing to roll back to (no earlier successful deployment)")
                else:
                    context.logger.warning("rolled back to %s", context.rolled_back_to)
            except Exception as failure:
                rollback_error = failure
                context.logger.error("rollback failed: %s", redact_text(str(failure)))
        if notify is not None:
            reported: BaseException = error
            if rollback_error is not None:
                reported = RuntimeError(f"{error} (and the rollback failed: {rollback_error})")
            elif context.rolled_back_to:
                reported = RuntimeError(f"{error} (rolled back to {context.rolled_back_to})")
            hook = as_hook(notify)
            outcome = hook(reported, context)
            if hasattr(outcome, "__await__"):
                await outcome
        if rollback_error is not None:
            raise rollback_error

    return Hook(run, name=name, timeout=None, secrets=getattr(notify, "secrets", ()))
