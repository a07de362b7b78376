"""`CdktfStacksProvider`: the engine of the built-in providers: cdktf stacks, synthesized in-process,
applied with terraform.

A subclass says how to build its stacks (`build`), where users reach the app (`url_from`) and how
healthy it is (`health_of`). This class synthesizes (as `cdktf synth` does), orders the stacks from
the dependencies cdktf wrote to `manifest.json` (`graphlib`: stacks without dependencies between
them at once, bounded by `concurrency`; the global stack after the regions it reads), and runs
`terraform init` and `terraform apply -json` in each stack's folder. Destroy goes in reverse order.

Terraform runs directly rather than through `cdktf deploy`: in its own process group (so Ctrl-C is
forwarded once and terraform finishes the resource in flight), with its machine-readable event
stream, and without a Node.js process per stack. The synthesized JSON is the same, so `cdktf
deploy` of the same project still works as users expect.

Stacks share one provider plugin cache; their `terraform init`s take turns on it
(`terraform.plugin_lock`), because concurrent installs into one cache fail.
"""

from __future__ import annotations

import asyncio
import json
import time
from abc import abstractmethod
from collections.abc import Callable, Coroutine
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from stacks_cloud.cdk import App
from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import (
    CloudError,
    CloudProviderError,
    ConfigError,
    Orphan,
    OrphanedResourcesError,
    Problem,
)
from stacks_cloud.core.layout import CacheLayout
from stacks_cloud.core.suggest import did_you_mean
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentRecord,
    DeploymentResult,
    DeploymentStatus,
    Health,
    HealthCheck,
    LineSink,
    PlanSummary,
    StackState,
    StackStatus,
    State,
    StateLock,
)
from stacks_cloud.providers.base import CloudProvider
from stacks_cloud.stacks.app import regional_stack_name, stack_names
from stacks_cloud.stacks.global_names import check_global_names
from stacks_cloud.state import backend_for
from stacks_cloud.state.base import RunNeeds
from stacks_cloud.terraform.cli_config import terraform_env
from stacks_cloud.terraform.events import Events
from stacks_cloud.terraform.executor import Executor, StackRunner
from stacks_cloud.terraform.init_cache import InitCache
from stacks_cloud.terraform.local import LocalExecutor
from stacks_cloud.terraform.plan import Action, ResourceChange, counts, read_drift, read_plan
from stacks_cloud.terraform.process import CancelledAfterExit
from stacks_cloud.terraform.unrecorded import crashed_logs, import_id, unrecorded
from stacks_cloud.terraform.version import require_terraform

PLAN_FILE = "plan.tfplan"
PLAN_COUNTS = "plan.counts.json"
"""A stack's saved plan, in its synthesized folder (`cloud plan --out`, applied by `cloud deploy --plan`)."""


class CdktfStacksProvider(CloudProvider):
    """Base of providers whose stacks are cdktf stacks applied with terraform."""

    @abstractmethod
    def build(self, config: DeploymentConfig, app: App) -> None:
        """Add the deployment's stacks to `app`."""

    def url_from(self, outputs: dict[str, dict[str, Any]]) -> str | None:
        """The address users call, from the stacks' outputs. Default: none."""
        return None

    async def health_of(self, outputs: dict[str, dict[str, Any]]) -> Health:
        """How healthy the deployed app is, from its stacks' health: all healthy, some (degraded), none."""
        return overall_health(await self.check_health(outputs))

    async def stacks_health(self, outputs: dict[str, dict[str, Any]]) -> dict[str, Health]:
        """Each stack's health (checked at once). Default: unknown for every stack."""
        return dict.fromkeys(outputs, Health.UNKNOWN)

    async def check_health(self, outputs: dict[str, dict[str, Any]]) -> dict[str, HealthCheck]:
        """Each stack's health with the reason when it is not healthy. Default: `stacks_health`, no reasons
        (a provider that can say why overrides this one)."""
        return {stack: HealthCheck(health=health) for stack, health in (await self.stacks_health(outputs)).items()}

    def stack_url(self, stack: str, outputs: dict[str, Any]) -> str | None:
        """Where users reach one stack. Default: `url_from` of that stack alone."""
        return self.url_from({stack: outputs})

    def stack_names(self, config: CloudConfig) -> list[str]:
        """The stacks `config` produces (what `--stacks` may select). Default: the regions, then the global stack."""
        return stack_names(config)

    def region_stacks(self, config: CloudConfig) -> dict[str, list[str]]:
        """Each region's stack (`<app>-<env>-<region>`), for a rollout region by region."""
        names = set(self.stack_names(config))
        return {
            region: [regional_stack_name(config, region)]
            for region in config.regions
            if regional_stack_name(config, region) in names
        }

    # --- the tools ----------------------------------------------------------------------------------------

    def _project_dir(self) -> Path:
        return self.runtime.project_dir

    def terraform_env(self) -> dict[str, str]:
        """The environment terraform runs in: the project's CLI config (a provider mirror when found),
        a shared plugin cache, non-interactive."""
        cache = CacheLayout(self._project_dir())
        return terraform_env(cache.terraform, plugin_cache=cache.plugins)

    def executor(self, config: CloudConfig) -> Executor:
        """Where the stacks' terraform runs, as the state backend says: on this machine (once its terraform is
        recent enough for the backend), or as Terraform Cloud runs."""
        env = self.terraform_env()
        backend = backend_for(config)
        local = LocalExecutor(env, observer=self.runtime.observer, on_event=self.runtime.on_event)
        executor = backend.executor(config, local)
        if executor is local:
            require_terraform(backend.minimum_terraform(config), env, needed_by=f"the {backend.name} state backend")
        return executor

    def _cloud(self) -> CloudConfig:
        return self.runtime.cloud

    def init_cache(self) -> InitCache:
        """Each stack's last `terraform init`, reused while its backend, providers and lock file are unchanged."""
        return InitCache(CacheLayout(self._project_dir()).inits)

    def line_sink(self, config_sink: LineSink | None, stack: str) -> Callable[[str], None]:
        """Where `stack`'s output lines go: the deployment's sink, else the runtime's."""
        sink = config_sink or self.runtime.on_line
        return (lambda line: sink(stack, line)) if sink else (lambda line: None)

    # --- synth and ordering ---------------------------------------------------------------------------------

    def synthesize(self, config: DeploymentConfig) -> Path:
        """Synthesize `config` into `<work_dir>/cdktf.out` (in-process, like `cdktf synth`)."""
        outdir = config.work_dir / "cdktf.out"
        app = App(outdir=str(outdir))
        self.build(config, app)
        app.synth()
        check_global_names(outdir)
        return outdir

    async def _synthesized(self, config: DeploymentConfig) -> Path:
        """The folder `config` already names, else a synth of it."""
        if config.synthesized_dir is not None:
            return config.synthesized_dir
        return await asyncio.to_thread(self.synthesize, config)

    def check_stacks(self, config: CloudConfig, selected: list[str] | None) -> None:
        """Refuse unknown stack names before anything runs (a usage error: exit 2, nothing recorded)."""
        if not selected:
            return
        known = self.stack_names(config)
        problems = [
            Problem(
                "--stacks",
                name,
                "is not a stack of this app.",
                did_you_mean(name, known) or f"use one of {', '.join(known)}.",
            )
            for name in selected
            if name not in known
        ]
        ConfigError.raise_if_any("command line", problems)

    @staticmethod
    def dependencies(outdir: Path) -> dict[str, set[str]]:
        """Each stack's dependencies, as cdktf wrote them to `manifest.json`."""
        manifest = json.loads((outdir / "manifest.json").read_text())
        return {name: set(stack.get("dependencies", [])) for name, stack in manifest["stacks"].items()}

    @classmethod
    def waves(cls, outdir: Path, selected: list[str] | None = None) -> list[list[str]]:
        """Stacks grouped so that every stack comes after the stacks it depends on (`manifest.json`)."""
        dependencies = cls.dependencies(outdir)
        if selected:
            unknown = sorted(set(selected) - set(dependencies))
            if unknown:
                raise ConfigError(
                    "command line",
                    [
                        Problem("--stacks", name, "is not a stack of this app.", did_you_mean(name, dependencies))
                        for name in unknown
                    ],
                )
            dependencies = {name: deps & set(selected) for name, deps in dependencies.items() if name in selected}
        sorter = TopologicalSorter(dependencies)
        try:
            sorter.prepare()
        except CycleError as error:
            raise CloudProviderError(
                f"the stacks depend on each other in a cycle: {error.args[1]}", provider="cdktf"
            ) from None
        waves: list[list[str]] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            waves.append(ready)
            sorter.done(*ready)
        return waves

    def skips_everything(self, config: DeploymentConfig, outdir: Path) -> bool:
        unchanged = self.unchanged_stacks(config, outdir)
        return bool(unchanged) and all(
            stack in unchanged for wave in self.waves(outdir, config.stacks) for stack in wave
        )

    def unchanged_stacks(self, config: DeploymentConfig, outdir: Path) -> dict[str, dict[str, Any]]:
        """The stacks to skip, with their outputs: those whose synthesized Terraform (`cdk.tf.json`, which
        names the provider versions and the content hash of every asset) is byte-identical to the live
        deployment's, when that deployment is also the last one run (no failed or interrupted run since,
        which may have changed something). Never for a rollback, saved plans, or `force`.

        Changes made outside `cloud deploy` (plain cdktf, the console) are not seen: `cloud drift` shows
        them, `--force` applies everything."""
        if config.force or config.rollback_of is not None or config.saved_plans:
            return {}
        ledger = self.runtime.ledger
        earlier = [
            r for r in ledger.history(config.app_name, config.environment, limit=5) if r.id != config.deployment_id
        ]
        if not earlier or earlier[0].status != State.RUNNING or not earlier[0].has_archive:
            return {}
        previous = earlier[0]
        old = config.work_dir / f"live-synth-{previous.id}"
        if not old.is_dir():
            try:
                ledger.extract(previous.id, old)
            except (LookupError, OSError):
                return {}
        unchanged: dict[str, dict[str, Any]] = {}
        for stack, run in previous.stacks.items():
            new_file, old_file = outdir / "stacks" / stack / "cdk.tf.json", old / "stacks" / stack / "cdk.tf.json"
            if run.get("status") != "deployed" or not (new_file.is_file() and old_file.is_file()):
                continue
            if new_file.read_bytes() == old_file.read_bytes():
                unchanged[stack] = dict(run.get("outputs") or {})
        return unchanged

    async def prepare_backend(self, cloud: CloudConfig, stacks: list[str], outdir: Path) -> None:
        """What the state backend needs before terraform runs on `stacks` (the `cloud` backend's workspaces,
        and for runs in Terraform Cloud the credentials they need: refused here when missing)."""
        backend = backend_for(cloud)
        environment = self.run_environment(cloud) if backend.runs_elsewhere(cloud) else {}
        needs = RunNeeds(stacks, self.dependencies(outdir), environment)
        outcome = await asyncio.to_thread(backend.prepare, cloud, needs)
        if outcome is not None and outcome.changed:
            self.line_sink(None, f"state ({backend.name})")(outcome.summary)

    # --- the CloudProvider interface ---------------------------------------------------------------------------

    async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
        started = time.monotonic()
        outdir = (
            config.synthesized_dir
            if config.synthesized_dir is not None
            else await asyncio.to_thread(self.synthesize, config)
        )
        waves = self.waves(outdir, config.stacks)
        run = _DeployRun(self, config, outdir, self.executor(config.cloud))
        skipped = {**run.unchanged, **config.kept}
        to_apply = [stack for wave in waves for stack in wave if stack not in skipped]
        if to_apply:
            await self.prepare_backend(config.cloud, to_apply, outdir)
        for wave in waves:
            await _all_or_first_error([run.stack(stack) for stack in wave])
        run.timings["total"] = time.monotonic() - started
        return DeploymentResult(
            success=True,
            url=self.url_from(run.outputs),
            deployment_id=config.deployment_id,
            outputs=run.outputs,
            timings=run.timings,
            changes=run.changes,
            synthesized_dir=outdir,
        )

    async def rollback(self, to: DeploymentRecord, config: DeploymentConfig) -> DeploymentResult:
        """Apply exactly what `to` applied: its archived synth (its config would not reproduce its assets)."""
        if not to.has_archive:
            return await super().rollback(to, config)
        outdir = self.runtime.ledger.extract(to.id, config.work_dir / "cdktf.out")
        # every stack: a rollback restores what a failed run may have changed, whatever the synth says
        return await self.deploy(config.model_copy(update={"synthesized_dir": outdir, "force": True}))

    async def destroy(self, deployment_id: str) -> bool:
        ledger = self.runtime.ledger
        record = ledger.get(deployment_id)
        if record is None:
            raise CloudProviderError(f"no deployment {deployment_id!r} in the ledger", provider=self.name)
        work = CacheLayout(self._project_dir()).work_dir(f"destroy-{deployment_id}-{int(time.time())}")
        outdir = ledger.extract(deployment_id, work / "cdktf.out")
        executor = self.executor(self._cloud())
        await self.prepare_backend(self._cloud(), [stack for wave in self.waves(outdir) for stack in wave], outdir)
        init_cache = self.init_cache()
        keep_resources = record.environment == "production"

        async def destroy_stack(stack: str) -> None:
            terraform = executor.stack(outdir, stack, log_dir=work / "logs")
            sink = self.line_sink(None, stack)
            terraform.phase("init")
            try:
                await terraform.init(on_line=sink, cache=init_cache)
                if keep_resources:
                    await self._forget_kept_resources(terraform, sink)
                terraform.phase("refresh", "refresh and plan the destroy")
                await terraform.apply(destroy=True, on_line=sink, timeout=3600)
            except BaseException:
                terraform.done(StackState.FAILED)
                raise
            ledger.set_stack(deployment_id, stack, StackState.DESTROYED, run=terraform.identity)
            terraform.done(StackState.DESTROYED)

        for wave in reversed(self.waves(outdir)):
            await _all_or_first_error([destroy_stack(stack) for stack in wave])
        return True

    async def _forget_kept_resources(self, terraform: StackRunner, on_line: Callable[[str], None]) -> None:
        """Production: resources marked to keep (`prevent_destroy`) and their construct's other resources
        leave the state instead of being destroyed, so `destroy` removes everything else and keeps them."""
        addresses = kept_addresses(json.loads((terraform.path / "cdk.tf.json").read_text()))
        if addresses:
            await terraform.forget(addresses, on_line=on_line)

    async def get_status(self, deployment_id: str) -> DeploymentStatus:
        record = self.runtime.ledger.get(deployment_id)
        if record is None:
            raise CloudProviderError(f"no deployment {deployment_id!r} in the ledger", provider=self.name)
        outputs = {stack: run["outputs"] or {} for stack, run in record.stacks.items()}
        live = record.status == State.RUNNING
        checks = await self.check_health(outputs) if live else {}
        health = overall_health(checks)
        regions = [
            StackStatus(
                stack=stack,
                region=_region_of(stack, record.config_snapshot),
                status=str(run["status"]),
                url=self.stack_url(stack, outputs[stack]),
                health=checks[stack].health if stack in checks else Health.UNKNOWN,
                health_reason=checks[stack].reason if stack in checks else None,
                outputs=outputs[stack],
                run=run.get("run"),
            )
            for stack, run in record.stacks.items()
        ]
        reasons = [f"{stack}: {check.reason}" for stack, check in checks.items() if check.reason]
        return DeploymentStatus(
            status=State(record.status),
            health=health,
            health_reason="; ".join(reasons) or None,
            stacks={stack: run["status"] for stack, run in record.stacks.items()},
            version=record.version,
            url=record.url,
            regions=regions,
            environment=record.environment,
        )

    async def plan(self, config: DeploymentConfig, *, refresh_only: bool = False) -> list[PlanSummary]:
        """Each stack's saved plan (`stacks/<stack>/plan.tfplan` in the synthesized folder), read back with
        `terraform show -json`. Stacks go in dependency order: a stack whose dependencies have no state
        yet (a new environment) is shown as all to create, with a note, instead of failing on their
        missing outputs. `refresh_only`: the drift (resources changed outside Terraform) instead."""
        outdir = (
            config.synthesized_dir
            if config.synthesized_dir is not None
            else await asyncio.to_thread(self.synthesize, config)
        )
        executor = self.executor(config.cloud)
        init_cache = self.init_cache()
        waves = self.waves(outdir, config.stacks)
        dependencies = self.dependencies(outdir)
        await self.prepare_backend(config.cloud, [stack for wave in waves for stack in wave], outdir)
        limit = asyncio.Semaphore(config.concurrency)
        summaries: dict[str, PlanSummary] = {}

        async def plan_stack(stack: str) -> PlanSummary:
            terraform = executor.stack(outdir, stack, log_dir=config.work_dir / "logs")
            (terraform.path / PLAN_FILE).unlink(missing_ok=True)
            missing = sorted(d for d in dependencies.get(stack, set()) if d in summaries and not summaries[d].deployed)
            if missing:
                return self._all_to_create(stack, terraform.path, missing, refresh_only=refresh_only)
            async with limit:
                sink = self.line_sink(config.on_line, stack)
                try:
                    terraform.phase("init")
                    await terraform.init(on_line=sink, cache=init_cache)
                    terraform.phase("refresh", "refresh-only plan" if refresh_only else "refresh and plan")
                    planned = await terraform.plan(
                        terraform.path / PLAN_FILE, refresh_only=refresh_only, on_line=sink, timeout=config.timeout
                    )
                except CloudError as error:
                    (terraform.path / PLAN_FILE).unlink(missing_ok=True)
                    terraform.done(StackState.FAILED)
                    message = str(error).removeprefix(f"{stack}: ")
                    return PlanSummary(stack=stack, error=message, run=terraform.identity)
                if refresh_only:
                    (terraform.path / PLAN_FILE).unlink(missing_ok=True)  # a refresh-only plan is not for applying
                resources = [] if refresh_only else read_plan(planned.document)
                if not refresh_only:  # what applying the saved plan will do, for the live view's "done of total"
                    (terraform.path / PLAN_COUNTS).write_text(json.dumps(counts(resources)))
                    terraform.planned(counts(resources))
                terraform.done("planned")
                return PlanSummary(
                    stack=stack,
                    resources=resources,
                    drift=read_drift(planned.document),
                    deployed=planned.deployed,
                    run=terraform.identity,
                    **counts(resources),
                )

        for wave in waves:
            for summary in await asyncio.gather(*(plan_stack(stack) for stack in wave)):
                summaries[summary.stack] = summary
        return [summaries[stack] for wave in waves for stack in wave]

    @staticmethod
    def _all_to_create(stack: str, path: Path, missing: list[str], *, refresh_only: bool) -> PlanSummary:
        """A stack whose dependencies are not deployed: every resource of its synthesized JSON to create."""
        synthesized = json.loads((path / "cdk.tf.json").read_text())
        resources = [
            ResourceChange(address=f"{kind}.{name}", type=kind, action=Action.CREATE)
            for kind, items in sorted(synthesized.get("resource", {}).items())
            for name in sorted(items)
        ]
        if refresh_only:
            return PlanSummary(stack=stack, deployed=False, note=f"{', '.join(missing)} not deployed yet")
        note = (
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not deployed yet: every resource is"
            " shown to create; the deploy plans this stack again after them"
        )
        return PlanSummary(stack=stack, resources=resources, deployed=False, note=note, **counts(resources))

    async def state_locks(self, config: CloudConfig) -> list[StateLock]:
        return await asyncio.to_thread(backend_for(config).state_locks, config, self.stack_names(config))

    async def unlock_stack(self, config: CloudConfig, lock: StateLock) -> None:
        await asyncio.to_thread(backend_for(config).remove_state_lock, config, lock)


class _DeployRun:
    """One deploy's stacks: each applied through the executor (or skipped when unchanged), recorded in
    the ledger as it goes, its outputs, timings and terraform's counts collected."""

    def __init__(self, provider: CdktfStacksProvider, config: DeploymentConfig, outdir: Path, executor: Executor):
        self.provider = provider
        self.config = config
        self.outdir = outdir
        self.executor = executor
        self.ledger = provider.runtime.ledger
        self.init_cache = provider.init_cache()
        self.unchanged = provider.unchanged_stacks(config, outdir)
        self.limit = asyncio.Semaphore(config.concurrency)
        self.outputs: dict[str, dict[str, Any]] = {}
        self.timings: dict[str, float] = {}
        self.changes: dict[str, dict[str, int]] = {}

    def _runner(self, stack: str) -> StackRunner:
        return self.executor.stack(self.outdir, stack, log_dir=self.config.work_dir / "logs")

    def _record(self, stack: str, state: StackState, seconds: float, **fields: Any) -> None:
        self.ledger.set_stack(self.config.deployment_id, stack, state, seconds=seconds, **fields)

    async def stack(self, stack: str) -> None:
        skipped = self.config.kept if stack in self.config.kept else self.unchanged
        if stack in skipped:  # nothing for terraform to do
            kept = skipped is self.config.kept
            why = "applied by the earlier run of this release" if kept else "unchanged since the live deployment"
            self.outputs[stack], self.timings[stack], self.changes[stack] = skipped[stack], 0.0, {}
            self._record(stack, StackState.DEPLOYED, 0.0, outputs=self.outputs[stack])
            if kept and self.config.rollback_of is not None:
                return  # a rollback: the failed run never touched it, nothing to show
            terraform = self._runner(stack)
            terraform.phase("unchanged", f"{why}: skipped (--force applies it)")
            terraform.done(StackState.UNCHANGED, url=self.provider.url_from({stack: self.outputs[stack]}))
            return
        async with self.limit:
            await self._apply(stack)

    async def _apply(self, stack: str) -> None:
        terraform = self._runner(stack)
        sink = self.provider.line_sink(self.config.on_line, stack)
        started = time.monotonic()
        self.ledger.set_stack(self.config.deployment_id, stack, StackState.DEPLOYING)
        applying = False
        try:
            terraform.phase("init")
            await terraform.init(on_line=sink, cache=self.init_cache)
            await self._refuse_unrecorded(terraform)
            self.provider.runtime.progress.started(stack)
            applying = True
            events = await self._apply_plan(terraform, sink)
            self.changes[stack] = events.summary
            self.outputs[stack] = await terraform.outputs()
        except asyncio.CancelledError as cancelled:
            # Interrupted: the running terraform was left to finish its stack (see terraform.process).
            result = cancelled.result if isinstance(cancelled, CancelledAfterExit) else None
            finished = applying and result is not None and result.exit_code == 0
            state = StackState.DEPLOYED if finished else StackState.INTERRUPTED
            self._record(stack, state, time.monotonic() - started, run=terraform.identity)
            terraform.done(state)
            raise
        except Exception as error:
            self.timings[stack] = time.monotonic() - started
            self._record(stack, StackState.FAILED, self.timings[stack], error=str(error), run=terraform.identity)
            terraform.done(StackState.FAILED)
            raise
        self.timings[stack] = time.monotonic() - started
        identity = terraform.identity or await asyncio.to_thread(
            backend_for(self.config.cloud).applied_identity, self.config.cloud, stack
        )
        self._record(stack, StackState.DEPLOYED, self.timings[stack], outputs=self.outputs[stack], run=identity)
        terraform.done(StackState.DEPLOYED, url=self.provider.url_from({stack: self.outputs[stack]}))

    async def _refuse_unrecorded(self, terraform: StackRunner) -> None:
        """Before applying: what an earlier apply of this stack created and never recorded (its terraform was
        killed) is reported with the command to import each resource, instead of being created twice."""
        logs = crashed_logs(self.config.work_dir.parent, terraform.name, current=self.config.work_dir)
        if not logs:
            return
        state = await terraform.state_resources()
        missing = unrecorded(logs, set(state))
        if not missing:
            return
        synthesized = json.loads((terraform.path / "cdk.tf.json").read_text())
        ids = {created.address: created.identifier for created in missing if created.identifier}
        orphans = []
        for created in missing:
            command = f"cd {terraform.path} && terraform import '{created.address}' "
            command += f"'{import_id(created, synthesized, state, ids)}'"
            if not created.complete:
                command = f"(terraform was killed while creating it: if it exists in the cloud) {command}"
            orphans.append(Orphan(created.address, command))
        sources = sorted({str(created.log) for created in missing})
        raise OrphanedResourcesError(
            "deploy",
            orphans,
            stack=terraform.name,
            details=(
                "found in terraform's own log of the apply that was killed: " + ", ".join(sources) + ". Once each"
                " resource is imported, deploy again; if you delete them in the cloud instead, delete that log"
                " too, then deploy again."
            ),
        )

    async def _apply_plan(self, terraform: StackRunner, sink: Callable[[str], None]) -> Events:
        """Apply the stack's saved plan when there is one (`cloud deploy --plan`), else plan and apply."""
        plan_file = terraform.path / PLAN_FILE if self.config.saved_plans else None
        if plan_file is not None and plan_file.is_file():
            terraform.phase("apply", "apply: the saved plan")
            terraform.planned(json.loads((terraform.path / PLAN_COUNTS).read_text()))
            return await terraform.apply(on_line=sink, timeout=self.config.timeout, plan_file=plan_file)
        note = " (no saved plan: planned when its dependencies were not deployed)" if plan_file else ""
        terraform.phase("refresh", f"refresh and plan{note}")
        return await terraform.apply(on_line=sink, timeout=self.config.timeout)


async def _all_or_first_error(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    """Run together; let every one finish (never stop an apply half-way), then raise the first error.

    Cancellation (Ctrl-C) reaches every one, each lets its terraform finish, then it propagates.
    """
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    for result in results:
        if isinstance(result, asyncio.CancelledError):
            raise result
    errors = [result for result in results if isinstance(result, BaseException)]
    if errors:
        raise errors[0]


_NOT_KEPT = frozenset({"aws_iam_role_policy"})


def kept_addresses(synthesized: dict[str, Any]) -> list[str]:
    """Addresses of `prevent_destroy` resources and of the other resources of their constructs, but grants:
    an inline policy on another construct's role goes with that role."""
    resources = {kind: items for kind, items in synthesized.get("resource", {}).items() if kind not in _NOT_KEPT}
    kept_paths = [
        body["//"]["metadata"]["path"].rsplit("/", 1)[0] + "/"
        for items in resources.values()
        for body in items.values()
        if body.get("lifecycle", {}).get("prevent_destroy")
    ]
    return sorted(
        f"{kind}.{name}"
        for kind, items in resources.items()
        for name, body in items.items()
        if any(body["//"]["metadata"]["path"].startswith(prefix) for prefix in kept_paths)
    )


def _region_of(stack: str, snapshot: dict[str, Any] | None) -> str | None:
    """The region a stack deploys to, by its name's suffix among the config's regions (None: global)."""
    regions = ((snapshot or {}).get("multi_region") or {}).get("replica_regions") or []
    candidates = [*regions, str((snapshot or {}).get("region") or "")]
    primary = ((snapshot or {}).get("multi_region") or {}).get("primary_region")
    if primary:
        candidates.append(str(primary))
    for region in sorted({c for c in candidates if c}, key=len, reverse=True):
        if stack.endswith(f"-{region}"):
            return str(region)
    return None


def overall_health(checks: dict[str, HealthCheck]) -> Health:
    """The app's health from its stacks': all healthy, some (degraded), none; unknown when none was checked."""
    checked = [check.health for check in checks.values() if check.health is not Health.UNKNOWN]
    if not checked:
        return Health.UNKNOWN
    if all(health is Health.HEALTHY for health in checked):
        return Health.HEALTHY
    return Health.DEGRADED if Health.HEALTHY in checked else Health.UNHEALTHY
