"""What a saved terraform plan changes, read from `terraform show -json <planfile>` (never from its prose).

`read_plan(document)` turns terraform's JSON plan representation into `ResourceChange`s: each
resource's address, its action (create, update in place, replace and the attributes that force it,
delete, read) and, for updates and drift, the attributes that differ with their old and new values.
Sensitive values (terraform's `before_sensitive` / `after_sensitive`) are shown as `(sensitive)`,
values known only after apply as `(known after apply)`, and every value passes the secrets masker.

The same reader gives the drift of a refresh-only plan (`resource_drift`): resources changed outside
Terraform, with the attributes that differ between the state and the cloud.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from stacks_cloud.core.secrets import redact_text

SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"
MAX_VALUE_CHARS = 120
"""Longer rendered values are cut (the JSON result keeps them whole)."""


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    READ = "read"
    NO_OP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "read": "<=", "no-op": " "}[self.value]

    @property
    def words(self) -> str:
        return {
            "create": "create",
            "update": "update in place",
            "replace": "replace",
            "delete": "delete",
            "read": "read",
            "no-op": "no change",
        }[self.value]


class AttributeChange(BaseModel):
    """One attribute that differs: its path (`environment.variables.MODE`), before and after, shown safely."""

    path: str
    before: Any = None
    after: Any = None
    forces_replacement: bool = False


class ResourceChange(BaseModel):
    address: str
    type: str
    action: Action
    attributes: list[AttributeChange] = Field(default_factory=list)
    """For updates, replacements and drift: what differs (for creates and deletes: nothing listed)."""
    reason: str | None = None
    """terraform's `action_reason` (e.g. `replace_because_cannot_update`), when it gives one."""

    def render(self, *, drift: bool = False) -> list[str]:
        """The resource as a user reads it; `drift`: worded as a change made outside Terraform."""
        words = self.action.words
        if drift:
            words = "deleted outside Terraform" if self.action is Action.DELETE else "changed outside Terraform"
        head = f"  {self.action.symbol:>3} {self.address}  {words}"
        forced = [a.path for a in self.attributes if a.forces_replacement]
        if forced:
            head += f" (forced by: {', '.join(forced)})"
        return [head] + [f"        {a.path}: {_show(a.before)} -> {_show(a.after)}" for a in self.attributes]


def short_address(address: str) -> str:
    """`aws_lambda_function.Api_Function_1A2B3C4D` -> `aws_lambda_function.Api_Function`: cdktf's hash
    suffix says nothing to a reader."""
    kind, _, name = address.partition(".")
    head, _, suffix = name.rpartition("_")
    if head and len(suffix) == 8 and suffix.isalnum() and suffix.upper() == suffix:
        name = head
    return f"{kind}.{name}" if name else kind


def read_plan(document: dict[str, Any]) -> list[ResourceChange]:
    """The resources a plan changes (no-ops left out), in terraform's order."""
    return [
        change
        for entry in document.get("resource_changes") or []
        if (change := _resource_change(entry)).action is not Action.NO_OP
    ]


def read_drift(document: dict[str, Any]) -> list[ResourceChange]:
    """The resources a (refresh-only) plan found changed outside Terraform, with what differs.

    Only attributes the configuration sets count: terraform's `resource_drift` also lists computed
    attributes that other resources changed (a bucket's `versioning`, set by its own
    `aws_s3_bucket_versioning`; a role's `managed_policy_arns`, set by attachments), which is not drift.
    A resource deleted outside Terraform always counts.
    """
    configured = _configured_attributes(document)
    drifted = []
    for entry in document.get("resource_drift") or []:
        change = _resource_change(entry)
        keys = configured.get(_without_index(change.address))
        if keys is not None:
            change.attributes = [a for a in change.attributes if a.path.split(".", 1)[0] in keys]
        if change.action is Action.DELETE or change.attributes:
            drifted.append(change)
    return drifted


def _configured_attributes(document: dict[str, Any]) -> dict[str, set[str]]:
    """Each configured resource's address and the attribute (and block) names its configuration sets."""
    resources = ((document.get("configuration") or {}).get("root_module") or {}).get("resources") or []
    return {str(r.get("address")): set((r.get("expressions") or {}).keys()) for r in resources}


def _without_index(address: str) -> str:
    return address.split("[", 1)[0]


def has_prior_state(document: dict[str, Any]) -> bool:
    """Whether the stack had anything in its state when planned (False: never deployed, or destroyed)."""
    root = ((document.get("prior_state") or {}).get("values") or {}).get("root_module") or {}
    return _has_managed(root)


def _has_managed(module: dict[str, Any]) -> bool:
    """Managed resources only: the prior state also holds the data sources the plan just read."""
    return any(r.get("mode") == "managed" for r in module.get("resources") or []) or any(
        _has_managed(child) for child in module.get("child_modules") or []
    )


CHANGE_SUMMARY_KEYS = (("add", "add"), ("change", "change"), ("destroy", "remove"))
"""(our count, terraform's `change_summary` key): terraform's machine-readable events say "remove" for what
its plans (and our counts) call "destroy"."""


def counts(changes: list[ResourceChange]) -> dict[str, int]:
    """terraform's own counting: a replacement is one to add and one to destroy."""
    add = sum(c.action in (Action.CREATE, Action.REPLACE) for c in changes)
    destroy = sum(c.action in (Action.DELETE, Action.REPLACE) for c in changes)
    change = sum(c.action is Action.UPDATE for c in changes)
    return {"add": add, "change": change, "destroy": destroy}


def _action(actions: list[str]) -> Action:
    if sorted(actions) == ["create", "delete"]:
        return Action.REPLACE
    if actions == ["no-op"] or not actions:
        return Action.NO_OP
    return Action(actions[0])


def _resource_change(entry: dict[str, Any]) -> ResourceChange:
    change = entry.get("change") or {}
    action = _action(list(change.get("actions") or []))
    attributes: list[AttributeChange] = []
    if action in (Action.UPDATE, Action.REPLACE):
        forcing = {_path_text(path) for path in change.get("replace_paths") or []}
        attributes = [
            AttributeChange(path=path, before=before, after=after, forces_replacement=path in forcing)
            for path, before, after in _differences(
                change.get("before"),
                change.get("after"),
                unknown=change.get("after_unknown"),
                sensitive_before=change.get("before_sensitive"),
                sensitive_after=change.get("after_sensitive"),
            )
        ]
        for path in sorted(forcing - {a.path for a in attributes}):
            attributes.append(AttributeChange(path=path, before=None, after=UNKNOWN, forces_replacement=True))
    return ResourceChange(
        address=str(entry.get("address")),
        type=str(entry.get("type")),
        action=action,
        attributes=attributes,
        reason=entry.get("action_reason"),
    )


def _path_text(path: list[Any]) -> str:
    return ".".join(str(part) for part in path)


def _differences(
    before: Any, after: Any, *, unknown: Any, sensitive_before: Any, sensitive_after: Any, prefix: str = ""
) -> list[tuple[str, Any, Any]]:
    """(path, before, after) for each leaf that differs; maps are walked, lists compared whole."""
    if unknown is True:
        return [(prefix, _safe(before, sensitive_before), UNKNOWN)]
    if sensitive_before is True or sensitive_after is True:
        return [(prefix, SENSITIVE, SENSITIVE)] if before != after else []
    if isinstance(before, dict) and isinstance(after, dict):
        found: list[tuple[str, Any, Any]] = []
        unknown_keys = set(unknown) if isinstance(unknown, dict) else set()
        for key in sorted(set(before) | set(after) | unknown_keys):
            found += _differences(
                before.get(key),
                after.get(key),
                unknown=_at(unknown, key),
                sensitive_before=_at(sensitive_before, key),
                sensitive_after=_at(sensitive_after, key),
                prefix=f"{prefix}.{key}" if prefix else str(key),
            )
        return found
    if _contains_marks(unknown) or _contains_marks(sensitive_before) or _contains_marks(sensitive_after):
        shown_after = UNKNOWN if _contains_marks(unknown) else _safe(after, sensitive_after)
        return [(prefix, _safe(before, sensitive_before), shown_after)]
    if _empty(before) and _empty(after):
        return []
    if before != after:
        return [(prefix, _safe(before, sensitive_before), _safe(after, sensitive_after))]
    return []


def _at(marks: Any, key: str) -> Any:
    return marks.get(key) if isinstance(marks, dict) else None


def _contains_marks(marks: Any) -> bool:
    if marks is True:
        return True
    if isinstance(marks, dict):
        return any(_contains_marks(value) for value in marks.values())
    if isinstance(marks, list):
        return any(_contains_marks(value) for value in marks)
    return False


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {} or value == ""


def _safe(value: Any, sensitive: Any) -> Any:
    """The value as it may be shown: sensitive parts replaced, strings through the secrets masker."""
    if sensitive is True:
        return SENSITIVE
    if isinstance(value, dict):
        return {key: _safe(item, _at(sensitive, key)) for key, item in value.items()}
    if isinstance(value, list):
        marks = sensitive if isinstance(sensitive, list) else []
        return [_safe(item, marks[i] if i < len(marks) else None) for i, item in enumerate(value)]
    if isinstance(value, str):
        return redact_text(value)
    return value


def show_value(value: Any) -> str:
    """A value as plans show it: sensitive and unknown markers as they are, the rest as JSON, cut when long."""
    return _show(value)


def _show(value: Any) -> str:
    if value in (SENSITIVE, UNKNOWN):
        return str(value)
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 3] + "..."
