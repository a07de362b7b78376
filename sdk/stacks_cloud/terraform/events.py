"""terraform's machine-readable output, typed: diagnostics and what a `-json` run reported.

`apply` and `destroy` run with `-json`, so progress and errors are read from terraform's event stream
(`@message`, `type`, diagnostics with `address`), not from its prose.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypedDict, cast

from stacks_cloud.terraform.plan import CHANGE_SUMMARY_KEYS


class ResourceRef(TypedDict, total=False):
    addr: str
    resource_type: str
    resource_name: str


class Hook(TypedDict, total=False):
    """What a resource event is about (terraform's `hook`)."""

    resource: ResourceRef
    action: str
    """create, update, delete, read, ..."""
    elapsed_seconds: float


class Changes(TypedDict, total=False):
    """terraform's `change_summary`: what a plan would do (`operation: plan`) or an apply did."""

    operation: str
    add: int
    change: int
    remove: int


class DiagnosticBody(TypedDict, total=False):
    severity: str
    summary: str
    detail: str
    address: str


Event = TypedDict(
    "Event",
    {
        "type": str,
        "@level": str,
        "@message": str,
        "hook": Hook,
        "changes": Changes,
        "change": dict[str, object],
        "diagnostic": DiagnosticBody,
        "phase": str,
        "message": str | None,
        "result": str,
        "url": str | None,
        "run": str,
    },
    total=False,
)
"""One event of a stack: a line of terraform's `-json` output (`type` apply_start, apply_complete,
change_summary, diagnostic, log, ...), or one of the engine's own: `phase` (`phase`, `message`),
`stack_done` (`result`, a `StackState` value, and `url`) and `run` (a Terraform Cloud run started: `run`,
its id, and `url`)."""

EventSink = Callable[[str, Event], None]
"""`sink(stack, event)`: the events of a stack as they happen, for a live view."""


ROLLING_BACK = "rolling back"
"""The phase of a stack a rollback applies again (a live view restarts its row: time and counts are the rollback's)."""


def phase_event(phase: str, message: str | None = None) -> Event:
    return {"type": "phase", "phase": phase, "message": message}


def done_event(result: str, url: str | None = None) -> Event:
    return {"type": "stack_done", "result": result, "url": url}


def plan_summary_event(counts: dict[str, int]) -> Event:
    """What a (saved) plan will do, as terraform's own plan `change_summary` says it."""
    changes: Changes = {
        "operation": "plan",
        "add": counts["add"],
        "change": counts["change"],
        "remove": counts["destroy"],
    }
    return {"type": "change_summary", "changes": changes}


def parse_event(line: str) -> Event | None:
    """The event of one `-json` output line; None for a line that is not one."""
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    return cast(Event, data) if isinstance(data, dict) else None


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

    def feed(self, line: str) -> tuple[str | None, Event | None]:
        """Take one output line; return the human message to show for it (None: nothing) and its event."""
        event = parse_event(line)
        if event is None:
            return (line if line.strip() else None), None
        kind = event.get("type")
        message = str(event.get("@message", ""))
        address = event.get("hook", {}).get("resource", {}).get("addr")
        if kind == "diagnostic":
            diagnostic = event.get("diagnostic", {})
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
        elif kind == "change_summary" and event.get("changes", {}).get("operation") in ("apply", "destroy"):
            changes: dict[str, object] = dict(event.get("changes", {}))
            self.summary = {key: int(str(changes.get(name, 0))) for key, name in CHANGE_SUMMARY_KEYS}
        self.messages.append(message)
        return (message or None), event

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]
