"""What an apply that died created without recording it: read from terraform's own `-json` log of that apply.

Every `terraform apply -json` the engine runs streams its events into the deployment's folder
(`.cache/deployments/<id>/logs/<stack>.apply.log`) line by line as they come, so the log survives the
process. An apply that completed ends with its `change_summary`; one whose terraform was killed does not,
and what it created after its last state save exists in the cloud but not in the state. Each `apply_complete`
of a create names the resource and its id (`id_value`); an `apply_start` of a create without its
`apply_complete` is a resource that may exist.

`unrecorded(logs, in_state)` compares those with the stack's state; a log whose resources are all in
the state is marked checked (`<log>.checked`) and never read again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CHECKED_SUFFIX = ".checked"


@dataclass(frozen=True)
class Created:
    """A resource a crashed apply created (`complete`) or was creating when it died (not `complete`)."""

    address: str
    identifier: str | None
    complete: bool
    log: Path


def crashed(log: Path) -> bool:
    """Whether the apply logged in `log` ended without terraform's final summary (its process was killed)."""
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return False
    for line in reversed(lines):
        event = _event(line)
        changes = event.get("changes")
        finished = isinstance(changes, dict) and changes.get("operation") in ("apply", "destroy")
        if event.get("type") == "change_summary" and finished:
            return False
    return any(_event(line).get("type") == "apply_start" for line in lines)


def created_in(log: Path) -> list[Created]:
    """The resources the apply logged in `log` created, or was creating, in the order it started them."""
    started: dict[str, Created] = {}
    for line in log.read_text(errors="replace").splitlines():
        event = _event(line)
        hook = event.get("hook") or {}
        if not isinstance(hook, dict) or hook.get("action") != "create":
            continue
        address = str((hook.get("resource") or {}).get("addr", ""))
        if not address:
            continue
        if event.get("type") == "apply_start":
            started.setdefault(address, Created(address, None, complete=False, log=log))
        elif event.get("type") == "apply_complete":
            identifier = hook.get("id_value")
            started[address] = Created(address, str(identifier) if identifier else None, complete=True, log=log)
    return list(started.values())


def crashed_logs(deployments: Path, stack: str, *, current: Path) -> list[Path]:
    """The apply logs of `stack` under the deployments' folders (but `current`'s) whose terraform was killed."""
    logs = sorted(deployments.glob(f"*/logs/{stack}.apply.log"), key=lambda path: path.stat().st_mtime)
    return [log for log in logs if not log.is_relative_to(current) and crashed(log)]


def unrecorded(logs: list[Path], in_state: set[str]) -> list[Created]:
    """What the crashed applies in `logs` created (or were creating) that the state does not hold. A log
    whose resources are all in the state (imported, or recorded by a later apply) is marked checked."""
    missing: dict[str, Created] = {}
    for log in logs:
        found = [created for created in created_in(log) if created.address not in in_state]
        if not found:
            log.rename(log.with_name(log.name + CHECKED_SUFFIX))
            continue
        for created in found:
            if created.complete or created.address not in missing:
                missing[created.address] = created
    return list(missing.values())


def _event(line: str) -> dict[str, object]:
    if not line.startswith("{"):
        return {}
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
