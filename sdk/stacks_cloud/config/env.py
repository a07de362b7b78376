"""`from_env("NAME")`: a setting read from the environment when the config is validated (or a hook runs)."""

from __future__ import annotations

import os
from typing import Any

from stacks_cloud.core.secrets import looks_secret, register_secret


class FromEnv:
    """A reference to an environment variable, resolved when the config is validated.

    `api_key=from_env("CUSTOM_CLOUD_API_KEY")` is the Python twin of the guide's
    `apiKey: process.env.CUSTOM_CLOUD_API_KEY`; the value becomes a `SecretStr` (or None when the
    variable is unset, like `process.env`).

    `secret`: whether the value is masked in everything the SDK writes. Default (None): when the
    variable's name looks secret (`*_API_KEY`, `*_TOKEN`, `*_PASSWORD`, `*_DSN`, ...); values that fill
    a `SecretStr` field are masked whatever their variable's name.
    """

    def __init__(self, name: str, *, secret: bool | None = None) -> None:
        self.name = name
        self.secret = looks_secret(name) if secret is None else secret

    def resolve(self) -> str | None:
        value = os.environ.get(self.name)
        if self.secret:
            register_secret(value)
        return value

    def __repr__(self) -> str:
        return f"from_env({self.name!r})"


def from_env(name: str, *, secret: bool | None = None) -> FromEnv:
    """Read a setting from the environment at validation time (see `FromEnv`)."""
    return FromEnv(name, secret=secret)


def resolve_env(value: Any) -> Any:
    """`value`, or the variable's value when it is a `from_env(...)` reference."""
    return value.resolve() if isinstance(value, FromEnv) else value
