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
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


IMPORT_FORMATS = {
    "aws_api_gateway_resource": "{rest_api_id}/{id}",
    "aws_api_gateway_request_validator": "{rest_api_id}/{id}",
    "aws_api_gateway_deployment": "{rest_api_id}/{id}",
    "aws_api_gateway_stage": "{rest_api_id}/{stage_name}",
    "aws_api_gateway_method": "{rest_api_id}/{resource_id}/{http_method}",
    "aws_api_gateway_integration": "{rest_api_id}/{resource_id}/{http_method}",
    "aws_api_gateway_method_response": "{rest_api_id}/{resource_id}/{http_method}/{status_code}",
    "aws_api_gateway_method_settings": "{rest_api_id}/{stage_name}/{method_path}",
    "aws_lambda_permission": "{function_name}/{statement_id}",
    "aws_iam_role_policy_attachment": "{role}/{policy_arn}",
    "aws_route_table_association": "{subnet_id}/{route_table_id}",
    "aws_kms_alias": "{name}",
}
"""`terraform import` ids that are not the resource's own id (the AWS provider's import docs), by type."""

_FIELD = re.compile(r"\{(\w+)\}")
_REFERENCE = re.compile(r"^\$\{([\w-]+\.[\w-]+)\.(\w+)\}$")


def import_id(
    created: Created,
    synthesized: Mapping[str, Any],
    state: Mapping[str, Mapping[str, Any]],
    orphan_ids: Mapping[str, str],
) -> str:
    """The id `terraform import` takes for `created`: its own id, or its type's format (`IMPORT_FORMATS`)
    filled from its configuration, where a reference is resolved against the state or the other unrecorded
    resources' ids; what cannot be known yet stays a `<placeholder>` (import the others first)."""
    kind, _, name = created.address.partition(".")
    form = IMPORT_FORMATS.get(kind, "{id}")
    resources = synthesized.get("resource")
    body = resources.get(kind, {}).get(name, {}) if isinstance(resources, dict) else {}

    def value(field: str) -> str:
        if field == "id":
            return created.identifier or "<ID>"
        given = body.get(field) if isinstance(body, dict) else None
        if isinstance(given, str) and "${" not in given:
            return given
        reference = _REFERENCE.match(given) if isinstance(given, str) else None
        if reference:
            address, attribute = reference.groups()
            if attribute == "id" and address in orphan_ids:
                return orphan_ids[address]
            known = state.get(address, {}).get(attribute)
            if isinstance(known, str | int):
                return str(known)
        return f"<{field.upper()}>"

    return _FIELD.sub(lambda match: value(match[1]), form)


def _event(line: str) -> dict[str, object]:
    if not line.startswith("{"):
        return {}
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
