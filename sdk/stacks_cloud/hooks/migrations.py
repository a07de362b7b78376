"""`run_migrations`: the user's pending migrations, one by one, stopping at the first failure.

Either a command (your framework's migrate command, run with the deploying environment):

    run_migrations(command=["python", "manage.py", "migrate", "--noinput"])

or migrations as objects with a `name` and an `up()` (sync or async), or a function returning the
pending ones (the guide's `getPendingMigrations()`):

    run_migrations(migrations=get_pending_migrations)
"""

from __future__ import annotations

import asyncio
import inspect
import subprocess
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from stacks_cloud.core.secrets import redact_text
from stacks_cloud.hooks._common import split
from stacks_cloud.hooks.base import Hook


@dataclass(frozen=True)
class Migration:
    name: str
    up: Callable[[], Any]


Migrations = Sequence[Any] | Callable[[], Sequence[Any] | Awaitable[Sequence[Any]]]


class MigrationError(RuntimeError):
    def __init__(self, name: str, reason: str) -> None:
        self.migration = name
        super().__init__(f"migration {name!r} failed: {reason}")


def run_migrations(
    *,
    command: Sequence[str] | None = None,
    migrations: Migrations | None = None,
    timeout: float = 1800,
    name: str = "run_migrations",
) -> Hook:
    """Run the pending migrations (a `command`, or `migrations`), logging each; stop at the first failure."""
    if (command is None) == (migrations is None):
        raise ValueError("run_migrations needs exactly one of command=[...] or migrations=...")

    async def run(*args: Any) -> None:
        _, context = split(args)
        if command is not None:
            shown = redact_text(" ".join(command))  # a command line may carry a password
            context.logger.info("running migrations: %s", shown)
            result = await asyncio.to_thread(
                subprocess.run, list(command), capture_output=True, text=True, timeout=timeout, check=False
            )
            for line in (result.stdout + result.stderr).splitlines():
                context.logger.info("migrate: %s", redact_text(line))
            if result.returncode != 0:
                last_lines = (result.stderr or result.stdout).strip().splitlines()
                tail = redact_text(last_lines[-1]) if last_lines else "no output"
                raise MigrationError(shown, f"exit code {result.returncode}: {tail}")
            return
        pending = migrations() if callable(migrations) else migrations
        if inspect.isawaitable(pending):
            pending = await pending
        pending = list(pending or [])
        context.logger.info("%d pending migration(s)", len(pending))
        for migration in pending:
            label = str(getattr(migration, "name", None) or getattr(migration, "__name__", repr(migration)))
            context.logger.info("Running migration: %s", label)
            try:
                outcome = migration.up()
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception as error:
                raise MigrationError(label, redact_text(f"{type(error).__name__}: {error}")) from error
            context.logger.info("Migration %s done", label)

    return Hook(run, name=name, timeout=timeout + 60)
