"""One orchestrated operation: the config, its provider, the state backend's ledger, the environment lock.

A deployment is a short sequence of named steps (`Session.apply`): record it, run the pre-deploy hooks,
the policy gate, the provider, record what it applied, run the post-deploy hooks, make it live. On a
failure the on-error hooks run (they may call `context.rollback()`); on an interruption (Ctrl-C,
SIGTERM: the task is cancelled) the deployment is recorded `interrupted` with the stacks that finished,
and nothing is rolled back unless asked for (`rollback_on_interrupt`).

Rollback only when it helps and only to what was live: `context.rollback()` is a logged no-op while
nothing was applied in the deployment; it re-deploys the live deployment's record exactly (its
archived synth, or its config snapshot and version), and an on-error hook's timeout does not cut it
short.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks_cloud.config import CloudConfig
from stacks_cloud.config.rollout import OnFailure
from stacks_cloud.core.errors import (
    CloudError,
    CloudProviderError,
    ConfigError,
    HookError,
    InfrastructureError,
    Problem,
    RolloutHaltedError,
)
from stacks_cloud.core.layout import CacheLayout
from stacks_cloud.core.secrets import mask_logger, redact_text, register_secret_environment
from stacks_cloud.deploy.env_lock import EnvironmentLock
from stacks_cloud.deploy.policy_step import PolicyStep
from stacks_cloud.deploy.project import APP_FILE, load_app
from stacks_cloud.deploy.rollout import Rollout, rollout_of
from stacks_cloud.deploy.snapshots import (
    config_hash,
    config_snapshot,
    new_deployment_id,
    resolve_project_dir,
    restore_config,
)
from stacks_cloud.hooks.base import Phase, register_hook_secrets, run_phase
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentContext,
    DeploymentRecord,
    DeploymentResult,
    LineSink,
    StackState,
    State,
)
from stacks_cloud.providers.base import ApplyProgress, CloudProvider, ProviderRuntime
from stacks_cloud.providers.registry import resolve_provider
from stacks_cloud.stacks.app import CloudApp
from stacks_cloud.state import Ledger, backend_for
from stacks_cloud.terraform.events import ROLLING_BACK, Event, EventSink, done_event, phase_event

LOGGER = logging.getLogger("stacks_cloud")


@dataclass(frozen=True)
class RunOptions:
    """How one deployment runs: the stack selection, parallelism, and what to do around the provider."""

    stacks: list[str] | None = None
    concurrency: int = 4
    rollback_of: str | None = None
    """The deployment this one replaces (a rollback)."""
    target: DeploymentRecord | None = None
    """Deploy again exactly this earlier deployment (a rollback)."""
    run_hooks: bool = True
    rollback_on_interrupt: bool = False
    checks: bool | None = None
    """The policy gate: True runs it, False records it skipped, None: not at all (a rollback re-applies
    what was checked before)."""
    saved_plans: Path | None = None
    force: bool = False
    timeout: float = 1800.0
    """Seconds one stack may take (a Terraform Cloud run, from when it is queued)."""
    wave: int | None = None
    """Roll out up to and including this wave (`--wave`), then stop: recorded `partial`."""
    regions: list[str] | None = None
    """Roll out only these regions (`--regions`), in their waves' order: recorded `partial` unless all."""
    kept: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Stacks not to apply, with their outputs (a rollback leaves the stacks the failed run never touched)."""


class Session:
    """The config, its provider, its ledger and the environment lock, for one operation."""

    def __init__(
        self,
        config: CloudConfig,
        *,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        logger: logging.Logger | None = None,
        app: CloudApp | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        self.config = config
        # Every secret known before the first hook runs is registered now: secret-looking environment
        # variables (a hook may read them with os.environ) and the secrets the hooks were given.
        register_secret_environment()
        register_hook_secrets([*config.hooks.pre_deploy, *config.hooks.post_deploy, *config.hooks.on_error])
        self.project_dir = resolve_project_dir(project_dir)
        if app is None and (self.project_dir / APP_FILE).is_file():
            app = load_app(self.project_dir)
        self.on_line = on_line
        self.on_event = on_event
        self.logger = logger or LOGGER
        mask_logger(self.logger)  # hooks log through it: registered secrets never reach a handler in clear
        mask_logger(self.logger.getChild("hooks"))
        self.cache = CacheLayout(self.project_dir)
        self.ledger: Ledger = backend_for(config).open_ledger(config, self.project_dir)
        self.provider: CloudProvider = resolve_provider(config)
        self.lock = EnvironmentLock(self.ledger, config.app_name, config.environment, self.logger)
        self.progress = ApplyProgress()
        self.gate = PolicyStep(self.provider, self.ledger, self.app_env, self.say, self.logger)
        self.deploy_called = False
        self._rollback_task: asyncio.Future[DeploymentResult | None] | None = None
        self.rolled_back_to: str | None = None
        self.provider.attach(
            ProviderRuntime(
                project_dir=self.project_dir,
                ledger=self.ledger,
                cloud=config,
                app=app,
                on_line=on_line,
                observer=self.lock.observe,
                progress=self.progress,
                on_event=on_event,
            )
        )

    @property
    def app_env(self) -> tuple[str, str]:
        return self.config.app_name, self.config.environment

    def say(self, source: str, line: str) -> None:
        if self.on_line is not None:
            self.on_line(source, line)

    def _event(self, stack: str, event: Event) -> None:
        if self.on_event is not None:
            self.on_event(stack, event)

    async def acquire(self, deployment_id: str, operation: str) -> None:
        """Take the environment lock (see `deploy.env_lock`)."""
        await self.lock.acquire(deployment_id, operation, lambda: self.provider.state_locks(self.config))

    async def release(self) -> None:
        await self.lock.release()

    def deployment_config(
        self, deployment_id: str, version: str, options: RunOptions, *, config: CloudConfig | None = None
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
            stacks=options.stacks,
            concurrency=options.concurrency,
            project_dir=self.project_dir,
            work_dir=self.cache.work_dir(deployment_id),
            rollback_of=options.rollback_of,
            on_line=self.on_line,
            synthesized_dir=options.saved_plans,
            saved_plans=options.saved_plans is not None,
            force=options.force or options.target is not None,
            timeout=options.timeout,
            kept=options.kept,
        )

    # --- a deployment, step by step -------------------------------------------------------------------------

    def applied_anything(self) -> bool:
        """Whether this session may have changed infrastructure (only then is a rollback worth running)."""
        return bool(self.progress.applying) if self.progress.tracks_stacks else self.deploy_called

    async def apply(self, deployment_id: str, version: str, options: RunOptions) -> DeploymentResult:
        """Record, run the hooks, the policy gate and the provider. On failure: on-error hooks, then re-raise;
        on interruption: record it and re-raise the cancellation."""
        cloud = self._config_of(options.target)
        self._record_start(deployment_id, version, cloud, options)
        context = DeploymentContext(
            deployment_id=deployment_id,
            version=version,
            environment=cloud.environment,
            regions=cloud.regions,
            app_name=cloud.app_name,
            logger=self.logger.getChild("hooks"),  # shown at INFO by the CLI: the guide's console.log
            rollback_handler=lambda: self._context_rollback(deployment_id, context),
        )
        try:
            await self._hooks(Phase.PRE_DEPLOY, cloud, context, options)
            deploy_config = self.deployment_config(deployment_id, version, options, config=cloud)
            if options.checks is not None:
                deploy_config = await self.gate.run(deployment_id, deploy_config, options.checks)
            result = await self._run_provider(deploy_config, options, cloud, context)
            context.outputs, context.url = result.outputs, result.url
            if result.partial:  # a rollout stopped on purpose: not live, the next deploy continues it
                self.ledger.set_status(deployment_id, State.PARTIAL, url=result.url)
                return result
            await self._hooks(Phase.POST_DEPLOY, cloud, context, options)
            self._make_live(deployment_id, result)
            return result
        except asyncio.CancelledError:
            await self._interrupted(deployment_id, cloud, context, options)
            raise
        except Exception as error:
            typed = await self._failed(error, deployment_id, version, cloud, context, options)
            if typed is error:
                raise
            raise typed from error

    def _config_of(self, target: DeploymentRecord | None) -> CloudConfig:
        """The config to deploy: the session's, or the one `target` was deployed with (its secrets current)."""
        if target is None or not target.config_snapshot:
            return self.config
        try:
            return restore_config(self.config, target.config_snapshot)
        except ConfigError as error:
            raise ConfigError(
                f"configuration of deployment {target.id} (to roll back to)",
                [Problem(p.path, p.value, p.message, p.fix) for p in error.problems],
            ) from None

    def _record_start(self, deployment_id: str, version: str, cloud: CloudConfig, options: RunOptions) -> None:
        self.ledger.start(
            deployment_id,
            app=cloud.app_name,
            environment=cloud.environment,
            version=version,
            provider=self.provider.name or type(self.provider).__name__,
            config_hash=config_hash(cloud),
            rollback_of=options.rollback_of,
            kind="rollback" if options.target is not None else "deploy",
            config_snapshot=config_snapshot(cloud),
        )

    async def _hooks(self, phase: Phase, cloud: CloudConfig, context: DeploymentContext, options: RunOptions) -> None:
        if not options.run_hooks:
            return
        hooks = cloud.hooks.pre_deploy if phase is Phase.PRE_DEPLOY else cloud.hooks.post_deploy
        await run_phase(phase, hooks, context, environment=cloud.environment, logger=self.logger)

    async def _run_provider(
        self, deploy_config: DeploymentConfig, options: RunOptions, cloud: CloudConfig, context: DeploymentContext
    ) -> DeploymentResult:
        """Apply with the provider (wave by wave when a rollout applies) and record each stack it deployed (and
        the synth it applied)."""
        deployment_id = deploy_config.deployment_id
        self.ledger.set_status(deployment_id, State.DEPLOYING)
        self.deploy_called = True
        rollout = (
            None
            if options.target is not None
            else rollout_of(self.provider, cloud, wave=options.wave, regions=options.regions)
        )
        if options.target is not None:
            result = await self.provider.rollback(options.target, deploy_config)
        elif rollout is not None:
            waves = Rollout(
                self.provider,
                rollout,
                deploy_config,
                context,
                self.ledger,
                say=self.say,
                on_event=self.on_event,
                wave=options.wave,
                regions=options.regions,
            )
            result = (await waves.run()).model_copy(update={"partial": not waves.complete})
        else:
            result = await self.provider.deploy(deploy_config)
        result = result.model_copy(update={"version": deploy_config.version, "environment": cloud.environment})
        if result.synthesized_dir is not None and rollout is None:  # a rollout archived it before its first wave
            self.ledger.archive(deployment_id, result.synthesized_dir)
        if not result.success:
            raise InfrastructureError(f"provider {self.provider.name!r} reported the deployment as failed")
        for stack, outputs in result.outputs.items():
            self.ledger.set_stack(
                deployment_id, stack, StackState.DEPLOYED, outputs=outputs, seconds=result.timings.get(stack)
            )
        return result

    def _make_live(self, deployment_id: str, result: DeploymentResult) -> None:
        previous = self.ledger.live(*self.app_env)
        self.ledger.set_status(deployment_id, State.RUNNING, url=result.url)
        if previous is not None and previous.id != deployment_id:
            self.ledger.set_status(previous.id, State.SUPERSEDED)
        self.ledger.prune_archives(*self.app_env, keep=self.config.state.keep_archives)

    async def _interrupted(
        self, deployment_id: str, cloud: CloudConfig, context: DeploymentContext, options: RunOptions
    ) -> None:
        self.ledger.set_status(
            deployment_id,
            State.INTERRUPTED,
            error="interrupted (Ctrl-C or SIGTERM): running terraform finished its resource in flight and"
            " saved its state; the stacks that finished are recorded",
        )
        if options.rollback_on_interrupt and options.run_hooks and self.applied_anything():
            interruption = InfrastructureError(f"deployment {deployment_id} was interrupted")
            await self._on_error(cloud, interruption, context)

    async def _failed(
        self,
        error: Exception,
        deployment_id: str,
        version: str,
        cloud: CloudConfig,
        context: DeploymentContext,
        options: RunOptions,
    ) -> CloudError:
        """Record the failure as the typed error it becomes, and run the on-error hooks."""
        typed = error if isinstance(error, CloudError) else self._as_provider_error(error)
        typed.deployment = {"deployment_id": deployment_id, "version": version, "environment": cloud.environment}
        if isinstance(typed, RolloutHaltedError):
            await self._halted(typed, deployment_id, cloud, context)
        else:
            self.ledger.set_status(deployment_id, State.FAILED, error=redact_text(str(typed)))
        if options.run_hooks:
            await self._on_error(cloud, typed, context)
        return typed

    async def _halted(
        self, halt: RolloutHaltedError, deployment_id: str, cloud: CloudConfig, context: DeploymentContext
    ) -> None:
        """A gate failed: record `halted`, then roll the deployed waves back to the live deployment unless the
        config leaves them for a human (the on-error hooks run after, knowing which)."""
        self.ledger.set_status(deployment_id, State.HALTED, error=redact_text(str(halt)))
        rollout = cloud.multi_region.rollout_for(cloud.environment)
        if rollout is not None and rollout.on_failure is OnFailure.HALT:
            live = self.ledger.live(*self.app_env)
            then = f"`cloud rollback` restores {live.id} (version {live.version})" if live else "`cloud destroy`"
            halt.add_note(f"the deployed waves were left as they are (onFailure: halt): {then}.")
            return
        touched = list(self.progress.applying)
        self.say("rollout", f"halted: {halt.reason}; rolling back {', '.join(touched) or 'nothing'} to what was live")
        for stack in touched:
            self._event(stack, phase_event(ROLLING_BACK, "rolling back to what was live before the halted rollout"))
        try:
            await self._context_rollback(deployment_id, context)
        except Exception as failure:  # the halt is the error to report; the rollback's failure is a note on it
            self.logger.error("rolling back the halted rollout failed: %s", failure)
            halt.add_note(f"rolling back the deployed waves failed: {failure}")
            return
        halt.rolled_back_to = self.rolled_back_to
        for stack in touched:
            self._event(stack, done_event("rolled back" if self.rolled_back_to else "halted"))
        if self.rolled_back_to is not None:
            text = f"{halt}; the deployed waves were rolled back to {self.rolled_back_to}"
            self.ledger.set_status(deployment_id, State.HALTED, error=redact_text(text))
            halt.add_note(f"the deployed waves were rolled back to {self.rolled_back_to} (what was live).")
        else:
            halt.add_note("nothing was live before it to roll back to: the deployed waves were left as they are.")

    def _as_provider_error(self, error: Exception) -> CloudProviderError:
        message = redact_text(f"{type(error).__name__}: {error}")
        return CloudProviderError(message, provider=self.provider.name)

    async def _on_error(self, cloud: CloudConfig, error: CloudError, context: DeploymentContext) -> None:
        try:
            await run_phase(
                Phase.ON_ERROR, cloud.hooks.on_error, error, context, environment=cloud.environment, logger=self.logger
            )
        except HookError as hook_error:
            self.logger.error("%s", hook_error)
            error.add_note(f"while handling it: {hook_error}")
        finally:
            if self._rollback_task is not None:  # started by a hook: finish it even if the hook timed out
                with contextlib.suppress(Exception):
                    await self._rollback_task

    # --- rolling back -----------------------------------------------------------------------------------------

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
        kept: dict[str, dict[str, Any]] = {}
        newest = [record.id for record in self.ledger.history(*self.app_env, limit=2)]
        if self.progress.tracks_stacks and newest == [failed, target.id]:
            # `failed` came right after `target`: the stacks it never touched are as `target` left them (with
            # another run in between, that run may have changed them: every stack is applied again)
            kept = {
                stack: dict(run.get("outputs") or {})
                for stack, run in target.stacks.items()
                if stack not in self.progress.applying and run.get("status") == StackState.DEPLOYED.value
            }
        return await self.redeploy(target, rollback_of=failed, kept=kept)

    async def redeploy(
        self, target: DeploymentRecord, *, rollback_of: str | None, kept: dict[str, dict[str, Any]] | None = None
    ) -> DeploymentResult:
        """Deploy `target` again, exactly (its archive or config snapshot), without hooks or gate; `kept`: stacks
        known to be as `target` left them (not applied again)."""
        self.rolled_back_to = target.id
        deployment_id = new_deployment_id(self.config.environment)
        self.logger.info("rolling back to %s (version %s) as %s", target.id, target.version, deployment_id)
        self.say("rollback", f"rolling back to {target.id} (version {target.version}) as {deployment_id}")
        self.progress.applying.clear()
        options = RunOptions(rollback_of=rollback_of, target=target, run_hooks=False, kept=kept or {})
        result = await self.apply(deployment_id, target.version, options)
        replaced = self.ledger.get(rollback_of) if rollback_of is not None else None
        if replaced is not None and replaced.status != State.HALTED:  # a halted rollout stays `halted`
            self.ledger.set_status(replaced.id, State.ROLLED_BACK)
        return result
