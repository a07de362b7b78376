"""What a user watches while stacks deploy: a live table on a terminal, one line per event in CI.

`Progress` receives terraform's machine-readable events per stack (`event(stack, event)`: the `-json`
stream of `terraform apply`, plus the engine's own `phase` and `stack_done` events) and other output
lines (`__call__(stack, line)`: hooks, the policy gate).

- On a terminal (and `CI` unset): a `rich` live table, one row per stack: its phase (init, refresh,
  plan, apply), resources done of total, elapsed time, and the resource in flight with its action.
- Elsewhere (CI, a pipe): one line per phase and per resource event, the stack named once at the
  start of the line; terraform's warnings are shown once per run, however many stacks repeat them;
  errors are not echoed (the command's failure message names the cause once, with the next step).

At the end `summary()` gives a table of every stack: region, result, changes, duration and URL.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TextIO

from rich.console import Console
from rich.live import Live
from rich.measure import Measurement
from rich.table import Table

from stacks_cloud.core.secrets import redact_text
from stacks_cloud.terraform.events import ROLLING_BACK, Event
from stacks_cloud.terraform.plan import CHANGE_SUMMARY_KEYS, short_address

CI_WIDTH = 250
"""Columns of the tables written to a log (CI): wide enough for stack names and URLs."""
_ACTIONS = {"create": "creating", "update": "updating", "delete": "destroying", "read": "reading"}
_REGION = re.compile(r"[a-z]{2}(?:-gov)?-[a-z]+-\d+$")
_DONE = {"create": "created", "update": "updated", "delete": "destroyed", "read": "read"}
_SHOWN_PHASES = frozenset({"baking", "baked", "halted", ROLLING_BACK})
_WAVE_PREFIX = re.compile(r"^wave \d+ of \d+: (?:baking )?")


@dataclass
class StackRow:
    stack: str
    phase: str = "waiting"
    total: int | None = None
    done: int = 0
    current: str = ""
    started: float | None = None
    ended: float | None = None
    changes: dict[str, int] = field(default_factory=dict)
    """What the plan said: `add`, `change`, `remove`."""
    applied: dict[str, int] = field(default_factory=dict)
    """What was done so far, by the same keys."""
    url: str | None = None
    run: dict[str, str] | None = None
    """The Terraform Cloud run that carries the stack (its id and URL), when it runs there."""

    @property
    def region(self) -> str:
        return _region_of(self.stack)

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or now) - self.started

    def counts(self) -> str:
        return f"{self.done}/{self.total}" if self.total is not None else (str(self.done) if self.done else "")


class Progress:
    """A `sink(stack, line)` and an event sink for `Cloud.deploy` (see the module doc).

    `live=None` decides by the stream: a terminal gets the live table unless `ci` is set.
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None, ci: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.live = (self.stream.isatty() and not ci) if live is None else live
        # Not a terminal (CI logs): wide enough that nothing is cut; a terminal: its own width.
        width = None if self.live else CI_WIDTH
        self.console = Console(
            file=self.stream, force_terminal=self.live, highlight=False, soft_wrap=not self.live, width=width
        )
        self.rows: dict[str, StackRow] = {}
        self._warnings: set[str] = set()
        self._lock = threading.Lock()
        self._display: Live | None = None
        self._clock = time.monotonic

    # --- input ------------------------------------------------------------------------------------------

    def __call__(self, stack: str, line: str) -> None:
        """A line that is not a terraform event (a hook's output, the policy gate): shown as it comes."""
        if stack in self.rows or not line.strip():
            return  # terraform's human lines: its events tell the same
        self._print(f"[{stack}] {redact_text(line)}")

    def event(self, stack: str, event: Event) -> None:
        with self._lock:
            row = self.rows.setdefault(stack, StackRow(stack))
            line = self._apply(row, event)
            if self.live:
                self._refresh()
            elif line:
                self._print_locked(f"[{stack}] {line}")

    def _apply(self, row: StackRow, event: Event) -> str | None:
        """Update the row from one event; return the CI line for it (None: no line)."""
        kind = event.get("type", "")
        hook = event.get("hook", {})
        if kind in ("apply_start", "apply_complete") and hook.get("action") == "read":
            return None  # data sources read during the plan: not changes
        handler = self._HANDLERS.get(kind)
        return handler(self, row, event) if handler is not None else None

    def _on_phase(self, row: StackRow, event: Event) -> str | None:
        phase = str(event.get("phase", ""))
        if row.started is None or phase == ROLLING_BACK:  # a rollback applies the stack again: counted afresh
            row.started, row.ended = self._clock(), None
        if phase == ROLLING_BACK:
            row.total, row.done, row.changes, row.applied = None, 0, {}, {}
        row.phase, row.current = phase, ""
        if phase in _SHOWN_PHASES:  # a bake's gates, a halt's reason: what the row's "now" says
            row.current = _WAVE_PREFIX.sub("", str(event.get("message") or ""))  # the phase column says the rest
        return str(event.get("message") or phase)

    def _on_refresh_start(self, row: StackRow, event: Event) -> str | None:
        if row.phase in ("init", "waiting"):
            row.phase = "refresh"
        return None

    def _on_planned_change(self, row: StackRow, event: Event) -> str | None:
        if row.phase in ("init", "refresh", "waiting"):
            row.phase = "plan"
        return None

    def _on_change_summary(self, row: StackRow, event: Event) -> str | None:
        changes = event.get("changes", {})
        if changes.get("operation") != "plan":
            return None
        counts = {"add": int(changes.get("add", 0)), "change": int(changes.get("change", 0))}
        counts["remove"] = int(changes.get("remove", 0))
        row.total, row.changes = sum(counts.values()), counts
        return f"plan: {counts['add']} to add, {counts['change']} to change, {counts['remove']} to destroy"

    def _on_apply_start(self, row: StackRow, event: Event) -> str | None:
        hook = event.get("hook", {})
        resource, action = short_address(hook.get("resource", {}).get("addr", "")), hook.get("action", "")
        row.phase, row.current = "apply", f"{_ACTIONS.get(action, action)} {resource}"
        return f"{resource}: {_ACTIONS.get(action, action)}"

    def _on_apply_complete(self, row: StackRow, event: Event) -> str | None:
        hook = event.get("hook", {})
        resource, action = short_address(hook.get("resource", {}).get("addr", "")), hook.get("action", "")
        row.done += 1
        key = {"create": "add", "update": "change", "delete": "remove"}.get(action)
        if key:
            row.applied[key] = row.applied.get(key, 0) + 1
        row.current = ""
        seconds = hook.get("elapsed_seconds", 0)
        return f"{resource}: {_DONE.get(action, action)} ({row.counts()}, {seconds}s)"

    def _on_apply_errored(self, row: StackRow, event: Event) -> str | None:
        return f"{short_address(event.get('hook', {}).get('resource', {}).get('addr', ''))}: failed"

    def _on_diagnostic(self, row: StackRow, event: Event) -> str | None:
        """A warning once per run, with what it is about (its address) and the first line of its detail."""
        diagnostic = event.get("diagnostic", {})
        if diagnostic.get("severity") != "warning":
            return None  # errors: the failure message says them once
        summary = str(diagnostic.get("summary", ""))
        address = diagnostic.get("address")
        detail = next((line.strip() for line in str(diagnostic.get("detail", "")).splitlines() if line.strip()), "")
        key = f"{summary} {address or ''}"
        if key in self._warnings:
            return None
        self._warnings.add(key)
        subject = f" ({short_address(address)})" if address else ""
        return redact_text(f"warning: {summary}{subject}" + (f": {detail}" if detail else ""))

    def _on_log(self, row: StackRow, event: Event) -> str | None:
        """terraform's own notices: an interrupt received, an operation stopping."""
        text = " ".join(str(event.get("@message", "")).split())
        if not text:
            return None
        if self.live:
            self._print_locked(f"{row.stack}: {redact_text(text)}")
        return redact_text(text)

    def _on_run(self, row: StackRow, event: Event) -> str | None:
        row.run = {"run": event.get("run", ""), "url": event.get("url") or ""}
        return f"Terraform Cloud run {row.run['run']}: {row.run['url']}"

    def _on_stack_done(self, row: StackRow, event: Event) -> str | None:
        now = self._clock()
        row.ended = now
        row.phase = str(event.get("result", "done"))
        row.current = ""
        row.url = event.get("url") or row.url  # a later result (rolled back) keeps the address
        counts = row.changes if row.phase == "planned" else row.applied  # a plan applies nothing
        return f"{row.phase}: {_signed(counts)} in {row.elapsed(now):.0f}s"

    _HANDLERS: ClassVar[dict[str, Callable[[Progress, StackRow, Event], str | None]]] = {
        "phase": _on_phase,
        "refresh_start": _on_refresh_start,
        "planned_change": _on_planned_change,
        "change_summary": _on_change_summary,
        "apply_start": _on_apply_start,
        "apply_complete": _on_apply_complete,
        "apply_errored": _on_apply_errored,
        "diagnostic": _on_diagnostic,
        "log": _on_log,
        "stack_done": _on_stack_done,
        "run": _on_run,
    }

    # --- output -----------------------------------------------------------------------------------------

    def __enter__(self) -> Progress:
        if self.live:
            self._display = Live(
                console=self.console, get_renderable=self._table, refresh_per_second=4, transient=False
            )
            self._display.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._display is not None:
            self._display.__exit__(None, None, None)
            self._display = None

    def _refresh(self) -> None:
        if self._display is not None:
            self._display.refresh()

    def _print(self, text: str) -> None:
        with self._lock:
            self._print_locked(text)

    def _print_locked(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, overflow="ignore", crop=False)

    def _table(self) -> Table:
        """One row per stack. Names lose their shared `app-env-` prefix, and the resource in flight is
        written action first, so a narrow terminal cuts the end of an address, never what is happening."""
        now = self._clock()
        prefix = _shared_prefix(list(self.rows))
        table = Table(box=None, pad_edge=False, show_edge=False, title=prefix.rstrip("-") or None)
        table.add_column("stack", no_wrap=True, min_width=max((len(s) - len(prefix) for s in self.rows), default=5))
        table.add_column("phase", no_wrap=True, min_width=11)
        table.add_column("resources", no_wrap=True, justify="right")
        table.add_column("elapsed", no_wrap=True, justify="right")
        table.add_column("now", no_wrap=True, overflow="ellipsis", ratio=1)
        for row in self.rows.values():
            table.add_row(row.stack[len(prefix) :], row.phase, row.counts(), f"{row.elapsed(now):.0f}s", row.current)
        return table

    def summary(self, outputs: dict[str, dict[str, Any]] | None = None) -> Table:
        """The end-of-run table: stack, region, result, changes, duration, URL."""
        now = self._clock()
        table = Table(title="summary", box=None, pad_edge=False, show_edge=False)
        for column in ("stack", "region", "result", "changes", "duration", "url"):
            table.add_column(column, no_wrap=True)
        for row in self.rows.values():
            url = row.url or str((outputs or {}).get(row.stack, {}).get("ApiUrl", "") or "")
            table.add_row(row.stack, row.region, row.phase, _changes_cell(row), f"{row.elapsed(now):.0f}s", url)
        return table

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Each stack's result, counts and seconds, for `--json`."""
        now = self._clock()
        return {
            row.stack: {
                "region": row.region,
                "result": row.phase,
                "planned": {key: row.changes.get(name, 0) for key, name in CHANGE_SUMMARY_KEYS},
                "applied": {key: row.applied.get(name, 0) for key, name in CHANGE_SUMMARY_KEYS},
                "seconds": round(row.elapsed(now), 1),
                **({"run": row.run} if row.run else {}),
            }
            for row in self.rows.values()
        }

    def print_summary(self, outputs: dict[str, dict[str, Any]] | None = None) -> None:
        """The summary table; on a terminal too narrow for it, one line per stack and its URL below, so that
        nothing is cut."""
        if not self.rows:
            return
        table = self.summary(outputs)
        with self._lock:
            natural = Measurement.get(self.console, self.console.options.update_width(10_000), table).maximum
            if natural <= self.console.width:
                self.console.print(table, crop=False)
                return
            now = self._clock()
            self.console.print("summary", style="italic")
            for row in self.rows.values():
                url = row.url or str((outputs or {}).get(row.stack, {}).get("ApiUrl", "") or "")
                where = f" ({row.region})" if row.region else ""
                self.console.print(
                    f"{row.stack}{where}: {row.phase}, {_changes_cell(row)}, {row.elapsed(now):.0f}s",
                    soft_wrap=True,
                    highlight=False,
                )
                if url:
                    self.console.print(f"  {url}", soft_wrap=True, highlight=False)


def _region_of(stack: str) -> str:
    match = _REGION.search(stack)
    return match[0] if match else ("global" if stack.endswith("-global") else "")


def _changes_cell(row: StackRow) -> str:
    """What the stack's apply changed; "of" what its plan meant to change when the two differ (a failed or
    interrupted apply), so a summary never shows a planned change as made. "-": not planned."""
    if not row.applied and not row.changes:
        return "-"
    applied = _signed(row.applied)
    planned = _signed(row.changes)
    return applied if not row.changes or planned == applied else f"{applied} of {planned}"


def _signed(counts: dict[str, int]) -> str:
    return f"+{counts.get('add', 0)} ~{counts.get('change', 0)} -{counts.get('remove', 0)}"


def _shared_prefix(stacks: list[str]) -> str:
    """`shop-production-` for `shop-production-us-east-1` and `shop-production-global` (up to a dash)."""
    if len(stacks) < 2:
        return ""
    split = [stack.split("-") for stack in stacks]
    shared = []
    for parts in zip(*split, strict=False):
        if len(set(parts)) != 1:
            break
        shared.append(parts[0])
    shared = shared[: min(len(parts) for parts in split) - 1]  # every name keeps something of its own
    return "".join(f"{part}-" for part in shared)
