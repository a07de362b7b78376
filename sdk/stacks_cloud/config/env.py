"""`from_env("NAME")`: a setting read from the environment when the config is validated (or a hook runs)."""

from __future__ import annotations

import os
from typing import Any


class FromEnv:
    """A reference to an environment variable, resolved when the config is validated.

    `api_key=from_env("CUSTOM_CLOUD_API_KEY")` is the Python twin of the guide's
    `apiKey: process.env.CUSTOM_CLOUD_API_KEY`; the value becomes a `SecretStr` (or None when the
    variable is unset, like `process.env`).
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self) -> str | None:
        return os.environ.get(self.name)

    def __repr__(self) -> str:
        return f"from_env({self.name!r})"


def from_env(name: str) -> FromEnv:
    """Read a setting from the environment at validation time (see `FromEnv`)."""
    return FromEnv(name)


def resolve_env(value: Any) -> Any:
    """`value`, or the variable's value when it is a `from_env(...)` reference."""
    return value.resolve() if isinstance(value, FromEnv) else value
