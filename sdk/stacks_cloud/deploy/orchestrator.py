"""`Cloud`: pre-deploy hooks -> provider deploy -> post-deploy hooks; on any failure the on-error hooks.

Every run is recorded in the project's ledger (`cloud.ledger`). `context.rollback()` (for the
on-error hooks) and `Cloud.rollback` re-apply the archived synth of the last good deployment.

    result = await Cloud.deploy(config, version="1.4.0")
    status = await Cloud.status(config)
    await Cloud.destroy(config)
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import CloudError, CloudProviderError, HookError, InfrastructureError
from stacks_cloud.core.secrets import redact_text
from stacks_cloud.deploy.ledger import DeploymentRecord, Ledger
from stacks_cloud.deploy.project import APP_FILE, find_project_root, load_app, not_a_project
from stacks_cloud.hooks.base import Phase, run_phase
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentContext,
    DeploymentResult,
    DeploymentStatus,
    LineSink,
    PlanSummary,
    State,
)
from stacks_cloud.providers.base import CloudProvider, ProviderRuntime
from stacks_cloud.providers.registry import resolve_provider
from stacks_cloud.stacks.app import CloudApp

LOGGER = logging.getLogger("stacks_cloud")


def resolve_project_dir(project_dir: Path | None) -> Path:
    """`project_dir`, else the project at or above the working directory (its `cdktf.json`)."""
    if project_dir is not None:
        return project_dir.resolve()
    found = find_project_root(Path.cwd())
    if found is None:
        raise not_a_project(Path.cwd(), explicit=False)
    return found


def config_hash(config: CloudConfig) -> str:
    """A fingerprint of what the config deploys (hooks and provider objects left out; secrets masked)."""
    data = config.model_dump(mode="python", exclude={"hooks", "providers"})
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def new_deployment_id(environment: str) -> str:
    return f"{environment}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"


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


class _Session:
    """One orchestrated operation: the config, its provider, its ledger."""

    def __init__(
        self,
        config: CloudConfig,
        *,
        project_dir: Path | None,
        on_line: LineSink | None,
        logger: logging.Logger | None,
        app: CloudApp | None = None,
    ) -> None:
        self.config = config
        self.project_dir = resolve_project_dir(project_dir)
        if app is None and (self.project_dir / APP_FILE).is_file():
            app = load_app(self.project_dir)
        self.on_line = on_line
        self.logger = logger or LOGGER
        self.ledger = Ledger.for_project(self.project_dir, config.state.local_dir)
        self.rolled_back_to: str | None = None
        self.provider: CloudProvider = resolve_provider(config)
        self.provider.attach(
            ProviderRuntime(project_dir=self.project_dir, ledger=self.ledger, cloud=config, app=app, on_line=on_line)
        )

    def work_dir(self, deployment_id: str) -> Path:
        path = self.project_dir / ".cache" / "deployments" / deployment_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def deployment_config(
        self,
        deployment_id: str,
        version: str,
        *,
        stacks: list[str] | None = None,
        concurrency: int = 4,
        synthesized_dir: Path | None = None,
        timeout: float = 1800.0,
        rollback_of: str | None = None,
    ) -> DeploymentConfig:
        return DeploymentConfig(
            deployment_id=deployment_id,
            version=version,
            environment=self.config.environment,
            app_name=self.config.app_name,
            regions=self.config.regions,
            cloud=self.config,
            settings=self.config.provider_settings.get(self.config.driver),
            stacks=stacks,
            concurrency=concurrency,
            project_dir=self.project_dir,
            work_dir=self.work_dir(deployment_id),
            synthesized_dir=synthesized_dir,
            rollback_of=rollback_of,
            on_line=self.on_line,
            timeout=timeout,
        )

    def last_good(self, before: str | None = None) -> DeploymentRecord | None:
        for record in self.ledger.history(self.config.app_name, self.config.environment, limit=1000):
            if before is not None and record.id == before:
                continue
            if record.status == State.RUNNING:
                return record
        return None

    async def apply(
        self,
        deployment_id: str,
        version: str,
        *,
        stacks: list[str] | None,
        concurrency: int,
        rollback_of: str | None = None,
        synthesized_from: str | None = None,
        run_hooks: bool = True,
    ) -> DeploymentResult:
        """Record, run the hooks and the provider; on failure run on-error hooks and re-raise."""
        config = self.config
        self.ledger.start(
            deployment_id,
            app=config.app_name,
            environment=config.environment,
            version=version,
            provider=self.provider.name or type(self.provider).__name__,
            config_hash=config_hash(config),
            rollback_of=rollback_of,
        )
        context = DeploymentContext(
            deployment_id=deployment_id,
            version=version,
            environment=config.environment,
            regions=config.regions,
            app_name=config.app_name,
            logger=self.logger,
        )

        async def rollback() -> DeploymentResult | None:
            result = await self.rollback(failed=deployment_id)
            context.rolled_back_to = self.rolled_back_to
            return result

        context._rollback = rollback
        hooks = config.hooks
        try:
            if run_hooks:
                await run_phase(
                    Phase.PRE_DEPLOY, hooks.pre_deploy, context, environment=config.environment, logger=self.logger
                )
            self.ledger.set_status(deployment_id, State.DEPLOYING)
            synthesized_dir = None
            if synthesized_from is not None:
                synthesized_dir = self.ledger.extract(synthesized_from, self.work_dir(deployment_id) / "cdktf.out")
            deploy_config = self.deployment_config(
                deployment_id,
                version,
                stacks=stacks,
                concurrency=concurrency,
                synthesized_dir=synthesized_dir,
                rollback_of=rollback_of,
            )
            result = await self.provider.deploy(deploy_config)
            if result.synthesized_dir is not None:
                self.ledger.archive(deployment_id, result.synthesized_dir)
            if not result.success:
                raise InfrastructureError(f"provider {self.provider.name!r} reported the deployment as failed")
            for stack, outputs in result.outputs.items():
                self.ledger.set_stack(
                    deployment_id, stack, "deployed", outputs=outputs, seconds=result.timings.get(stack)
                )
            context.outputs, context.url = result.outputs, result.url
            self.ledger.set_status(deployment_id, State.DEPLOYING, url=result.url)
            if run_hooks:
                await run_phase(
                    Phase.POST_DEPLOY, hooks.post_deploy, context, environment=config.environment, logger=self.logger
                )
            self.ledger.set_status(deployment_id, State.RUNNING, url=result.url)
            return result
        except BaseException as error:
            typed = _typed(error, self.provider.name)
            self.ledger.set_status(deployment_id, State.FAILED, error=redact_text(str(typed)))
            if run_hooks and isinstance(error, Exception):
                try:
                    await run_phase(
                        Phase.ON_ERROR,
                        hooks.on_error,
                        typed,
                        context,
                        environment=config.environment,
                        logger=self.logger,
                    )
                except HookError as hook_error:
                    self.logger.error("%s", hook_error)
                    typed.add_note(f"while handling it: {hook_error}")
            if typed is error:
                raise
            raise typed from error

    async def rollback(self, failed: str | None = None) -> DeploymentResult | None:
        """Re-deploy the archive of the last good deployment (before `failed`), without hooks."""
        target = self.last_good(before=failed)
        self.rolled_back_to = target.id if target else None
        if target is None:
            self.logger.warning(
                "nothing to roll back to: no earlier successful deployment of %s", self.config.environment
            )
            return None
        deployment_id = new_deployment_id(self.config.environment)
        self.logger.warning("rolling back to %s (version %s) as %s", target.id, target.version, deployment_id)
        result = await self.apply(
            deployment_id,
            target.version,
            stacks=None,
            concurrency=4,
            rollback_of=failed,
            synthesized_from=target.id if target.has_archive else None,
            run_hooks=False,
        )
        if failed is not None:
            self.ledger.set_status(failed, State.ROLLED_BACK)
        return result


def _typed(error: BaseException, provider: str) -> CloudError:
    if isinstance(error, CloudError):
        return error
    message = redact_text(f"{type(error).__name__}: {error}")
    return CloudProviderError(message, provider=provider)


class Cloud:
    """The deploy API: `deploy`, `destroy`, `status`, `rollback`, `plan`; each takes the `CloudConfig` first.

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
    ) -> DeploymentResult:
        session = _Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app)
        deployment_id = new_deployment_id(config.environment)
        return await session.apply(
            deployment_id, version or default_version(session.project_dir), stacks=stacks, concurrency=concurrency
        )

    @staticmethod
    async def rollback(
        config: CloudConfig,
        *,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        logger: logging.Logger | None = None,
        app: CloudApp | None = None,
    ) -> DeploymentResult:
        """Re-deploy the last successful deployment before the latest one (which is marked rolled back)."""
        session = _Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app)
        history = session.ledger.history(config.app_name, config.environment, limit=1)
        result = await session.rollback(failed=history[0].id) if history else None
        if result is None:
            raise InfrastructureError(
                f"nothing to roll back to: no earlier successful deployment of {config.environment}"
            )
        return result

    @staticmethod
    async def status(
        config: CloudConfig,
        deployment_id: str | None = None,
        *,
        project_dir: Path | None = None,
        app: CloudApp | None = None,
    ) -> DeploymentStatus:
        """The status of `deployment_id` (default: the environment's latest deployment)."""
        session = _Session(config, project_dir=project_dir, on_line=None, logger=None, app=app)
        if deployment_id is None:
            history = session.ledger.history(config.app_name, config.environment, limit=1)
            if not history:
                return DeploymentStatus(status=State.PENDING)
            deployment_id = history[0].id
        return await session.provider.get_status(deployment_id)

    @staticmethod
    async def destroy(
        config: CloudConfig,
        *,
        deployment_id: str | None = None,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        logger: logging.Logger | None = None,
        app: CloudApp | None = None,
    ) -> bool:
        """Destroy the environment's stacks (as last deployed). Production keeps resources marked to keep."""
        session = _Session(config, project_dir=project_dir, on_line=on_line, logger=logger, app=app)
        if deployment_id is None:
            candidates = [
                record
                for record in session.ledger.history(config.app_name, config.environment, limit=1000)
                if record.status in (State.RUNNING, State.FAILED, State.ROLLED_BACK)
                and (record.has_archive or not record.stacks)  # what applied stacks must have its synth
            ]
            if not candidates:
                raise InfrastructureError(f"nothing to destroy: no deployment of {config.environment} in the ledger")
            deployment_id = candidates[0].id
        destroyed = await session.provider.destroy(deployment_id)
        if destroyed:
            session.ledger.set_status(deployment_id, State.DESTROYED)
        return destroyed

    @staticmethod
    async def plan(
        config: CloudConfig,
        *,
        stacks: list[str] | None = None,
        concurrency: int = 4,
        project_dir: Path | None = None,
        on_line: LineSink | None = None,
        app: CloudApp | None = None,
    ) -> list[PlanSummary]:
        session = _Session(config, project_dir=project_dir, on_line=on_line, logger=None, app=app)
        plan_id = f"plan-{new_deployment_id(config.environment)}"
        deploy_config = session.deployment_config(
            plan_id, default_version(session.project_dir), stacks=stacks, concurrency=concurrency
        )
        try:
            return await session.provider.plan(deploy_config)
        finally:
            shutil.rmtree(session.work_dir(plan_id), ignore_errors=True)


def history(config: CloudConfig, *, project_dir: Path | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """The environment's deployments, newest first, as dicts (for `cloud status --json`)."""
    ledger = Ledger.for_project(resolve_project_dir(project_dir), config.state.local_dir)
    return [record.as_dict() for record in ledger.history(config.app_name, config.environment, limit)]


__all__ = ["Cloud", "DeploymentContext", "history"]
