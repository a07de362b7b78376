"""Which terraform is on PATH, and refusing one too old for what a stack needs (before anything runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache

from stacks_cloud.core.errors import CloudProviderError


@cache
def _version_of(binary: str) -> tuple[int, int, int] | None:
    try:
        result = subprocess.run(
            [binary, "version", "-json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            stdin=subprocess.DEVNULL,
        )
        text = str(json.loads(result.stdout)["terraform_version"])
    except (OSError, subprocess.SubprocessError, ValueError, KeyError):
        return None
    parts = [*text.split("-", 1)[0].split("."), "0", "0"][:3]
    try:
        return int(parts[0]), int(parts[1]), int(parts[2])
    except ValueError:
        return None


def terraform_version(env: dict[str, str]) -> tuple[int, int, int] | None:
    """The version of the `terraform` that `env`'s PATH finds; None when there is none or it does not say."""
    binary = shutil.which("terraform", path=env.get("PATH"))
    return _version_of(binary) if binary else None


def require_terraform(minimum: tuple[int, int], env: dict[str, str], *, needed_by: str) -> None:
    """Raise `CloudProviderError` naming the version found when terraform is missing or older than `minimum`."""
    wanted = ".".join(map(str, minimum))
    found = terraform_version(env)
    if found is None:
        raise CloudProviderError(
            f"terraform {wanted} or later is needed ({needed_by}), but no terraform answers `terraform version`"
            " on PATH. Install it (https://developer.hashicorp.com/terraform/install) and run again.",
            provider="terraform",
        )
    if found[:2] < minimum:
        raise CloudProviderError(
            f"terraform {wanted} or later is needed ({needed_by}), but PATH has terraform"
            f" {'.'.join(map(str, found))}. Upgrade it and run again.",
            provider="terraform",
        )
