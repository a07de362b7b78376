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
import os
import time
from abc import abstractmethod
from collections.abc import Callable, Coroutine
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from stacks_cloud.cdk import App
from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import CloudError, CloudProviderError, ConfigError, Problem
from stacks_cloud.core.suggest import did_you_mean
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentRecord,
    DeploymentResult,
    DeploymentStatus,
    Health,
    PlanSummary,
    StackStatus,
    State,
    StateLock,
)
from stacks_cloud.providers.base import CloudProvider
from stacks_cloud.providers.process import CancelledAfterExit
from stacks_cloud.providers.state_locks import find_state_locks, remove_state_lock
from stacks_cloud.providers.terraform_cli import StackDir
from stacks_cloud.stacks.app import stack_names
from stacks_cloud.state.tfe import bootstrap_workspaces
from stacks_cloud.terraform.cli_config import discover_provider_mirror, write_cli_config
from stacks_cloud.terraform.init_cache import InitCache
from stacks_cloud.terraform.plan import Action, ResourceChange, counts, has_prior_state, read_drift, read_plan

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
        checked = [health for health in (await self.stacks_health(outputs)).values() if health is not Health.UNKNOWN]
        if not checked:
            return Health.UNKNOWN
        if all(health is Health.HEALTHY for health in checked):
            return Health.HEALTHY
        return Health.DEGRADED if Health.HEALTHY in checked else Health.UNHEALTHY

    async def stacks_health(self, outputs: dict[str, dict[str, Any]]) -> dict[str, Health]:
        """Each stack's health (checked at once). Default: unknown for every stack."""
        return dict.fromkeys(outputs, Health.UNKNOWN)

    def stack_url(self, stack: str, outputs: dict[str, Any]) -> str | None:
        """Where users reach one stack. Default: `url_from` of that stack alone."""
        return self.url_from({stack: outputs})

    def stack_names(self, config: CloudConfig) -> list[str]:
        """The stacks `config` produces (what `--stacks` may select). Default: the regions, then the global stack."""
        return stack_names(config)

    # --- the tools ----------------------------------------------------------------------------------------

    def _project_dir(self) -> Path:
        runtime = getattr(self, "runtime", None)
        if runtime is None:
            raise CloudProviderError("the provider was used before the orchestrator attached it", provider=self.name)
        project: Path = runtime.project_dir
        return project

    def terraform_env(self) -> dict[str, str]:
        """The environment terraform runs in: the project's CLI config (a provider mirror when found),
        a shared plugin cache, non-interactive."""
        project = self._project_dir()
        env = dict(os.environ)
        cache = project / ".cache" / "terraform"
        plugin_cache = cache / "plugins"
        plugin_cache.mkdir(parents=True, exist_ok=True)
        existing = env.get("TF_CLI_CONFIG_FILE")
        if not (existing and Path(existing).is_file()):
            env["TF_CLI_CONFIG_FILE"] = str(
                write_cli_config(cache / "terraform.tfrc", mirror=discover_provider_mirror())
            )
        env |= {
            "TF_PLUGIN_CACHE_DIR": str(plugin_cache),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
        }
        return env

    def init_cache(self) -> InitCache:
        """Each stack's last `terraform init`, reused while its backend, providers and lock file are unchanged."""
        return InitCache(self._project_dir() / ".cache" / "terraform" / "init")

    def _stack(self, outdir: Path, name: str, env: dict[str, str], log_dir: Path | None) -> StackDir:
        observer = getattr(self.runtime, "observer", None)
        on_event = getattr(self.runtime, "on_event", None)
        return StackDir(name, outdir / "stacks" / name, env, observer=observer, log_dir=log_dir, on_event=on_event)

    def _sink(self, config_sink: Any, stack: str) -> Callable[[str], None]:
        sink = config_sink or getattr(self.runtime, "on_line", None)
        return (lambda line: sink(stack, line)) if sink else (lambda line: None)

    # --- synth and ordering ---------------------------------------------------------------------------------

    def synthesize(self, config: DeploymentConfig) -> Path:
        """Synthesize `config` into `<work_dir>/cdktf.out` (in-process, like `cdktf synth`)."""
        outdir = config.work_dir / "cdktf.out"
        app = App(outdir=str(outdir))
        self.build(config, app)
        app.synth()
        return outdir

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

    async def prepare_backend(self, config: DeploymentConfig, stacks: list[str]) -> None:
        """The `cloud` backend: each stack's workspace exists with the configured execution mode, tags and
        project before terraform runs (terraform's own init would create it with the organization's
        default, remote, execution mode)."""
        cloud = config.cloud.state.cloud
        if config.cloud.state.backend != "cloud" or cloud is None:
            return
        report = await asyncio.to_thread(
            bootstrap_workspaces, cloud, stacks, app=config.app_name, environment=config.environment
        )
        if report.created or report.updated:
            self._sink(config.on_line, "terraform-cloud")(str(report))

    # --- the CloudProvider interface ---------------------------------------------------------------------------

    async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
        started = time.monotonic()
        outdir = config.synthesized_dir
        if outdir is None:
            outdir = await asyncio.to_thread(self.synthesize, config)
        waves = self.waves(outdir, config.stacks)
        env = self.terraform_env()
        ledger = self.runtime.ledger
        log_dir = config.work_dir / "logs"
        init_cache = self.init_cache()
        unchanged = self.unchanged_stacks(config, outdir)
        to_apply = [stack for wave in waves for stack in wave if stack not in unchanged]
        if to_apply:
            await self.prepare_backend(config, to_apply)
        outputs: dict[str, dict[str, Any]] = {}
        timings: dict[str, float] = {}
        changes: dict[str, dict[str, int]] = {}
        limit = asyncio.Semaphore(config.concurrency)
        progress = getattr(self.runtime, "progress", None)

        async def deploy_stack(stack: str) -> None:
            if stack in unchanged:  # as applied by the live deployment: nothing for terraform to do
                terraform = self._stack(outdir, stack, env, log_dir)
                outputs[stack], timings[stack], changes[stack] = unchanged[stack], 0.0, {}
                ledger.set_stack(config.deployment_id, stack, "deployed", outputs=outputs[stack], seconds=0.0)
                terraform.phase("unchanged", "unchanged since the live deployment: skipped (--force applies it)")
                terraform.done("unchanged", url=self.url_from({stack: outputs[stack]}))
                return
            async with limit:
                terraform = self._stack(outdir, stack, env, log_dir)
                sink = self._sink(config.on_line, stack)
                stack_started = time.monotonic()
                ledger.set_stack(config.deployment_id, stack, "deploying")
                applying = False
                plan_file = terraform.path / PLAN_FILE if config.saved_plans else None
                try:
                    terraform.phase("init")
                    await terraform.init(on_line=sink, cache=init_cache)
                    if progress is not None:
                        progress.started(stack)
                    applying = True
                    if plan_file is not None and plan_file.is_file():
                        terraform.phase("apply", "apply: the saved plan")
                        terraform.planned(json.loads((terraform.path / PLAN_COUNTS).read_text()))
                        events = await terraform.apply(on_line=sink, timeout=config.timeout, plan_file=plan_file)
                    else:
                        note = " (no saved plan: planned when its dependencies were not deployed)" if plan_file else ""
                        terraform.phase("refresh", f"refresh and plan{note}")
                        events = await terraform.apply(on_line=sink, timeout=config.timeout)
                    changes[stack] = events.summary
                    outputs[stack] = await terraform.outputs()
                except asyncio.CancelledError as cancelled:
                    # Interrupted: the running terraform was left to finish its stack (see providers.process).
                    result = cancelled.result if isinstance(cancelled, CancelledAfterExit) else None
                    finished = applying and result is not None and result.exit_code == 0
                    ledger.set_stack(
                        config.deployment_id,
                        stack,
                        "deployed" if finished else "interrupted",
                        seconds=time.monotonic() - stack_started,
                    )
                    terraform.done("deployed" if finished else "interrupted")
                    raise
                except Exception as error:
                    timings[stack] = time.monotonic() - stack_started
                    ledger.set_stack(config.deployment_id, stack, "failed", seconds=timings[stack], error=str(error))
                    terraform.done("failed")
                    raise
                timings[stack] = time.monotonic() - stack_started
                ledger.set_stack(
                    config.deployment_id, stack, "deployed", outputs=outputs[stack], seconds=timings[stack]
                )
                terraform.done("deployed", url=self.url_from({stack: outputs[stack]}))

        for wave in waves:
            await _all_or_first_error([deploy_stack(stack) for stack in wave])
        timings["total"] = time.monotonic() - started
        return DeploymentResult(
            success=True,
            url=self.url_from(outputs),
            deployment_id=config.deployment_id,
            outputs=outputs,
            timings=timings,
            changes=changes,
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
        work = self._project_dir() / ".cache" / "deployments" / f"destroy-{deployment_id}-{int(time.time())}"
        outdir = ledger.extract(deployment_id, work / "cdktf.out")
        env = self.terraform_env()
        init_cache = self.init_cache()
        waves = list(reversed(self.waves(outdir)))
        keep_resources = record.environment == "production"

        async def destroy_stack(stack: str) -> None:
            terraform = self._stack(outdir, stack, env, work / "logs")
            sink = self._sink(None, stack)
            terraform.phase("init")
            try:
                await terraform.init(on_line=sink, cache=init_cache)
                if keep_resources:
                    await self._forget_kept_resources(terraform, sink)
                terraform.phase("refresh", "refresh and plan the destroy")
                await terraform.apply(destroy=True, on_line=sink, timeout=3600)
            except BaseException:
                terraform.done("failed")
                raise
            ledger.set_stack(deployment_id, stack, "destroyed")
            terraform.done("destroyed")

        for wave in waves:
            await _all_or_first_error([destroy_stack(stack) for stack in wave])
        return True

    async def _forget_kept_resources(self, terraform: StackDir, on_line: Callable[[str], None]) -> None:
        """Production: resources marked to keep (`prevent_destroy`) and their construct's other resources
        leave the state instead of being destroyed, so `destroy` removes everything else and keeps them."""
        addresses = kept_addresses(json.loads((terraform.path / "cdk.tf.json").read_text()))
        if not addresses:
            return
        result, events = await terraform.run(["state", "rm", *addresses], action="keep", timeout=600, on_line=on_line)
        if result.exit_code != 0 and "No matching objects found" not in result.output:
            raise terraform.failure("state rm", result, events)

    async def get_status(self, deployment_id: str) -> DeploymentStatus:
        record = self.runtime.ledger.get(deployment_id)
        if record is None:
            raise CloudProviderError(f"no deployment {deployment_id!r} in the ledger", provider=self.name)
        outputs = {stack: run["outputs"] or {} for stack, run in record.stacks.items()}
        live = record.status == State.RUNNING
        healths = await self.stacks_health(outputs) if live else {}
        health = await self.health_of(outputs) if live else Health.UNKNOWN
        regions = [
            StackStatus(
                stack=stack,
                region=_region_of(stack, record.config_snapshot),
                status=str(run["status"]),
                url=self.stack_url(stack, outputs[stack]),
                health=healths.get(stack, Health.UNKNOWN),
                outputs=outputs[stack],
            )
            for stack, run in record.stacks.items()
        ]
        return DeploymentStatus(
            status=State(record.status),
            health=health,
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
        outdir = config.synthesized_dir
        if outdir is None:
            outdir = await asyncio.to_thread(self.synthesize, config)
        env = self.terraform_env()
        init_cache = self.init_cache()
        waves = self.waves(outdir, config.stacks)
        dependencies = self.dependencies(outdir)
        await self.prepare_backend(config, [stack for wave in waves for stack in wave])
        limit = asyncio.Semaphore(config.concurrency)
        summaries: dict[str, PlanSummary] = {}

        async def plan_stack(stack: str) -> PlanSummary:
            terraform = self._stack(outdir, stack, env, config.work_dir / "logs")
            (terraform.path / PLAN_FILE).unlink(missing_ok=True)
            missing = sorted(d for d in dependencies.get(stack, set()) if d in summaries and not summaries[d].deployed)
            if missing:
                return self._all_to_create(stack, terraform.path, missing, refresh_only=refresh_only)
            async with limit:
                sink = self._sink(config.on_line, stack)
                try:
                    await terraform.init(on_line=sink, cache=init_cache)
                    document = await terraform.plan(
                        terraform.path / PLAN_FILE, refresh_only=refresh_only, on_line=sink, timeout=config.timeout
                    )
                except CloudError as error:
                    (terraform.path / PLAN_FILE).unlink(missing_ok=True)
                    return PlanSummary(stack=stack, error=str(error).removeprefix(f"{stack}: "))
                if refresh_only:
                    (terraform.path / PLAN_FILE).unlink(missing_ok=True)  # a refresh-only plan is not for applying
                resources = [] if refresh_only else read_plan(document)
                if not refresh_only:  # what applying the saved plan will do, for the live view's "done of total"
                    (terraform.path / PLAN_COUNTS).write_text(json.dumps(counts(resources)))
                return PlanSummary(
                    stack=stack,
                    resources=resources,
                    drift=read_drift(document),
                    deployed=has_prior_state(document),
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
        return await asyncio.to_thread(find_state_locks, config, self.stack_names(config))

    async def unlock_stack(self, config: CloudConfig, lock: StateLock) -> None:
        await asyncio.to_thread(remove_state_lock, config, lock)


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
