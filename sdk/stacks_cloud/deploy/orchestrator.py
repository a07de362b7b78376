"""`Cloud`: the deploy API. Each method opens a `Session` (config, provider, the state backend's ledger,
the environment lock) and runs one operation through it.

Every run that changes an environment (deploy, rollback, destroy) holds the environment's lock for its
whole run, hooks included (`deploy.env_lock`); plans and status read without it. A deployment's steps are
`Session.apply`'s (`deploy.session`); the policy gate is `deploy.policy_step`, what a rollback goes back to
`deploy.rollback`, saved plans `deploy.saved_plans`.

    result = await Cloud.deploy(config, version="1.4.0")
    status = await Cloud.status(config)
    await Cloud.destroy(config)
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.deploy.rollback import destroy_target, destroyed_last, rollback_target
from stacks_cloud.deploy.rollout import CONTINUABLE, rollout_of
from stacks_cloud.deploy.saved_plans import check_plan_folder, read_saved_plans, save_plans
from stacks_cloud.deploy.session import RunOptions, Session
from stacks_cloud.deploy.snapshots import default_version, new_deployment_id, resolve_project_dir
from stacks_cloud.models import (
    DeploymentRecord,
    DeploymentResult,
    DeploymentStatus,
    LineSink,
    PlanSummary,
    StackState,
    State,
    StateLock,
    UnfinishedDeployment,
)
from stacks_cloud.policy import GateReport
from stacks_cloud.stacks.app import CloudApp
from stacks_cloud.state import LockHolder, backend_for
from stacks_cloud.terraform.events import EventSink


@dataclass(frozen=True)
class UnlockReport:
    """What `Cloud.unlock` removed: the environment lock's holder, or the stacks' state locks."""

    environment_lock: LockHolder | None = None
    state_locks: tuple[StateLock, ...] = ()


class Cloud:
    """The deploy API: `deploy`, `destroy`, `status`, `rollback`, `plan`, `unlock`; each takes the config first.

    Keyword options: `version` (default: `git describe`), `stacks` (a selection; default: all),
    `concurrency` (stacks at once; default 4), `project_dir` (default: the project at or above the
    working directory), `app` (default: the `CloudApp` of the project's main.py), `on_line`
    (`sink(stack, line)` for live output), `logger`.
    """

    @staticmethod
    async def deploy(
        config: CloudConfig,
        *,
        version: str | None = None,
        stacks: list[str] | None = None,
        concurrency: int = 4,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        logger: logging.Logger | None = None,
        app: CloudApp | None = None,
        rollback_on_interrupt: bool = False,
        checks: bool = True,
        plan_dir: Path | None = None,
        on_event: EventSink | None = None,
        force: bool = False,
        timeout: float = 1800.0,
        wave: int | None = None,
        regions: list[str] | None = None,
    ) -> DeploymentResult:
        """Deploy `config` while holding the environment lock, after the policy gate (`checks=False`: without
        it, recorded in the ledger). `plan_dir` (written by `plan(out=...)`): apply exactly the plans saved
        there, which terraform refuses once anything changed since. `on_event(stack, event)` receives
        terraform's events and the engine's phases (for a live view). Stacks whose synthesized Terraform
        is identical to the live deployment's are skipped (`force=True`: applied anyway). `timeout`: seconds
        one stack may take (a Terraform Cloud run is canceled then, even while it is queued).

        When `multiRegion.rollout` applies to the environment, regions deploy wave by wave, each baked under
        its gates (`deploy.rollout`); a failed gate raises `RolloutHaltedError` after rolling the deployed
        waves back (unless the config leaves them), recorded `halted`. `wave=N` stops after wave N and
        `regions` deploys only those regions: the deployment is recorded `partial` (`result.partial`), and
        the next deploy of the same release continues it.

        Raises `ConfigError` (nothing recorded) for an unknown stack, `DeploymentLockedError` (nothing
        recorded) when another run holds the environment, the provider's errors after recording a
        failure, and `asyncio.CancelledError` after recording an interruption.
        """
        session = Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app, on_event=on_event)
        session.provider.check_stacks(config, stacks)
        rollout_of(session.provider, config, wave=wave, regions=regions)  # a bad --wave/--regions: nothing recorded
        _check_run_environment(session)
        if plan_dir is not None:
            _refuse_saved_plans_for_runs_elsewhere(config, "--plan", plan_dir)
        saved = read_saved_plans(plan_dir, config, stacks) if plan_dir is not None else None
        if checks:
            session.gate.prepare(session.project_dir)
        deployment_id = new_deployment_id(config.environment)
        await session.acquire(deployment_id, "deploy")
        try:
            if saved is not None:  # where it was planned: a local backend's relative state path resolves the same
                staged = session.cache.work_dir(deployment_id) / "cdktf.out"
                shutil.copytree(saved, staged, symlinks=True)
                saved = staged
            options = RunOptions(
                stacks=stacks,
                concurrency=concurrency,
                rollback_on_interrupt=rollback_on_interrupt,
                checks=checks,
                saved_plans=saved,
                force=force,
                timeout=timeout,
                wave=wave,
                regions=regions,
            )
            return await session.apply(deployment_id, version or default_version(session.project_dir), options)
        finally:
            await session.release()
            session.cache.prune_work_dirs()

    @staticmethod
    async def rollback(
        config: CloudConfig,
        *,
        recreate: bool = False,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        logger: logging.Logger | None = None,
        app: CloudApp | None = None,
        on_event: EventSink | None = None,
    ) -> DeploymentResult:
        """Deploy again the last good deployment (see `deploy.rollback.rollback_target`): after a failed or
        interrupted one, the live one; else the completed one before the live one. After a destroy
        nothing is live: refused unless `recreate=True`, which deploys the destroyed deployment again.
        """
        session = Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app, on_event=on_event)
        await session.acquire(new_deployment_id(config.environment), "rollback")
        try:
            target, replaced = rollback_target(session.ledger, config, recreate=recreate)
            return await session.redeploy(target, rollback_of=replaced)
        finally:
            await session.release()

    @staticmethod
    async def status(
        config: CloudConfig,
        deployment_id: str | None = None,
        *,
        project_dir: Path | None = None,
        app: CloudApp | None = None,
    ) -> DeploymentStatus:
        """What is live in the environment (or the given deployment), with what is in progress. Read-only."""
        session = Session(config, project_dir=project_dir, app=app)
        ledger = session.ledger
        holder = ledger.read_lock(*session.app_env)
        lock = {**holder.as_dict(), "stale": holder.is_gone()} if holder else None
        running = holder is not None and not holder.is_gone()
        in_progress = [
            record.id
            for record in ledger.in_progress(*session.app_env)
            if running and holder is not None and record.id == holder.deployment_id
        ]
        known: dict[str, Any] = {"in_progress": in_progress, "lock": lock, "environment": config.environment}
        if deployment_id is None:
            live = ledger.live(*session.app_env)
            known["unfinished"] = unfinished_deployment(ledger.history(*session.app_env, limit=1), live, in_progress)
            if live is None:  # destroyed, or never deployed
                status = State.DESTROYED if destroyed_last(ledger, config) else State.PENDING
                return DeploymentStatus(status=status, **known)
            deployment_id = live.id
        status_of = await session.provider.get_status(deployment_id)
        record = ledger.get(deployment_id)
        known["deployment_id"] = deployment_id
        if record is not None:  # what the ledger knows, where the provider does not say
            known["version"] = status_of.version or record.version
            known["url"] = status_of.url or record.url
            known["stacks"] = status_of.stacks or {stack: run["status"] for stack, run in record.stacks.items()}
        return status_of.model_copy(update=known)

    @staticmethod
    async def destroy(
        config: CloudConfig,
        *,
        deployment_id: str | None = None,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        logger: logging.Logger | None = None,
        app: CloudApp | None = None,
        on_event: EventSink | None = None,
    ) -> bool:
        """Destroy the environment's stacks (as last deployed). Production keeps resources marked to keep."""
        session = Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app, on_event=on_event)
        _check_run_environment(session)
        await session.acquire(new_deployment_id(config.environment), "destroy")
        try:
            target = deployment_id or destroy_target(session.ledger, config)
            destroyed = await session.provider.destroy(target)
            if destroyed:
                session.ledger.set_status(target, State.DESTROYED)
            return destroyed
        finally:
            await session.release()

    @staticmethod
    async def plan(
        config: CloudConfig,
        *,
        stacks: list[str] | None = None,
        concurrency: int = 4,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        app: CloudApp | None = None,
        out: Path | None = None,
        on_event: EventSink | None = None,
    ) -> list[PlanSummary]:
        """What a deploy would change, per stack: each resource, its action, the attributes that differ (no
        lock is taken: plans read state without locking it). `out`: keep the synthesized stacks and their
        saved plans in that folder, for `deploy(plan_dir=out)` to apply exactly them. `on_event`: each stack's
        phases (init, plan) and its plan's counts as they happen, for a live view."""
        return await _plan(
            config, stacks, concurrency, project_dir, on_line, app, out=out, refresh_only=False, on_event=on_event
        )

    @staticmethod
    async def drift(
        config: CloudConfig,
        *,
        stacks: list[str] | None = None,
        concurrency: int = 4,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        app: CloudApp | None = None,
        on_event: EventSink | None = None,
    ) -> list[PlanSummary]:
        """What changed outside Terraform, per stack (`PlanSummary.drift`): a refresh-only plan, which
        changes nothing and takes no lock."""
        return await _plan(
            config, stacks, concurrency, project_dir, on_line, app, out=None, refresh_only=True, on_event=on_event
        )

    @staticmethod
    async def check(
        config: CloudConfig,
        *,
        project_dir: Path | None = None,
        app: CloudApp | None = None,
    ) -> GateReport | None:
        """Synthesize `config` and run the policy gate on it (no lock, nothing recorded, nothing applied).
        None when the provider writes no Terraform."""
        session = Session(config, project_dir=project_dir, app=app)
        session.gate.prepare(session.project_dir)
        check_id = f"check-{new_deployment_id(config.environment)}"
        deploy_config = session.deployment_config(check_id, default_version(session.project_dir), RunOptions())
        try:
            report, _ = await session.gate.check(deploy_config)
            return report
        finally:
            shutil.rmtree(deploy_config.work_dir, ignore_errors=True)

    @staticmethod
    async def locks(
        config: CloudConfig, *, project_dir: Path | None = None, app: CloudApp | None = None
    ) -> tuple[LockHolder | None, list[StateLock]]:
        """The environment lock's holder and the terraform state locks on the stacks (read-only)."""
        session = Session(config, project_dir=project_dir, app=app)
        return session.ledger.read_lock(*session.app_env), await session.provider.state_locks(config)

    @staticmethod
    async def unlock(
        config: CloudConfig,
        *,
        stacks: list[str] | None = None,
        project_dir: Path | None = None,
        logger: logging.Logger | None = None,
        app: CloudApp | None = None,
    ) -> UnlockReport:
        """Remove the environment lock (its deployment is recorded interrupted), or the `stacks`' state locks.

        Check first (`Cloud.locks`) that no run holds them any more: removing a live run's lock lets a
        second run write over it.
        """
        session = Session(config, project_dir=project_dir, logger=logger, app=app)
        if not stacks:
            return UnlockReport(environment_lock=session.lock.remove())
        session.provider.check_stacks(config, stacks)
        removed = []
        for lock in await session.provider.state_locks(config):
            if lock.stack in stacks:
                await session.provider.unlock_stack(config, lock)
                removed.append(lock)
        return UnlockReport(state_locks=tuple(removed))


async def _plan(
    config: CloudConfig,
    stacks: list[str] | None,
    concurrency: int,
    project_dir: Path | None,
    on_line: LineSink | None,
    app: CloudApp | None,
    *,
    out: Path | None,
    refresh_only: bool,
    on_event: EventSink | None,
) -> list[PlanSummary]:
    session = Session(config, project_dir=project_dir, on_line=on_line, app=app, on_event=on_event)
    session.provider.check_stacks(config, stacks)
    _check_run_environment(session)
    if out is not None:
        _refuse_saved_plans_for_runs_elsewhere(config, "--out", out)
        check_plan_folder(out)
    plan_id = f"{'drift' if refresh_only else 'plan'}-{new_deployment_id(config.environment)}"
    version = default_version(session.project_dir)
    deploy_config = session.deployment_config(plan_id, version, RunOptions(stacks=stacks, concurrency=concurrency))
    try:
        summaries = await session.provider.plan(deploy_config, refresh_only=refresh_only)
        if out is not None:
            save_plans(deploy_config.work_dir / "cdktf.out", out, config, version, stacks, summaries)
        return summaries
    finally:
        shutil.rmtree(deploy_config.work_dir, ignore_errors=True)


def _check_run_environment(session: Session) -> None:
    """Runs elsewhere (Terraform Cloud) get their credentials from here: refuse what is missing before anything
    is recorded or run (`ConfigError` naming each variable)."""
    if backend_for(session.config).runs_elsewhere(session.config):
        session.provider.run_environment(session.config)


def _refuse_saved_plans_for_runs_elsewhere(config: CloudConfig, option: str, folder: Path) -> None:
    if backend_for(config).runs_elsewhere(config):
        raise ConfigError(
            "command line",
            [
                Problem(
                    option,
                    str(folder),
                    "saves plans on this machine, but the stacks plan and apply as Terraform Cloud runs"
                    " (state.cloud.executionMode), where a plan saved here cannot be applied.",
                    "review `cloud plan` (each stack's run is linked), then `cloud deploy`.",
                )
            ],
        )


def history(config: CloudConfig, *, project_dir: Path | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The environment's deployments, newest first, as dicts (for `cloud status --json`)."""
    ledger = backend_for(config).open_ledger(config, resolve_project_dir(project_dir))
    return [record.as_dict() for record in ledger.history(config.app_name, config.environment, limit)]


__all__ = ["Cloud", "UnlockReport", "history"]


_APPLIED_STATES = {StackState.DEPLOYED.value, StackState.FAILED.value, StackState.INTERRUPTED.value}


def unfinished_deployment(
    newest: list[DeploymentRecord], live: DeploymentRecord | None, in_progress: list[str]
) -> UnfinishedDeployment | None:
    """The newest deployment when it ended without completing (failed, interrupted) after applying stacks:
    those stacks are in the cloud as it left them, whatever the live deployment says."""
    if not newest:
        return None
    record = newest[0]
    if record.id in in_progress or (live is not None and record.id == live.id):
        return None
    if record.status not in (State.FAILED.value, *CONTINUABLE) or record.kind == "destroy":
        return None
    applied = {
        stack: {"status": run["status"], "outputs": run.get("outputs") or {}}
        for stack, run in record.stacks.items()
        if run.get("status") in _APPLIED_STATES
    }
    if not applied:
        return None
    undo = (
        f"`cloud rollback` re-deploys {live.id} (version {live.version}) over them"
        if live is not None
        else "`cloud destroy` removes them"
    )
    next_step = f"fix the cause, then `cloud deploy` completes it (unchanged stacks are skipped); or {undo}."
    if record.rollout and record.status in CONTINUABLE:
        waves = record.rollout.get("waves") or []
        done = [str(wave["wave"]) for wave in waves if wave.get("status") == "passed"]
        total = record.rollout.get("total_waves")
        so_far = f"wave(s) {', '.join(done)} of {total} passed" if done else "no wave passed"
        next_step = (
            f"{so_far}: `cloud deploy` of the same release continues the rollout (what it applied is not applied"
            f" again); or {undo}."
        )
    return UnfinishedDeployment(
        deployment_id=record.id,
        status=record.status,
        version=record.version,
        error=record.error,
        applied=applied,
        next_step=next_step,
    )
