"""What a deployment records of its config, and how it is named and versioned.

A config snapshot is the validated config as JSON, hooks and provider objects left out and every
secret masked: what the ledger keeps, and what a rollback rebuilds the config from (with the current
config's secrets, hooks and providers).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from stacks_cloud.config import CloudConfig
from stacks_cloud.config.files import find_project_root
from stacks_cloud.core.secrets import MASK
from stacks_cloud.deploy.project import not_a_project


def resolve_project_dir(project_dir: Path | None) -> Path:
    """`project_dir`, else the project at or above the working directory (its `cdktf.json`)."""
    if project_dir is not None:
        return project_dir.resolve()
    found = find_project_root(Path.cwd())
    if found is None:
        raise not_a_project(Path.cwd(), explicit=False)
    return found


def config_snapshot(config: CloudConfig) -> dict[str, Any]:
    """What the config deploys, as JSON: hooks and provider objects left out, every secret masked."""
    data: dict[str, Any] = json.loads(config.model_dump_json(exclude=_CALLABLES))
    return data


_CALLABLES: Any = {"hooks": True, "providers": True, "multi_region": {"rollout": {"gates"}}}
"""The config's Python objects (hooks, providers, rollout gates): not data, so never in a snapshot."""


def config_hash(config: CloudConfig) -> str:
    """A fingerprint of what the config deploys (hooks and provider objects left out; secrets masked)."""
    return hashlib.sha256(json.dumps(config_snapshot(config), sort_keys=True).encode()).hexdigest()[:16]


def restore_config(current: CloudConfig, snapshot: dict[str, Any]) -> CloudConfig:
    """The config a snapshot was taken of: its values, with the current config's secrets, hooks and providers."""
    values = _unmask(snapshot, current.model_dump(exclude=_CALLABLES))
    values["hooks"] = current.hooks
    values["providers"] = current.providers
    rollout = (values.get("multi_region") or {}).get("rollout")
    if isinstance(rollout, dict) and current.multi_region.rollout is not None:
        rollout["gates"] = current.multi_region.rollout.gates
    return type(current).model_validate(values)


def _unmask(snapshot: object, current: object) -> Any:
    if snapshot == MASK:
        return current if isinstance(current, SecretStr | str) else None
    if isinstance(snapshot, dict):
        source = current if isinstance(current, dict) else {}
        return {key: _unmask(value, source.get(key)) for key, value in snapshot.items()}
    if isinstance(snapshot, list):
        items = current if isinstance(current, list) else []
        return [_unmask(value, items[index] if index < len(items) else None) for index, value in enumerate(snapshot)]
    return snapshot


def new_deployment_id(environment: str) -> str:
    """`<env>-<UTC time to the millisecond>-<random>`: unique, and sorts in time order."""
    now = datetime.now(UTC)
    return f"{environment}-{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}-{secrets.token_hex(3)}"


def default_version(project_dir: Path) -> str:
    """`git describe --always --dirty` of the project, else a UTC timestamp."""
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=project_dir,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        described = ""
    return described or datetime.now(UTC).strftime("%Y%m%d%H%M%S")
