"""The local executor: terraform on this machine, in one synthesized stack's folder (`StackDir`, the
`StackRunner` of `LocalExecutor`): init, apply, destroy, outputs; failures become typed errors.

`apply` and `destroy` run with `-json`, so progress and errors are read from terraform's machine-
readable event stream (`@message`, `type`, diagnostics with `address`), not from its prose. Each
line's human message goes to the caller's `on_line`.

A failure is classified from its diagnostics: a held state lock (with the lock's id and holder), a
resource that exists in the cloud but not in this stack's state (what a killed apply leaves: the
error names the address and gives the `terraform import` command), or an apply error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks_cloud.core.errors import (
    CloudProviderError,
    InfrastructureError,
    Orphan,
    OrphanedResourcesError,
    StateLockedError,
)
from stacks_cloud.core.secrets import redact_text
from stacks_cloud.terraform.events import (
    Diagnostic,
    Events,
    EventSink,
    done_event,
    phase_event,
    plan_summary_event,
)
from stacks_cloud.terraform.executor import Executor, LineCallback, PlanResult
from stacks_cloud.terraform.init_cache import InitCache, init_inputs_digest
from stacks_cloud.terraform.plan import has_prior_state
from stacks_cloud.terraform.plugin_lock import plugin_cache_lock
from stacks_cloud.terraform.process import ProcessObserver, ProcessResult, run_streaming

PLUGIN_MISSING = "there is no package for"
"""terraform's error ("Required plugins are not installed: ... there is no package for <provider> cached in
.terraform/providers") when a stack's `.terraform/providers` does not lead to the provider (its cache entry is
being replaced)."""
MISSING_BUCKET = ("NoSuchBucket", "does not exist", "bucket does not exist")

LOCK_ERROR = "Error acquiring the state lock"
NO_CREDENTIALS = (
    "No valid credential sources found",
    "failed to refresh cached credentials",
    "NoCredentialProviders",
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "The security token included in the request is invalid",
)
"""The AWS provider's (and S3 backend's) ways of saying it has no usable credentials."""
ALREADY_EXISTS = (
    "EntityAlreadyExists",
    "ResourceConflictException",
    "ResourceAlreadyExistsException",
    "ResourceInUseException",
    "BucketAlreadyOwnedByYou",
    "QueueAlreadyExists",
    "already exists",
    "AlreadyExists",
)
"""Provider error fragments meaning "this resource is already there" (created but not recorded in state)."""

IMPORT_ID_ATTRIBUTE = {
    "aws_iam_role": "name",
    "aws_lambda_function": "function_name",
    "aws_cloudwatch_event_rule": "name",
    "aws_s3_bucket": "bucket",
    "aws_dynamodb_table": "name",
    "aws_db_instance": "identifier",
    "aws_db_subnet_group": "name",
    "aws_elasticache_subnet_group": "name",
    "aws_elasticache_replication_group": "replication_group_id",
    "aws_elasticache_cluster": "cluster_id",
    "aws_cloudwatch_log_group": "name",
    "aws_secretsmanager_secret": "name",
}
"""Resource types whose import id is one of their own arguments (the name the orphan was created with)."""


@dataclass(frozen=True)
class StackDir:
    """One synthesized stack and how to run terraform in it."""

    name: str
    path: Path
    env: dict[str, str]
    observer: ProcessObserver | None = None
    log_dir: Path | None = None
    on_event: EventSink | None = None

    def phase(self, phase: str, message: str | None = None) -> None:
        """Tell the event sink the stack entered `phase` (init, refresh, plan, apply)."""
        if self.on_event is not None:
            self.on_event(self.name, phase_event(phase, message))

    def planned(self, counts: dict[str, int]) -> None:
        """Tell the event sink what the (saved) plan will do, as terraform's own plan summary event says it."""
        if self.on_event is not None:
            self.on_event(self.name, plan_summary_event(counts))

    def done(self, result: str, *, url: str | None = None) -> None:
        if self.on_event is not None:
            self.on_event(self.name, done_event(result, url))

    UNLOGGED = frozenset({"state", "output"})
    """Commands whose output is the state or its outputs (sensitive ones included): never written to a log."""

    def _log(self, action: str) -> Path | None:
        if action in self.UNLOGGED:
            return None
        return self.log_dir / f"{self.name}.{action}.log" if self.log_dir else None

    async def run(
        self, args: list[str], *, action: str, timeout: float, on_line: Callable[[str], None] | None
    ) -> tuple[ProcessResult, Events]:
        result, events = await self._run_once(args, action=action, timeout=timeout, on_line=on_line)
        if result.exit_code != 0 and args[0] != "init" and PLUGIN_MISSING in result.output:
            # Another stack's init was re-installing the provider into the shared cache, where this stack's
            # `.terraform/providers` points (see `terraform.plugin_lock`). Terraform stops at that check,
            # before reading or changing anything: once no init holds the cache, run the command again.
            if on_line is not None:
                on_line("the provider was being re-installed in the shared plugin cache by another init: retrying")
            async with plugin_cache_lock(self.env):
                pass
            result, events = await self._run_once(args, action=action, timeout=timeout, on_line=on_line)
        return result, events

    async def _run_once(
        self, args: list[str], *, action: str, timeout: float, on_line: Callable[[str], None] | None
    ) -> tuple[ProcessResult, Events]:
        events = Events()

        def line(text: str) -> None:
            shown, event = events.feed(text)
            if event is not None and self.on_event is not None:
                self.on_event(self.name, event)
            if shown is not None and on_line is not None:
                on_line(redact_text(shown))

        result = await run_streaming(
            ["terraform", *args],
            cwd=self.path,
            env=self.env,
            timeout=timeout,
            on_line=line,
            log_file=self._log(action),
            observer=self.observer,
        )
        return result, events

    async def init(
        self, *, on_line: Callable[[str], None] | None, timeout: float = 600, cache: InitCache | None = None
    ) -> bool:
        """`terraform init`, or, with `cache`, the stack's kept init when nothing it depends on changed.

        Returns True when terraform init ran, False when the kept one was reused."""
        digest = init_inputs_digest(self.path, self.env) if cache is not None else ""
        if cache is not None and cache.restore(self.name, self.path, digest):
            if on_line is not None:
                on_line("init: reused the last init of this stack (backend, providers and lock file unchanged)")
            return False
        async with plugin_cache_lock(self.env):  # the other stacks' inits wait (see `terraform.plugin_lock`)
            result, events = await self.run(
                ["init", "-input=false", "-no-color"], action="init", timeout=timeout, on_line=on_line
            )
        if result.exit_code != 0:
            raise self.failure("init", result, events)
        if cache is not None:
            cache.save(self.name, self.path, digest)
        return True

    async def apply(
        self,
        *,
        destroy: bool = False,
        on_line: Callable[[str], None] | None,
        timeout: float,
        plan_file: Path | None = None,
    ) -> Events:
        """Apply the configuration (or exactly the saved `plan_file`, which terraform refuses once stale)."""
        args = ["apply", "-auto-approve", "-input=false", "-no-color", "-json", "-lock-timeout=0s"]
        if destroy:
            args.insert(1, "-destroy")
        if plan_file is not None:
            args.append(str(plan_file))
        action = "destroy" if destroy else "apply"
        result, events = await self.run(args, action=action, timeout=timeout, on_line=on_line)
        if result.exit_code != 0:
            raise self.failure(action, result, events)
        return events

    @property
    def identity(self) -> dict[str, str] | None:
        return None  # terraform ran here: its log is in the deployment's folder

    async def plan(
        self, out: Path, *, refresh_only: bool = False, on_line: Callable[[str], None] | None, timeout: float
    ) -> PlanResult:
        """Plan into `out` (a saved plan), then read it back with `terraform show -json`."""
        args = ["plan", "-input=false", "-no-color", "-lock=false", "-detailed-exitcode", "-json", f"-out={out}"]
        if refresh_only:
            args.insert(1, "-refresh-only")
        action = "drift" if refresh_only else "plan"
        result, events = await self.run(args, action=action, timeout=timeout, on_line=on_line)
        if result.exit_code not in (0, 2):
            raise self.failure(action, result, events)
        document = await self.show(out, timeout=timeout)
        return PlanResult(document, deployed=has_prior_state(document))

    async def show(self, plan_file: Path, *, timeout: float = 300) -> dict[str, Any]:
        """`terraform show -json` of a saved plan: terraform's documented JSON plan representation."""
        result, events = await self.run(
            ["show", "-json", "-no-color", str(plan_file)], action="show", timeout=timeout, on_line=None
        )
        if result.exit_code != 0:
            raise self.failure("show", result, events)
        document: dict[str, Any] = json.loads(result.output.strip().splitlines()[-1])
        return document

    async def state_resources(self, *, timeout: float = 120) -> dict[str, dict[str, Any]]:
        """Each managed resource in the stack's state (`terraform state pull`) by address, with its attributes
        (the first instance's); none for a new stack."""
        result, events = await self.run(["state", "pull"], action="state", timeout=timeout, on_line=None)
        if result.exit_code != 0:
            raise self.failure("state pull", result, events)
        document = json.loads(result.output or "{}") if result.output.strip().startswith("{") else {}
        resources: dict[str, dict[str, Any]] = {}
        for resource in document.get("resources", []):
            if resource.get("mode") != "managed" or resource.get("module"):
                continue
            instances = resource.get("instances") or [{}]
            resources[f"{resource['type']}.{resource['name']}"] = instances[0].get("attributes") or {}
        return resources

    async def outputs(self, *, timeout: float = 120) -> dict[str, Any]:
        """The stack's non-sensitive outputs (cdktf's cross-stack plumbing left out)."""
        result, events = await self.run(
            ["output", "-json", "-no-color"], action="output", timeout=timeout, on_line=None
        )
        if result.exit_code != 0:
            raise self.failure("output", result, events)
        values: dict[str, Any] = json.loads(result.output or "{}")
        return {
            name: item.get("value")
            for name, item in values.items()
            if not item.get("sensitive") and not name.startswith("cross-stack-output-")
        }

    async def forget(self, addresses: list[str], *, on_line: LineCallback | None) -> None:
        """`terraform state rm` of `addresses` (already gone from the state: nothing to do)."""
        result, events = await self.run(["state", "rm", *addresses], action="keep", timeout=600, on_line=on_line)
        if result.exit_code != 0 and "No matching objects found" not in result.output:
            raise self.failure("state rm", result, events)

    def failure(self, action: str, result: ProcessResult, events: Events) -> Exception:
        """The typed error for a failed terraform run: the cause once, and the next step when there is one."""
        errors = _distinct(events.errors or _text_errors(result.output))
        details = redact_text("\n".join(d.render() for d in errors) if errors else result.tail)
        hints = self.next_steps(result, errors)
        if result.timed_out:
            return CloudProviderError(
                f"terraform {action} timed out" + hints, provider="terraform", stack=self.name, stderr_tail=details
            )
        credentials = next((d for d in errors if any(m in d.render() for m in NO_CREDENTIALS)), None)
        if credentials is not None:  # the provider (or the backend) could not authenticate: not the infrastructure
            return CloudProviderError(
                f"{action} failed: terraform found no usable cloud credentials ({credentials.summary}). Set them"
                " where `cloud` runs (e.g. AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run"
                " again" + hints,
                provider="terraform",
                stack=self.name,
                stderr_tail=redact_text(credentials.render()),
            )
        if any(LOCK_ERROR in d.summary for d in errors) or LOCK_ERROR in result.output:
            who = re.search(r"^\s*Who:\s*(\S.*)$", "\n".join(d.detail for d in errors) or result.output, re.M)
            return StateLockedError(
                stack=self.name,
                holder=who[1].strip() if who else None,
                message=f"{action} failed: the stack's state lock is held by another run"
                + (f" ({who[1].strip()})" if who else "")
                + f". Wait for it; if it crashed, `cloud unlock --stack {self.name}` removes the lock after showing"
                " who held it",
                details=details,
            )
        orphans = [d for d in errors if d.address and any(marker in d.render() for marker in ALREADY_EXISTS)]
        if orphans:
            return OrphanedResourcesError(
                action, [self.orphan(d.address or "") for d in orphans], stack=self.name, details=details
            )
        if errors:
            cause = redact_text(errors[0].render())
            more = f" (and {len(errors) - 1} more error(s), below)" if len(errors) > 1 else ""
            rest = redact_text("\n".join(d.render() for d in errors[1:]))
            return InfrastructureError(f"{action} failed: {cause}{more}{hints}", stack=self.name, details=rest)
        return CloudProviderError(
            f"terraform {action} failed" + hints,
            provider="terraform",
            stack=self.name,
            exit_code=result.exit_code,
            stderr_tail=details,
        )

    def next_steps(self, result: ProcessResult, errors: list[Diagnostic]) -> str:
        """What the user does next, when the failure says: a missing state bucket, a state terraform could
        not save."""
        steps: list[str] = []
        text = result.output + "\n".join(d.render() for d in errors)
        if "backend" in text.lower() and any(marker in text for marker in MISSING_BUCKET):
            steps.append("the state bucket does not exist: `cloud bootstrap` creates it (and the lock table)")
        errored = self.path / "errored.tfstate"
        if errored.is_file():
            steps.append(
                f"terraform could not save the stack's state and wrote it to {errored}: once the backend answers,"
                f" `cd {self.path} && terraform state push errored.tfstate`, before anything else runs on this stack"
            )
        return "".join(f"\nnext: {step}" for step in steps)

    def orphan(self, address: str) -> Orphan:
        """The orphan at `address` with `cd <stack> && terraform import '<address>' '<id>'`, the id filled in
        where the config names it."""
        kind, _, name = address.partition(".")
        identifier = "<ID>"
        attribute = IMPORT_ID_ATTRIBUTE.get(kind)
        if attribute:
            try:
                synthesized = json.loads((self.path / "cdk.tf.json").read_text())
                value = synthesized["resource"][kind][name.split("[", 1)[0]].get(attribute)
                if isinstance(value, str) and "${" not in value:
                    identifier = value
            except (OSError, KeyError, ValueError):
                pass
        return Orphan(address, f"cd {self.path} && terraform import '{address}' '{identifier}'")


@dataclass(frozen=True)
class LocalExecutor(Executor):
    """terraform on this machine, in each stack's synthesized folder, with `env` (see `terraform_env`)."""

    env: dict[str, str]
    observer: ProcessObserver | None = None
    on_event: EventSink | None = None

    def stack(self, outdir: Path, name: str, *, log_dir: Path | None) -> StackDir:
        return StackDir(name, outdir / "stacks" / name, self.env, self.observer, log_dir, self.on_event)


def _distinct(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Each diagnostic once (terraform repeats some, e.g. the lock block, per attempt)."""
    seen: set[tuple[str, str, str | None]] = set()
    kept = []
    for diagnostic in diagnostics:
        key = (diagnostic.summary, diagnostic.detail, diagnostic.address)
        if key not in seen:
            seen.add(key)
            kept.append(diagnostic)
    return kept


def _text_errors(output: str) -> list[Diagnostic]:
    """The `Error: ...` blocks of a run without `-json` (init): each summary line with the lines after it."""
    found: list[Diagnostic] = []
    lines = output.splitlines()
    for index, line in enumerate(lines):
        text = line.strip().lstrip("│").strip()
        if not text.startswith("Error: "):
            continue
        detail: list[str] = []
        for following in lines[index + 1 :]:
            stripped = following.strip().lstrip("│╵").strip()
            if stripped.startswith("Error: "):
                break
            detail.append(stripped)
        found.append(Diagnostic("error", text.removeprefix("Error: ").strip(), "\n".join(detail).strip()))
    return found
