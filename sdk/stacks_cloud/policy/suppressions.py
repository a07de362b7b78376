"""Reasoned suppressions: the project's `config/checks.toml`, one entry per accepted finding.

    [[suppress]]
    check = "CKV_AWS_120"                  # the check's id (or a list of ids with the same reason)
    resources = ["*/Api/Api/Stage"]        # construct paths or addresses (shell patterns); "*" for all
    reason = "A proxy API answers per user: API Gateway's cache would serve one user's answer to another."
    environments = ["!production"]         # optional: only there (shell patterns; `!` excludes)

Every entry must name its check and its resources and give a reason of at least 20 characters; a
malformed file is a `ConfigError` naming the entry and the field.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stacks_cloud.core.errors import ConfigError, Problem

SUPPRESSIONS_FILE = Path("config") / "checks.toml"
MIN_REASON = 20


@dataclass(frozen=True)
class Suppression:
    checks: tuple[str, ...]
    resources: tuple[str, ...]
    reason: str
    environments: tuple[str, ...] | None = None

    def matches(self, check_id: str, names: tuple[str, ...], environment: str) -> bool:
        """Whether this entry accepts `check_id` on a resource known by any of `names` in `environment`."""
        if check_id not in self.checks:
            return False
        if not self.applies_in(environment):
            return False
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.resources for name in names)

    def applies_in(self, environment: str) -> bool:
        """`environments` holds shell patterns; `!pattern` excludes. None: every environment."""
        if self.environments is None:
            return True
        wanted = [pattern for pattern in self.environments if not pattern.startswith("!")]
        excluded = [pattern[1:] for pattern in self.environments if pattern.startswith("!")]
        if any(fnmatch.fnmatchcase(environment, pattern) for pattern in excluded):
            return False
        return not wanted or any(fnmatch.fnmatchcase(environment, pattern) for pattern in wanted)


def load_suppressions(path: Path) -> list[Suppression]:
    """The suppressions in `path` (none when it does not exist); raise `ConfigError` listing every bad entry."""
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            "suppressions", [Problem(str(path), None, f"is not valid TOML: {error}.", "fix the syntax.")]
        ) from None
    entries = data.get("suppress", [])
    problems: list[Problem] = []
    suppressions: list[Suppression] = []
    if not isinstance(entries, list):
        entries = []
        problems.append(
            Problem(f"{path}: suppress", type(data.get("suppress")).__name__, "must be [[suppress]] tables.", "")
        )
    for index, entry in enumerate(entries):
        where = f"{path}: suppress[{index}]"
        parsed = _entry(entry, where, problems)
        if parsed is not None:
            suppressions.append(parsed)
    unknown = sorted(set(data) - {"suppress"})
    problems += [
        Problem(f"{path}: {key}", key, "is not a known section.", "use [[suppress]] entries only.") for key in unknown
    ]
    ConfigError.raise_if_any("suppressions", problems)
    return suppressions


def _entry(entry: Any, where: str, problems: list[Problem]) -> Suppression | None:
    if not isinstance(entry, dict):
        problems.append(Problem(where, entry, "must be a table with check, resources and reason.", ""))
        return None
    check = entry.get("check")
    resources = entry.get("resources")
    reason = entry.get("reason")
    environments = entry.get("environments")
    count = len(problems)
    checks = [check] if isinstance(check, str) else check
    if not isinstance(checks, list) or not checks or not all(isinstance(c, str) and c.strip() for c in checks):
        problems.append(
            Problem(f"{where}.check", check, "is required: the id of the check (e.g. 'CKV_AWS_120'), or a list.", "")
        )
    if isinstance(resources, str):
        resources = [resources]
    if not isinstance(resources, list) or not resources or not all(isinstance(r, str) and r for r in resources):
        problems.append(
            Problem(
                f"{where}.resources",
                resources,
                "is required: construct paths or addresses the suppression applies to (shell patterns).",
                'use e.g. ["*/Api/Api/Stage"], or ["*"] to accept the check on every resource.',
            )
        )
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        problems.append(
            Problem(
                f"{where}.reason",
                reason,
                f"is required: say why the finding is acceptable (at least {MIN_REASON} characters).",
                "write the reason a security reviewer would accept.",
            )
        )
    if environments is not None and (
        not isinstance(environments, list) or not all(isinstance(e, str) for e in environments)
    ):
        problems.append(
            Problem(
                f"{where}.environments",
                environments,
                "must be a list of environment names or patterns.",
                'use e.g. ["development", "preview-*"], or ["!production"] for every environment but production.',
            )
        )
    unknown = sorted(set(entry) - {"check", "resources", "reason", "environments"})
    problems += [Problem(f"{where}.{key}", entry[key], "is not a known field.", "remove it.") for key in unknown]
    if len(problems) > count:
        return None
    return Suppression(
        checks=tuple(str(c).strip() for c in checks or ()),
        resources=tuple(resources or ()),
        reason=str(reason).strip(),
        environments=tuple(environments) if environments is not None else None,
    )
