"""terraform's machine-readable output, typed: diagnostics and what a `-json` run reported.

`apply` and `destroy` run with `-json`, so progress and errors are read from terraform's event stream
(`@message`, `type`, diagnostics with `address`), not from its prose.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stacks_cloud.terraform.plan import CHANGE_SUMMARY_KEYS

EventSink = Callable[[str, dict[str, Any]], None]
"""`sink(stack, event)`: terraform's `-json` events of a stack, and the engine's `phase` / `stack_done` events."""


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
    summary: dict[str, int] = field(default_factory=dict)
    """terraform's own count of what the apply did: `add`, `change`, `destroy`."""

    def feed(self, line: str) -> tuple[str | None, dict[str, Any] | None]:
        """Take one output line; return the human message to show for it (None: nothing) and its event."""
        if not line.startswith("{"):
            return (line if line.strip() else None), None
        try:
            event: dict[str, Any] = json.loads(line)
        except ValueError:
            return line, None
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
        elif kind == "change_summary" and (event.get("changes") or {}).get("operation") in ("apply", "destroy"):
            changes = event["changes"]
            self.summary = {key: int(changes.get(name, 0)) for key, name in CHANGE_SUMMARY_KEYS}
        self.messages.append(message)
        return (message or None), event

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]
