"""`Cloud`: pre-deploy hooks -> provider deploy -> post-deploy hooks; on failure the on-error hooks.

Every run that changes an environment (deploy, rollback, destroy) holds the environment's lock for its
whole run, hooks included, in the same store as the ledger (see `stacks_cloud.deploy.ledger`): a
second run is refused at once with `DeploymentLockedError` naming the holder. A holder that died
(its process gone on this host, or its lease expired) is taken over by the next run, which records
its deployment as `interrupted` and refuses to go on while terraform state locks are left, listing
them for `cloud unlock --stack`.

Interruption (Ctrl-C, SIGTERM: the task is cancelled) reaches each running terraform once; the
deployment is recorded `interrupted` with the stacks that finished; the lock is released; nothing is
rolled back unless asked for (`rollback_on_interrupt`).

Rollback only when it helps and only to what was live: `context.rollback()` is a logged no-op while
nothing was applied in the deployment; it re-deploys the live deployment's record exactly (its
archived synth, or its config snapshot and version), and an on-error hook's timeout does not cut it
short.

The policy gate (`stacks_cloud.policy`) runs on what a deploy is about to apply, after the pre-deploy
hooks (they may build the code) and before any stack: a failure is recorded, the on-error hooks run,
nothing is applied. `checks=False` skips it; the ledger records the gate's verdict either way.

    result = await Cloud.deploy(config, version="1.4.0")
    status = await Cloud.status(config)
    await Cloud.destroy(config)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import shutil
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from stacks_cloud.config import CloudConfig
from stacks_cloud.config.files import find_project_root
from stacks_cloud.core.errors import (
    CloudError,
    CloudProviderError,
    ConfigError,
    DeploymentLockedError,
    HookError,
    InfrastructureError,
    Problem,
)
from stacks_cloud.core.secrets import MASK, mask_logger, redact_text
from stacks_cloud.deploy.ledger import Ledger, LockHolder, open_ledger
from stacks_cloud.deploy.project import APP_FILE, load_app, not_a_project
from stacks_cloud.hooks.base import Phase, run_phase
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentContext,
    DeploymentRecord,
    DeploymentResult,
    DeploymentStatus,
    LineSink,
    PlanSummary,
    State,
    StateLock,
)
from stacks_cloud.policy import GateReport, PolicyViolationError, load_suppressions, run_gate
from stacks_cloud.policy.gate import find_checkov
from stacks_cloud.policy.suppressions import SUPPRESSIONS_FILE, Suppression
from stacks_cloud.providers.base import ApplyProgress, CloudProvider, ProviderRuntime
from stacks_cloud.providers.cdktf_stacks import PLAN_FILE
from stacks_cloud.providers.registry import resolve_provider
from stacks_cloud.providers.terraform_cli import EventSink
from stacks_cloud.stacks.app import CloudApp

LOGGER = logging.getLogger("stacks_cloud")
KEEP_WORK_DIRS = 10
"""Deployment working folders (synth, logs) kept in `.cache/deployments`; older ones are removed."""


def resolve_project_dir(project_dir: Path | None) -> Path:
    """`project_dir`, else the project at or above the working directory (its `cdktf.json`)."""
    if project_dir is not None:
        return project_dir.resolve()
    found = find_project_root(Path.cwd())
    if found is None:
        raise not_a_project(Path.cwd(), explicit=False)
    return found


def config_snapshot(config: CloudConfig) -> dict[str, Any]:
    """What the config deploys, as JSON: hooks and provider objects left out, every secret masked."""
    data: dict[str, Any] = json.loads(config.model_dump_json(exclude={"hooks", "providers"}))
    return data


def config_hash(config: CloudConfig) -> str:
    """A fingerprint of what the config deploys (hooks and provider objects left out; secrets masked)."""
    return hashlib.sha256(json.dumps(config_snapshot(config), sort_keys=True).encode()).hexdigest()[:16]


def restore_config(current: CloudConfig, snapshot: dict[str, Any]) -> CloudConfig:
    """The config a snapshot was taken of: its values, with the current config's secrets, hooks and providers."""
    values = _unmask(snapshot, current.model_dump(exclude={"hooks", "providers"}))
    values["hooks"] = current.hooks
    values["providers"] = current.providers
    return type(current).model_validate(values)


def _unmask(snapshot: Any, current: Any) -> Any:
    if snapshot == MASK:
        return current if isinstance(current, SecretStr | str) else None
    if isinstance(snapshot, dict):
        source = current if isinstance(current, dict) else {}
        return {key: _unmask(value, source.get(key)) for key, value in snapshot.items()}
    if isinstance(snapshot, list):
        items = current if isinstance(current, list) else []
        return [_unmask(value, items[index] if index < len(items) else None) for index, value in enumerate(snapshot)]
    return snapshot


def new_deployment_id(environment: str) -> str:
    """`<env>-<UTC time to the millisecond>-<random>`: unique, and sorts in time order."""
    now = datetime.now(UTC)
    return f"{environment}-{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}-{secrets.token_hex(3)}"


def default_version(project_dir: Path) -> str:
    """`git describe --always --dirty` of the project, else a UTC timestamp."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = ""
    return described or datetime.now(UTC).strftime("%Y%m%d%H%M%S")


@dataclass(frozen=True)
class UnlockReport:
    """What `Cloud.unlock` removed: the environment lock's holder, or the stacks' state locks."""

    environment_lock: LockHolder | None = None
    state_locks: tuple[StateLock, ...] = ()


class _Session:
    """One orchestrated operation: the config, its provider, its ledger, the environment lock it holds."""

    def __init__(
        self,
        config: CloudConfig,
        *,
        project_dir: Path | None,
        on_line: LineSink | None,
        logger: logging.Logger | None,
        app: CloudApp | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        self.config = config
        self.project_dir = resolve_project_dir(project_dir)
        if app is None and (self.project_dir / APP_FILE).is_file():
            app = load_app(self.project_dir)
        self.on_line = on_line
        self.logger = logger or LOGGER
        mask_logger(self.logger)  # hooks log through it: registered secrets never reach a handler in clear
        self.ledger: Ledger = open_ledger(config, self.project_dir)
        self.provider: CloudProvider = resolve_provider(config)
        self.progress = ApplyProgress()
        self.deploy_called = False
        self.children: set[int] = set()
        self.lock: LockHolder | None = None
        self.recovered: LockHolder | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._rollback_task: asyncio.Future[DeploymentResult | None] | None = None
        self.rolled_back_to: str | None = None
        self.suppressions: list[Suppression] = []
        self.checkov: str | None = None
        self.provider.attach(
            ProviderRuntime(
                project_dir=self.project_dir,
                ledger=self.ledger,
                cloud=config,
                app=app,
                on_line=on_line,
                observer=self._observe,
                progress=self.progress,
                on_event=on_event,
            )
        )

    @property
    def app_env(self) -> tuple[str, str]:
        return self.config.app_name, self.config.environment

    def work_dir(self, deployment_id: str) -> Path:
        path = self.project_dir / ".cache" / "deployments" / deployment_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def prune_work_dirs(self) -> None:
        root = self.project_dir / ".cache" / "deployments"
        if not root.is_dir():
            return
        folders = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
        for folder in folders[KEEP_WORK_DIRS:]:
            shutil.rmtree(folder, ignore_errors=True)

    def deployment_config(
        self,
        deployment_id: str,
        version: str,
        *,
        config: CloudConfig | None = None,
        stacks: list[str] | None = None,
        concurrency: int = 4,
        timeout: float = 1800.0,
        rollback_of: str | None = None,
        saved_plans: Path | None = None,
        force: bool = False,
    ) -> DeploymentConfig:
        cloud = config or self.config
        return DeploymentConfig(
            deployment_id=deployment_id,
            version=version,
            environment=cloud.environment,
            app_name=cloud.app_name,
            regions=cloud.regions,
            cloud=cloud,
            settings=cloud.provider_settings.get(cloud.driver),
            stacks=stacks,
            concurrency=concurrency,
            project_dir=self.project_dir,
            work_dir=self.work_dir(deployment_id),
            rollback_of=rollback_of,
            on_line=self.on_line,
            timeout=timeout,
            synthesized_dir=saved_plans,
            saved_plans=saved_plans is not None,
            force=force,
        )

    # --- the environment lock -------------------------------------------------------------------------------

    def _observe(self, pid: int, running: bool) -> None:
        """A terraform started or ended: keep its pid in the lock, so a killed CLI's terraform is known."""
        (self.children.add if running else self.children.discard)(pid)
        self._refresh_lock()

    def _refresh_lock(self) -> None:
        if self.lock is None:
            return
        holder = replace(self.lock, children=tuple(sorted(self.children))).renewed(self.ledger.lease_seconds)
        try:
            replaced = self.ledger.replace_lock(*self.app_env, self.lock, holder)
        except CloudError as error:
            self.logger.warning("could not renew the environment lock: %s", error)
            return
        if replaced is False:
            self.logger.error("the environment lock was taken over by another run; this run no longer holds it")
            self.lock = None
        elif isinstance(replaced, LockHolder):
            self.lock = replaced

    async def _renew(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            await asyncio.to_thread(self._refresh_lock)

    async def acquire(self, deployment_id: str, operation: str) -> None:
        """Take the environment lock for this operation, or raise `DeploymentLockedError` naming the holder.

        A holder whose process is gone is taken over: its deployment is recorded `interrupted`. Then,
        if terraform state locks were left on the stacks, raise `InfrastructureError` listing them.
        """
        app, environment = self.app_env
        holder = LockHolder.for_this_process(deployment_id, operation, lease=self.ledger.lease_seconds)
        for _ in range(5):
            stored = await asyncio.to_thread(self.ledger.create_lock, app, environment, holder)
            if stored is not None:
                self.lock = stored
                break
            current = await asyncio.to_thread(self.ledger.read_lock, app, environment)
            if current is None:
                continue  # released between our two calls
            if not current.is_gone():
                raise DeploymentLockedError(
                    f"{app} {environment} is locked by another run: {current.describe()}. Wait for it to finish;"
                    " if it is stuck, `cloud unlock` removes the lock after showing who holds it.",
                    holder=current,
                )
            still_running = current.live_children()
            if still_running:
                raise DeploymentLockedError(
                    f"the {current.operation} {current.deployment_id} was stopped, but its terraform is still"
                    f" finishing (pid {', '.join(map(str, still_running))}): wait until it exits, then run again.",
                    holder=current,
                )
            replaced = await asyncio.to_thread(self.ledger.replace_lock, app, environment, current, holder)
            if isinstance(replaced, LockHolder):
                self.lock = replaced
                await asyncio.to_thread(self._record_interrupted, current)
                break
        else:
            raise DeploymentLockedError(
                f"could not take the lock of {app} {environment}: it keeps changing", holder=None
            )
        if self.ledger.lease_seconds:
            self._heartbeat = asyncio.ensure_future(self._renew(self.ledger.lease_seconds / 3))
        locks = await self.provider.state_locks(self.config)
        if locks:
            await self.release()
            raise InfrastructureError(
                f"{len(locks)} stack state lock(s) are held, by a run outside `cloud` (cdktf, terraform, Terraform"
                " Cloud) or left by an interrupted one:\n"
                + "\n".join(f"  - {lock.describe()}" for lock in locks)
                + "\nCheck that no terraform is still running against them, then remove them with"
                " `cloud unlock --stack NAME` (it shows each lock before removing it) and run again."
            )

    def _record_interrupted(self, stale: LockHolder) -> None:
        self.recovered = stale
        self.logger.warning("the previous %s stopped without finishing; recording it as interrupted", stale.describe())
        record = self.ledger.get(stale.deployment_id)
        if record is None or record.status not in (State.PENDING, State.DEPLOYING):
            return
        for stack, run in record.stacks.items():
            if run["status"] == "deploying":
                self.ledger.set_stack(record.id, stack, "interrupted")
        self.ledger.set_status(
            record.id,
            State.INTERRUPTED,
            error=f"interrupted: its process ({stale.describe()}) stopped without finishing",
        )

    async def release(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        if self.lock is None:
            return
        lock, self.lock = self.lock, None
        try:
            released = await asyncio.to_thread(self.ledger.replace_lock, *self.app_env, lock, None)
        except CloudError as error:
            self.logger.error("could not release the environment lock: %s", error)
            return
        if released is False:
            self.logger.warning("the environment lock had been taken over; not released by this run")

    # --- the policy gate ---------------------------------------------------------------------------------------

    @property
    def synthesizes(self) -> bool:
        """Whether the provider writes Terraform the gate can check."""
        return type(self.provider).synthesize is not CloudProvider.synthesize

    def prepare_gate(self) -> None:
        """Read the suppressions and find checkov before anything is recorded (a `ConfigError` if not)."""
        self.suppressions = load_suppressions(self.project_dir / SUPPRESSIONS_FILE)
        if self.synthesizes:
            self.checkov = find_checkov()

    async def check(self, deploy_config: DeploymentConfig) -> tuple[GateReport | None, DeploymentConfig]:
        """Synthesize `deploy_config` and run the gate on it; the config returned applies that synth."""
        outdir = deploy_config.synthesized_dir or await asyncio.to_thread(self.provider.synthesize, deploy_config)
        if outdir is None:
            return None, deploy_config
        report = await asyncio.to_thread(
            run_gate,
            outdir,
            environment=deploy_config.environment,
            suppressions=self.suppressions,
            checkov=self.checkov,
        )
        return report, deploy_config.model_copy(update={"synthesized_dir": outdir})

    async def _gate(self, deployment_id: str, deploy_config: DeploymentConfig, checks: bool) -> DeploymentConfig:
        if not checks:
            self.ledger.set_checks(deployment_id, "skipped (--skip-checks)")
            self.logger.warning("policy gate skipped (--skip-checks): recorded in the ledger")
            self._say("policy", "policy gate skipped (--skip-checks): recorded in the ledger")
            return deploy_config
        outdir = deploy_config.synthesized_dir or await asyncio.to_thread(self.provider.synthesize, deploy_config)
        if outdir is not None:
            deploy_config = deploy_config.model_copy(update={"synthesized_dir": outdir})
            previous = self._unchanged_since(deploy_config, outdir)
            if previous is not None:  # nothing will be applied: the live deployment's gate still holds
                summary = f"not run: every stack is unchanged since {previous.id} (its gate: {previous.checks})"
                self.ledger.set_checks(deployment_id, summary)
                self._say("policy", "policy gate " + summary)
                return deploy_config
        report, checked = await self.check(deploy_config)
        if report is None:
            self.ledger.set_checks(
                deployment_id, f"not applicable: provider {self.provider.name!r} writes no Terraform"
            )
            return deploy_config
        self.ledger.set_checks(deployment_id, report.summary())
        self._say("policy", "policy gate " + report.summary())
        if not report.ok:
            raise PolicyViolationError(report)
        return checked

    def _unchanged_since(self, deploy_config: DeploymentConfig, outdir: Path) -> DeploymentRecord | None:
        """The live deployment, when every stack to deploy is identical to its (the provider skips them all)."""
        unchanged_stacks = getattr(self.provider, "unchanged_stacks", None)
        waves = getattr(self.provider, "waves", None)
        if unchanged_stacks is None or waves is None:
            return None
        unchanged = unchanged_stacks(deploy_config, outdir)
        selected = [stack for wave in waves(outdir, deploy_config.stacks) for stack in wave]
        if not unchanged or any(stack not in unchanged for stack in selected):
            return None
        return self.ledger.live(*self.app_env)

    def _say(self, source: str, line: str) -> None:
        if self.on_line is not None:
            self.on_line(source, line)

    # --- deployments ----------------------------------------------------------------------------------------

    def applied_anything(self) -> bool:
        """Whether this session may have changed infrastructure (only then is a rollback worth running)."""
        return bool(self.progress.applying) if self.progress.tracks_stacks else self.deploy_called

    async def apply(
        self,
        deployment_id: str,
        version: str,
        *,
        stacks: list[str] | None,
        concurrency: int,
        rollback_of: str | None = None,
        target: DeploymentRecord | None = None,
        run_hooks: bool = True,
        rollback_on_interrupt: bool = False,
        checks: bool | None = None,
        saved_plans: Path | None = None,
        force: bool = False,
    ) -> DeploymentResult:
        """Record, run the hooks, the policy gate (`checks`: True runs it, False records it skipped, None:
        not at all, for rollbacks that re-apply what was checked before) and the provider.
        On failure: on-error hooks, then re-raise; on interruption: record it and re-raise the cancellation."""
        cloud = self.config if target is None or not target.config_snapshot else self._restored(target)
        self.ledger.start(
            deployment_id,
            app=cloud.app_name,
            environment=cloud.environment,
            version=version,
            provider=self.provider.name or type(self.provider).__name__,
            config_hash=config_hash(cloud),
            rollback_of=rollback_of,
            kind="rollback" if target is not None else "deploy",
            config_snapshot=config_snapshot(cloud),
        )
        context = DeploymentContext(
            deployment_id=deployment_id,
            version=version,
            environment=cloud.environment,
            regions=cloud.regions,
            app_name=cloud.app_name,
            logger=self.logger,
        )
        context._rollback = lambda: self._context_rollback(deployment_id, context)
        hooks = cloud.hooks
        try:
            if run_hooks:
                await run_phase(
                    Phase.PRE_DEPLOY, hooks.pre_deploy, context, environment=cloud.environment, logger=self.logger
                )
            deploy_config = self.deployment_config(
                deployment_id,
                version,
                config=cloud,
                stacks=stacks,
                concurrency=concurrency,
                rollback_of=rollback_of,
                saved_plans=saved_plans,
                force=force or target is not None,
            )
            if checks is not None:
                deploy_config = await self._gate(deployment_id, deploy_config, checks)
            self.ledger.set_status(deployment_id, State.DEPLOYING)
            self.deploy_called = True
            if target is not None:
                result = await self.provider.rollback(target, deploy_config)
            else:
                result = await self.provider.deploy(deploy_config)
            result = result.model_copy(update={"version": version, "environment": cloud.environment})
            if result.synthesized_dir is not None:
                self.ledger.archive(deployment_id, result.synthesized_dir)
            if not result.success:
                raise InfrastructureError(f"provider {self.provider.name!r} reported the deployment as failed")
            for stack, outputs in result.outputs.items():
                self.ledger.set_stack(
                    deployment_id, stack, "deployed", outputs=outputs, seconds=result.timings.get(stack)
                )
            context.outputs, context.url = result.outputs, result.url
            if run_hooks:
                await run_phase(
                    Phase.POST_DEPLOY, hooks.post_deploy, context, environment=cloud.environment, logger=self.logger
                )
            previous = self.ledger.live(*self.app_env)
            self.ledger.set_status(deployment_id, State.RUNNING, url=result.url)
            if previous is not None and previous.id != deployment_id:
                self.ledger.set_status(previous.id, State.SUPERSEDED)
            self.ledger.prune_archives(*self.app_env, keep=self.config.state.keep_archives)
            return result
        except asyncio.CancelledError:
            self.ledger.set_status(
                deployment_id,
                State.INTERRUPTED,
                error="interrupted (Ctrl-C or SIGTERM): running terraform finished its resource in flight and"
                " saved its state; the stacks that finished are recorded",
            )
            if rollback_on_interrupt and run_hooks and self.applied_anything():
                interruption = InfrastructureError(f"deployment {deployment_id} was interrupted")
                await self._on_error(hooks.on_error, interruption, context)
            raise
        except Exception as error:
            typed = _typed(error, self.provider.name)
            typed.deployment = {"deployment_id": deployment_id, "version": version, "environment": cloud.environment}
            self.ledger.set_status(deployment_id, State.FAILED, error=redact_text(str(typed)))
            if run_hooks:
                await self._on_error(hooks.on_error, typed, context)
            if typed is error:
                raise
            raise typed from error

    async def _on_error(self, hooks: Any, error: CloudError, context: DeploymentContext) -> None:
        try:
            await run_phase(
                Phase.ON_ERROR, hooks, error, context, environment=self.config.environment, logger=self.logger
            )
        except HookError as hook_error:
            self.logger.error("%s", hook_error)
            error.add_note(f"while handling it: {hook_error}")
        finally:
            if self._rollback_task is not None:  # started by a hook: finish it even if the hook timed out
                with contextlib.suppress(Exception):
                    await self._rollback_task

    def _restored(self, target: DeploymentRecord) -> CloudConfig:
        try:
            return restore_config(self.config, target.config_snapshot or {})
        except ConfigError as error:
            raise ConfigError(
                f"configuration of deployment {target.id} (to roll back to)",
                [Problem(p.path, p.value, p.message, p.fix) for p in error.problems],
            ) from None

    async def _context_rollback(self, failed: str, context: DeploymentContext) -> DeploymentResult | None:
        if not self.applied_anything():
            self.logger.info("rollback skipped: deployment %s applied nothing, so nothing changed", failed)
            return None
        if self._rollback_task is None:
            self._rollback_task = asyncio.ensure_future(self.rollback_to_live(failed=failed))
        result = await asyncio.shield(self._rollback_task)
        context.rolled_back_to = self.rolled_back_to
        return result

    async def rollback_to_live(self, *, failed: str) -> DeploymentResult | None:
        """After `failed` broke things: deploy again what was live before it (without hooks)."""
        target = self.ledger.live(*self.app_env)
        if target is None or target.id == failed:
            self.logger.warning(
                "nothing to roll back to: no earlier deployment of %s completed", self.config.environment
            )
            return None
        return await self._redeploy(target, rollback_of=failed)

    async def _redeploy(self, target: DeploymentRecord, *, rollback_of: str | None) -> DeploymentResult:
        self.rolled_back_to = target.id
        deployment_id = new_deployment_id(self.config.environment)
        self.logger.warning("rolling back to %s (version %s) as %s", target.id, target.version, deployment_id)
        self.progress.applying.clear()
        result = await self.apply(
            deployment_id,
            target.version,
            stacks=None,
            concurrency=4,
            rollback_of=rollback_of,
            target=target,
            run_hooks=False,
        )
        if rollback_of is not None:
            self.ledger.set_status(rollback_of, State.ROLLED_BACK)
        return result


def _typed(error: Exception, provider: str) -> CloudError:
    if isinstance(error, CloudError):
        return error
    message = redact_text(f"{type(error).__name__}: {error}")
    return CloudProviderError(message, provider=provider)


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
    ) -> DeploymentResult:
        """Deploy `config` while holding the environment lock, after the policy gate (`checks=False`: without
        it, recorded in the ledger). `plan_dir` (written by `plan(out=...)`): apply exactly the plans saved
        there, which terraform refuses once anything changed since. `on_event(stack, event)` receives
        terraform's events and the engine's phases (for a live view). Stacks whose synthesized Terraform
        is identical to the live deployment's are skipped (`force=True`: applied anyway).

        Raises `ConfigError` (nothing recorded) for an unknown stack, `DeploymentLockedError` (nothing
        recorded) when another run holds the environment, the provider's errors after recording a
        failure, and `asyncio.CancelledError` after recording an interruption.
        """
        session = _Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app, on_event=on_event)
        session.provider.check_stacks(config, stacks)
        saved = read_saved_plans(plan_dir, config, stacks) if plan_dir is not None else None
        if checks:
            session.prepare_gate()
        deployment_id = new_deployment_id(config.environment)
        await session.acquire(deployment_id, "deploy")
        try:
            if saved is not None:  # where it was planned: a local backend's relative state path resolves the same
                staged = session.work_dir(deployment_id) / "cdktf.out"
                shutil.copytree(saved, staged, symlinks=True)
                saved = staged
            return await session.apply(
                deployment_id,
                version or default_version(session.project_dir),
                stacks=stacks,
                concurrency=concurrency,
                rollback_on_interrupt=rollback_on_interrupt,
                checks=checks,
                saved_plans=saved,
                force=force,
            )
        finally:
            await session.release()
            session.prune_work_dirs()

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
        """Deploy again the last good deployment.

        When the newest deployment failed or was interrupted, that is the live one (restoring what it
        may have half-changed); when the newest is the live one, the completed deployment before it
        (which the live one is then marked rolled back from). After a destroy nothing is live: refused
        unless `recreate=True`, which deploys the destroyed deployment again.
        """
        session = _Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app, on_event=on_event)
        deployment_id = new_deployment_id(config.environment)
        await session.acquire(deployment_id, "rollback")
        try:
            target, replaced = _rollback_target(session.ledger, config, recreate=recreate)
            return await session._redeploy(target, rollback_of=replaced)
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
        session = _Session(config, project_dir=project_dir, on_line=None, logger=None, app=app)
        ledger = session.ledger
        holder = ledger.read_lock(*session.app_env)
        lock = {**holder.as_dict(), "stale": holder.is_gone()} if holder else None
        in_progress = [
            record.id
            for record in ledger.in_progress(*session.app_env)
            if holder is not None and record.id == holder.deployment_id and not holder.is_gone()
        ]
        if deployment_id is None:
            live = ledger.live(*session.app_env)
            if live is None:  # destroyed, or never deployed
                return DeploymentStatus(
                    status=State.DESTROYED if _destroyed_last(ledger, config) else State.PENDING,
                    in_progress=in_progress,
                    lock=lock,
                    environment=config.environment,
                )
            deployment_id = live.id
        status = await session.provider.get_status(deployment_id)
        record = ledger.get(deployment_id)
        known: dict[str, Any] = {
            "deployment_id": deployment_id,
            "in_progress": in_progress,
            "lock": lock,
            "environment": config.environment,
        }
        if record is not None:  # what the ledger knows, where the provider does not say
            known["version"] = status.version or record.version
            known["url"] = status.url or record.url
            known["stacks"] = status.stacks or {stack: run["status"] for stack, run in record.stacks.items()}
        return status.model_copy(update=known)

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
        session = _Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app, on_event=on_event)
        lock_id = new_deployment_id(config.environment)
        await session.acquire(lock_id, "destroy")
        try:
            if deployment_id is None:
                candidates = [
                    record
                    for record in session.ledger.history(*session.app_env, limit=1000)
                    if record.status != State.DESTROYED and (record.has_archive or not record.stacks)
                ]
                if not candidates or (
                    session.ledger.live(*session.app_env) is None and _destroyed_last(session.ledger, config)
                ):
                    raise InfrastructureError(
                        f"nothing to destroy: no deployment of {config.environment} in {session.ledger.location}"
                        " is live"
                    )
                deployment_id = candidates[0].id
            destroyed = await session.provider.destroy(deployment_id)
            if destroyed:
                session.ledger.set_status(deployment_id, State.DESTROYED)
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
    ) -> list[PlanSummary]:
        """What a deploy would change, per stack: each resource, its action, the attributes that differ (no
        lock is taken: plans read state without locking it). `out`: keep the synthesized stacks and their
        saved plans in that folder, for `deploy(plan_dir=out)` to apply exactly them."""
        return await _plan(config, stacks, concurrency, project_dir, on_line, app, out=out, refresh_only=False)

    @staticmethod
    async def drift(
        config: CloudConfig,
        *,
        stacks: list[str] | None = None,
        concurrency: int = 4,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        app: CloudApp | None = None,
    ) -> list[PlanSummary]:
        """What changed outside Terraform, per stack (`PlanSummary.drift`): a refresh-only plan, which
        changes nothing and takes no lock."""
        return await _plan(config, stacks, concurrency, project_dir, on_line, app, out=None, refresh_only=True)

    @staticmethod
    async def check(
        config: CloudConfig,
        *,
        project_dir: Path | None = None,
        app: CloudApp | None = None,
    ) -> GateReport | None:
        """Synthesize `config` and run the policy gate on it (no lock, nothing recorded, nothing applied).
        None when the provider writes no Terraform."""
        session = _Session(config, project_dir=project_dir, on_line=None, logger=None, app=app)
        session.prepare_gate()
        check_id = f"check-{new_deployment_id(config.environment)}"
        deploy_config = session.deployment_config(check_id, default_version(session.project_dir))
        try:
            report, _ = await session.check(deploy_config)
            return report
        finally:
            shutil.rmtree(session.work_dir(check_id), ignore_errors=True)

    @staticmethod
    async def locks(
        config: CloudConfig, *, project_dir: Path | None = None, app: CloudApp | None = None
    ) -> tuple[LockHolder | None, list[StateLock]]:
        """The environment lock's holder and the terraform state locks on the stacks (read-only)."""
        session = _Session(config, project_dir=project_dir, on_line=None, logger=None, app=app)
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
        session = _Session(config, project_dir=project_dir, on_line=None, logger=logger, app=app)
        if stacks:
            session.provider.check_stacks(config, stacks)
            removed = []
            for lock in await session.provider.state_locks(config):
                if lock.stack in stacks:
                    await session.provider.unlock_stack(config, lock)
                    removed.append(lock)
            return UnlockReport(state_locks=tuple(removed))
        holder = session.ledger.read_lock(*session.app_env)
        if holder is None:
            return UnlockReport()
        if session.ledger.replace_lock(*session.app_env, holder, None) is False:
            raise DeploymentLockedError(
                "the environment lock changed while it was being removed; look again", holder=None
            )
        session._record_interrupted(holder)
        return UnlockReport(environment_lock=holder)


def _destroyed_last(ledger: Ledger, config: CloudConfig) -> bool:
    for record in ledger.history(config.app_name, config.environment, limit=1000):
        if record.status == State.DESTROYED:
            return True
        if record.completed:
            return False
    return False


def _rollback_target(ledger: Ledger, config: CloudConfig, *, recreate: bool) -> tuple[DeploymentRecord, str | None]:
    """(the deployment to deploy again, the deployment it replaces)."""
    history = ledger.history(config.app_name, config.environment, limit=1000)
    live = ledger.live(config.app_name, config.environment)
    if live is None:
        destroyed = next((record for record in history if record.status == State.DESTROYED), None)
        if destroyed is not None and not recreate:
            raise ConfigError(
                "command line",
                [
                    Problem(
                        "rollback",
                        destroyed.id,
                        f"the environment was destroyed ({destroyed.id}, version {destroyed.version}) and nothing is"
                        " live: a rollback would create everything again.",
                        "pass --recreate to deploy that version again, or deploy a new version.",
                    )
                ],
            )
        if destroyed is not None:
            return destroyed, None
        raise InfrastructureError(f"nothing to roll back to: no deployment of {config.environment} completed")
    if history and history[0].id != live.id:
        return live, history[0].id  # the newest failed or was interrupted: restore what is live
    earlier = next((record for record in history[1:] if record.completed), None)
    if earlier is None:
        raise InfrastructureError(f"nothing to roll back to: {live.id} is the only deployment of {config.environment}")
    return earlier, live.id


def history(config: CloudConfig, *, project_dir: Path | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The environment's deployments, newest first, as dicts (for `cloud status --json`)."""
    ledger = open_ledger(config, resolve_project_dir(project_dir))
    return [record.as_dict() for record in ledger.history(config.app_name, config.environment, limit)]


__all__ = ["Cloud", "UnlockReport", "history"]


PLAN_META = "plan.json"
"""What `plan(out=...)` planned: app, environment, version, the stacks and their counts."""


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
) -> list[PlanSummary]:
    session = _Session(config, project_dir=project_dir, on_line=on_line, logger=None, app=app)
    session.provider.check_stacks(config, stacks)
    if out is not None:
        _check_plan_folder(out)
    plan_id = f"{'drift' if refresh_only else 'plan'}-{new_deployment_id(config.environment)}"
    version = default_version(session.project_dir)
    deploy_config = session.deployment_config(plan_id, version, stacks=stacks, concurrency=concurrency)
    try:
        summaries = await session.provider.plan(deploy_config, refresh_only=refresh_only)
        if out is not None:
            _save_plans(deploy_config.work_dir / "cdktf.out", out, config, version, stacks, summaries)
        return summaries
    finally:
        shutil.rmtree(session.work_dir(plan_id), ignore_errors=True)


def _check_plan_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(
            "command line",
            [Problem("--out", str(out), "is a file, not a folder.", "give a new or empty folder, e.g. plans/.")],
        )
    if out.exists() and any(out.iterdir()) and not (out / PLAN_META).is_file():
        raise ConfigError(
            "command line",
            [Problem("--out", str(out), "is a folder with other files in it.", "give a new or empty folder.")],
        )


def _save_plans(
    outdir: Path,
    out: Path,
    config: CloudConfig,
    version: str,
    stacks: list[str] | None,
    summaries: list[PlanSummary],
) -> None:
    """Move the synthesized stacks with their saved plans to `out`, with what they are for (`plan.json`)."""
    if any(summary.error for summary in summaries) or not outdir.is_dir():
        return  # nothing to apply from a plan that failed
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    shutil.move(str(outdir), str(out / "cdktf.out"))
    meta = {
        "app": config.app_name,
        "environment": config.environment,
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "stacks": stacks,
        "plans": {
            summary.stack: {
                "add": summary.add,
                "change": summary.change,
                "destroy": summary.destroy,
                "saved": (out / "cdktf.out" / "stacks" / summary.stack / PLAN_FILE).is_file(),
            }
            for summary in summaries
        },
    }
    (out / PLAN_META).write_text(json.dumps(meta, indent=2) + "\n")


def read_saved_plans(plan_dir: Path, config: CloudConfig, stacks: list[str] | None) -> Path:
    """The synthesized folder of plans saved by `plan(out=plan_dir)`, checked to be for this app,
    environment and stack selection (a `ConfigError` otherwise)."""
    meta_file = plan_dir / PLAN_META
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError):
        raise ConfigError(
            "command line",
            [
                Problem(
                    "--plan",
                    str(plan_dir),
                    "holds no saved plan.",
                    "write one with `cloud plan --out DIR`, review it, then `cloud deploy --plan DIR`.",
                )
            ],
        ) from None
    problems = [
        Problem(
            "--plan",
            str(plan_dir),
            f"was planned for {key} {meta.get(key)!r}, not {wanted!r}.",
            "plan again for this one, or deploy with the matching --env/--config.",
        )
        for key, wanted in (("app", config.app_name), ("environment", config.environment))
        if meta.get(key) != wanted
    ]
    if (meta.get("stacks") or None) != (stacks or None):
        problems.append(
            Problem(
                "--stacks",
                " ".join(stacks or []) or "(all)",
                f"differs from the stacks the plan was made for ({' '.join(meta.get('stacks') or []) or 'all'}).",
                "deploy the same selection that was planned.",
            )
        )
    ConfigError.raise_if_any("command line", problems)
    return plan_dir / "cdktf.out"
