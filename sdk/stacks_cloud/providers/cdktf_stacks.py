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

Before stacks start in parallel, one `terraform init -backend=false` warms the shared plugin cache:
concurrent first installs into one cache are what fails with "text file busy" at 7+ stacks.
"""

from __future__ import annotations

import asyncio
import contextlib
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
from stacks_cloud.core.errors import CloudProviderError, ConfigError, Problem
from stacks_cloud.core.suggest import did_you_mean
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentRecord,
    DeploymentResult,
    DeploymentStatus,
    Health,
    PlanSummary,
    State,
    StateLock,
)
from stacks_cloud.providers.base import CloudProvider
from stacks_cloud.providers.process import CancelledAfterExit, run_streaming
from stacks_cloud.providers.state_locks import find_state_locks, remove_state_lock
from stacks_cloud.providers.terraform_cli import StackDir
from stacks_cloud.stacks.app import stack_names
from stacks_cloud.terraform.cli_config import discover_provider_mirror, write_cli_config


class CdktfStacksProvider(CloudProvider):
    """Base of providers whose stacks are cdktf stacks applied with terraform."""

    @abstractmethod
    def build(self, config: DeploymentConfig, app: App) -> None:
        """Add the deployment's stacks to `app`."""

    def url_from(self, outputs: dict[str, dict[str, Any]]) -> str | None:
        """The address users call, from the stacks' outputs. Default: none."""
        return None

    async def health_of(self, outputs: dict[str, dict[str, Any]]) -> Health:
        """How healthy the deployed app is. Default: unknown."""
        return Health.UNKNOWN

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

    def _stack(self, outdir: Path, name: str, env: dict[str, str], log_dir: Path | None) -> StackDir:
        observer = getattr(self.runtime, "observer", None)
        return StackDir(name, outdir / "stacks" / name, env, observer=observer, log_dir=log_dir)

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
    def waves(outdir: Path, selected: list[str] | None = None) -> list[list[str]]:
        """Stacks grouped so that every stack comes after the stacks it depends on (`manifest.json`)."""
        manifest = json.loads((outdir / "manifest.json").read_text())
        dependencies = {name: set(stack.get("dependencies", [])) for name, stack in manifest["stacks"].items()}
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

    async def _warm_plugin_cache(self, stack_dir: Path, env: dict[str, str]) -> None:
        result = await run_streaming(
            ["terraform", "init", "-backend=false", "-input=false", "-no-color"], cwd=stack_dir, env=env, timeout=600
        )
        if result.exit_code != 0:
            raise CloudProviderError(
                "terraform init failed",
                provider=self.name,
                stack=stack_dir.name,
                exit_code=result.exit_code,
                stderr_tail=result.tail,
            )
        # Leave no backend-less initialisation behind for the real init.
        with contextlib.suppress(OSError):
            (stack_dir / ".terraform" / "terraform.tfstate").unlink()

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
        await self._warm_plugin_cache(outdir / "stacks" / waves[0][0], env)
        outputs: dict[str, dict[str, Any]] = {}
        timings: dict[str, float] = {}
        limit = asyncio.Semaphore(config.concurrency)
        progress = getattr(self.runtime, "progress", None)

        async def deploy_stack(stack: str) -> None:
            async with limit:
                terraform = self._stack(outdir, stack, env, log_dir)
                sink = self._sink(config.on_line, stack)
                stack_started = time.monotonic()
                ledger.set_stack(config.deployment_id, stack, "deploying")
                applying = False
                try:
                    await terraform.init(on_line=sink)
                    if progress is not None:
                        progress.started(stack)
                    applying = True
                    await terraform.apply(on_line=sink, timeout=config.timeout)
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
                    raise
                except Exception as error:
                    timings[stack] = time.monotonic() - stack_started
                    ledger.set_stack(config.deployment_id, stack, "failed", seconds=timings[stack], error=str(error))
                    raise
                timings[stack] = time.monotonic() - stack_started
                ledger.set_stack(
                    config.deployment_id, stack, "deployed", outputs=outputs[stack], seconds=timings[stack]
                )

        for wave in waves:
            await _all_or_first_error([deploy_stack(stack) for stack in wave])
        timings["total"] = time.monotonic() - started
        return DeploymentResult(
            success=True,
            url=self.url_from(outputs),
            deployment_id=config.deployment_id,
            outputs=outputs,
            timings=timings,
            synthesized_dir=outdir,
        )

    async def rollback(self, to: DeploymentRecord, config: DeploymentConfig) -> DeploymentResult:
        """Apply exactly what `to` applied: its archived synth (its config would not reproduce its assets)."""
        if not to.has_archive:
            return await super().rollback(to, config)
        outdir = self.runtime.ledger.extract(to.id, config.work_dir / "cdktf.out")
        return await self.deploy(config.model_copy(update={"synthesized_dir": outdir}))

    async def destroy(self, deployment_id: str) -> bool:
        ledger = self.runtime.ledger
        record = ledger.get(deployment_id)
        if record is None:
            raise CloudProviderError(f"no deployment {deployment_id!r} in the ledger", provider=self.name)
        work = self._project_dir() / ".cache" / "deployments" / f"destroy-{deployment_id}-{int(time.time())}"
        outdir = ledger.extract(deployment_id, work / "cdktf.out")
        env = self.terraform_env()
        waves = list(reversed(self.waves(outdir)))
        await self._warm_plugin_cache(outdir / "stacks" / waves[0][0], env)
        keep_resources = record.environment == "production"

        async def destroy_stack(stack: str) -> None:
            terraform = self._stack(outdir, stack, env, work / "logs")
            sink = self._sink(None, stack)
            await terraform.init(on_line=sink)
            if keep_resources:
                await self._forget_kept_resources(terraform, sink)
            await terraform.apply(destroy=True, on_line=sink, timeout=3600)
            ledger.set_stack(deployment_id, stack, "destroyed")

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
        outputs = {stack: run["outputs"] for stack, run in record.stacks.items()}
        health = await self.health_of(outputs) if record.status == State.RUNNING else Health.UNKNOWN
        return DeploymentStatus(
            status=State(record.status),
            health=health,
            stacks={stack: run["status"] for stack, run in record.stacks.items()},
            version=record.version,
            url=record.url,
        )

    async def plan(self, config: DeploymentConfig) -> list[PlanSummary]:
        outdir = await asyncio.to_thread(self.synthesize, config)
        env = self.terraform_env()
        waves = self.waves(outdir, config.stacks)
        await self._warm_plugin_cache(outdir / "stacks" / waves[0][0], env)
        limit = asyncio.Semaphore(config.concurrency)

        async def plan_stack(stack: str) -> PlanSummary:
            async with limit:
                terraform = self._stack(outdir, stack, env, None)
                sink = self._sink(config.on_line, stack)
                try:
                    await terraform.init(on_line=sink)
                except Exception as error:
                    return PlanSummary(stack=stack, error=str(error))
                result, events = await terraform.run(
                    ["plan", "-input=false", "-no-color", "-lock=false", "-detailed-exitcode", "-json"],
                    action="plan",
                    timeout=config.timeout,
                    on_line=sink,
                )
                if result.exit_code not in (0, 2):
                    return PlanSummary(stack=stack, error=str(terraform.failure("plan", result, events)))
                return summarize_plan(stack, result.lines)

        return list(await asyncio.gather(*(plan_stack(stack) for wave in waves for stack in wave)))

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


def summarize_plan(stack: str, lines: list[str]) -> PlanSummary:
    """Counts from the `change_summary` event of `terraform plan -json`."""
    for line in lines:
        if '"change_summary"' not in line:
            continue
        with contextlib.suppress(ValueError):
            changes = json.loads(line).get("changes", {})
            return PlanSummary(
                stack=stack,
                add=int(changes.get("add", 0)),
                change=int(changes.get("change", 0)),
                destroy=int(changes.get("remove", 0)),
            )
    return PlanSummary(stack=stack)
