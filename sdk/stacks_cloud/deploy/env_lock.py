"""The environment lock: one deployment, rollback or destroy of an environment at a time, whoever runs it.

It lives in the same store as the ledger (the state backend's). A second run is refused at once with
`DeploymentLockedError` naming the holder. A holder that died (its process gone on this host, or its
lease expired) is taken over by the next run, which records its deployment as `interrupted`; that run
then refuses to go on while terraform state locks are left, listing them (`StateLockedError`). The
lock names the terraform processes its holder started, so a killed CLI's terraform is waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from stacks_cloud.core.errors import CloudError, DeploymentLockedError, StateLockedError
from stacks_cloud.models import IN_PROGRESS_STATES, StackState, State, StateLock
from stacks_cloud.state import Ledger, LockHolder

StateLockReader = Callable[[], Awaitable[list[StateLock]]]


def record_interrupted(ledger: Ledger, stale: LockHolder, logger: logging.Logger) -> None:
    """Record the deployment of a holder that stopped without finishing (and its running stacks) interrupted."""
    logger.warning("the previous %s stopped without finishing; recording it as interrupted", stale.describe())
    record = ledger.get(stale.deployment_id)
    if record is None or record.status not in IN_PROGRESS_STATES:
        return
    for stack, run in record.stacks.items():
        if run["status"] == StackState.DEPLOYING:
            ledger.set_stack(record.id, stack, StackState.INTERRUPTED)
    ledger.set_status(
        record.id, State.INTERRUPTED, error=f"interrupted: its process ({stale.describe()}) stopped without finishing"
    )


class EnvironmentLock:
    """The lock of one app's environment in `ledger`, held by this process between `acquire` and `release`."""

    def __init__(self, ledger: Ledger, app: str, environment: str, logger: logging.Logger) -> None:
        self.ledger = ledger
        self.app, self.environment = app, environment
        self.logger = logger
        self.holder: LockHolder | None = None
        self.recovered: LockHolder | None = None
        """The dead holder this run took the lock over from, if any."""
        self.children: set[int] = set()
        self._heartbeat: asyncio.Task[None] | None = None

    def observe(self, pid: int, running: bool) -> None:
        """A terraform started or ended: keep its pid in the lock, so a killed CLI's terraform is known."""
        (self.children.add if running else self.children.discard)(pid)
        self._refresh()

    async def acquire(self, deployment_id: str, operation: str, state_locks: StateLockReader) -> None:
        """Take the lock for `operation`, or raise `DeploymentLockedError` naming the holder. A dead holder's
        lock is taken over; then `StateLockedError` if its terraform left state locks (`state_locks()`)."""
        holder = LockHolder.for_this_process(deployment_id, operation, lease=self.ledger.lease_seconds)
        for _ in range(5):
            if await self._take(holder):
                break
        else:
            raise DeploymentLockedError(
                f"could not take the lock of {self.app} {self.environment}: it keeps changing", holder=None
            )
        if self.ledger.lease_seconds:
            self._heartbeat = asyncio.ensure_future(self._renew(self.ledger.lease_seconds / 3))
        locks = await state_locks()
        if locks:
            await self.release()
            raise StateLockedError(locks)

    async def _take(self, holder: LockHolder) -> bool:
        """One attempt: True once this process holds the lock; False when it changed under us (try again)."""
        stored = await asyncio.to_thread(self.ledger.create_lock, self.app, self.environment, holder)
        if stored is not None:
            self.holder = stored
            return True
        current = await asyncio.to_thread(self.ledger.read_lock, self.app, self.environment)
        if current is None:
            return False  # released between our two calls
        if not current.is_gone():
            raise DeploymentLockedError(
                f"{self.app} {self.environment} is locked by another run: {current.describe()}. Wait for it to"
                " finish; if it is stuck, `cloud unlock` removes the lock after showing who holds it.",
                holder=current,
            )
        still_running = current.live_children()
        if still_running:
            raise DeploymentLockedError(
                f"the {current.operation} {current.deployment_id} was stopped, but its terraform is still"
                f" finishing (pid {', '.join(map(str, still_running))}): wait until it exits, then run again.",
                holder=current,
            )
        replaced = await asyncio.to_thread(self.ledger.replace_lock, self.app, self.environment, current, holder)
        if not isinstance(replaced, LockHolder):
            return False
        self.holder = replaced
        self.recovered = current
        await asyncio.to_thread(record_interrupted, self.ledger, current, self.logger)
        return True

    def _refresh(self) -> None:
        if self.holder is None:
            return
        holder = replace(self.holder, children=tuple(sorted(self.children))).renewed(self.ledger.lease_seconds)
        try:
            replaced = self.ledger.replace_lock(self.app, self.environment, self.holder, holder)
        except CloudError as error:
            self.logger.warning("could not renew the environment lock: %s", error)
            return
        if replaced is False:
            self.logger.error("the environment lock was taken over by another run; this run no longer holds it")
            self.holder = None
        elif isinstance(replaced, LockHolder):
            self.holder = replaced

    async def _renew(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await asyncio.to_thread(self._refresh)

    async def release(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self.holder is None:
            return
        holder, self.holder = self.holder, None
        try:
            released = await asyncio.to_thread(self.ledger.replace_lock, self.app, self.environment, holder, None)
        except CloudError as error:
            self.logger.error("could not release the environment lock: %s", error)
            return
        if released is False:
            self.logger.warning("the environment lock had been taken over; not released by this run")

    def remove(self) -> LockHolder | None:
        """Remove whoever holds the lock (`cloud unlock`), recording its deployment interrupted."""
        holder = self.ledger.read_lock(self.app, self.environment)
        if holder is None:
            return None
        if self.ledger.replace_lock(self.app, self.environment, holder, None) is False:
            raise DeploymentLockedError(
                "the environment lock changed while it was being removed; look again", holder=None
            )
        record_interrupted(self.ledger, holder, self.logger)
        return holder
