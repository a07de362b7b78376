"""Drive terraform in one synthesized stack's folder: init, apply, destroy, outputs; failures become typed errors.

`apply` and `destroy` run with `-json`, so progress and errors are read from terraform's machine-
readable event stream (`@message`, `type`, diagnostics with `address`), not from its prose. Each
line's human message goes to the caller's `on_line`.

A failure is classified from its diagnostics: a held state lock (with the lock's id and holder), a
resource that exists in the cloud but not in this stack's state (what a killed apply leaves: the
error names the address and gives the `terraform import` command), or an apply error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks_cloud.core.errors import CloudProviderError, InfrastructureError
from stacks_cloud.core.secrets import redact_text
from stacks_cloud.providers.process import ProcessObserver, ProcessResult, run_streaming

LOCK_ERROR = "Error acquiring the state lock"
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
class Diagnostic:
    severity: str
    summary: str
    detail: str = ""
    address: str | None = None

    def render(self) -> str:
        head = f"{self.summary}" + (f" ({self.address})" if self.address else "")
        return f"{head}: {self.detail}" if self.detail else head


@dataclass
class Events:
    """What a `-json` run reported: its messages, diagnostics, and the resources it changed."""

    messages: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    """Addresses whose apply completed."""
    started: list[str] = field(default_factory=list)
    """Addresses whose apply started."""

    def feed(self, line: str) -> str | None:
        """Take one output line; return the human message to show for it (None: nothing to show)."""
        if not line.startswith("{"):
            return line if line.strip() else None
        try:
            event: dict[str, Any] = json.loads(line)
        except ValueError:
            return line
        kind = event.get("type")
        message = str(event.get("@message", ""))
        hook = event.get("hook") or {}
        address = (hook.get("resource") or {}).get("addr")
        if kind == "diagnostic":
            diagnostic = event.get("diagnostic") or {}
            self.diagnostics.append(
                Diagnostic(
                    severity=str(diagnostic.get("severity", event.get("@level", "error"))),
                    summary=str(diagnostic.get("summary", message)),
                    detail=str(diagnostic.get("detail", "")),
                    address=diagnostic.get("address"),
                )
            )
        elif kind == "apply_start" and address:
            self.started.append(str(address))
        elif kind == "apply_complete" and address:
            self.changed.append(str(address))
        self.messages.append(message)
        return message or None

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


@dataclass(frozen=True)
class StackDir:
    """One synthesized stack and how to run terraform in it."""

    name: str
    path: Path
    env: dict[str, str]
    observer: ProcessObserver | None = None
    log_dir: Path | None = None

    def _log(self, action: str) -> Path | None:
        return self.log_dir / f"{self.name}.{action}.log" if self.log_dir else None

    async def run(
        self, args: list[str], *, action: str, timeout: float, on_line: Callable[[str], None] | None
    ) -> tuple[ProcessResult, Events]:
        events = Events()

        def line(text: str) -> None:
            shown = events.feed(text)
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

    async def init(self, *, on_line: Callable[[str], None] | None, timeout: float = 600) -> None:
        result, events = await self.run(
            ["init", "-input=false", "-no-color"], action="init", timeout=timeout, on_line=on_line
        )
        if result.exit_code != 0:
            raise self.failure("init", result, events)

    async def apply(self, *, destroy: bool = False, on_line: Callable[[str], None] | None, timeout: float) -> Events:
        args = ["apply", "-auto-approve", "-input=false", "-no-color", "-json", "-lock-timeout=0s"]
        if destroy:
            args.insert(1, "-destroy")
        action = "destroy" if destroy else "apply"
        result, events = await self.run(args, action=action, timeout=timeout, on_line=on_line)
        if result.exit_code != 0:
            raise self.failure(action, result, events)
        return events

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

    def failure(self, action: str, result: ProcessResult, events: Events) -> Exception:
        """The typed error for a failed terraform run."""
        errors = events.errors
        details = redact_text("\n".join(d.render() for d in errors) if errors else result.tail)
        if result.timed_out:
            return CloudProviderError(
                f"terraform {action} timed out", provider="terraform", stack=self.name, stderr_tail=details
            )
        if any(LOCK_ERROR in d.summary for d in errors) or LOCK_ERROR in result.output:
            return InfrastructureError(
                f"{action} failed: the stack's state lock is held by another run. Wait for it; if it crashed,"
                f" `cloud unlock --stack {self.name}` removes the lock after showing who held it",
                stack=self.name,
                details=details,
            )
        orphans = [d for d in errors if d.address and any(marker in d.render() for marker in ALREADY_EXISTS)]
        if orphans:
            return InfrastructureError(
                f"{action} failed: {len(orphans)} resource(s) exist in the cloud but not in this stack's state"
                " (an interrupted apply created them and could not record them). Import each one, or delete it"
                " in the cloud and deploy again:\n" + "\n".join(self.import_hint(d.address or "") for d in orphans),
                stack=self.name,
                details=details,
            )
        if errors:
            return InfrastructureError(f"{action} failed: Terraform reported errors", stack=self.name, details=details)
        return CloudProviderError(
            f"terraform {action} failed",
            provider="terraform",
            stack=self.name,
            exit_code=result.exit_code,
            stderr_tail=details,
        )

    def import_hint(self, address: str) -> str:
        """`cd <stack> && terraform import '<address>' '<id>'`, with the id where the config names it."""
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
        return f"  - {address}: cd {self.path} && terraform import '{address}' '{identifier}'"
