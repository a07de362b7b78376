"""Pick the provider named by `CloudConfig.driver`: a user-registered one, else a built-in."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.providers.base import CloudProvider

BUILTINS: dict[str, str] = {
    "aws": "stacks_cloud.providers.aws:AwsProvider",
    "terraform": "stacks_cloud.providers.terraform_data:TerraformDataProvider",
}
"""Built-in providers by name, imported only when chosen."""

REQUIRED = ("deploy", "destroy", "get_status")


def available(config: CloudConfig) -> list[str]:
    return sorted({*config.providers, *BUILTINS})


def resolve_provider(config: CloudConfig) -> CloudProvider:
    """The provider instance for `config.driver`, its settings section validated.

    Raises `ConfigError` naming the available providers when the driver is unknown, and what is
    missing when a registered object does not implement the `CloudProvider` interface.
    """
    name = config.driver
    candidate: Any = config.providers.get(name)
    if candidate is None and name in BUILTINS:
        module, _, attribute = BUILTINS[name].partition(":")
        candidate = getattr(importlib.import_module(module), attribute)
    if candidate is None:
        raise ConfigError(
            "cloud configuration",
            [
                Problem(
                    "driver",
                    name,
                    "is not a registered provider.",
                    f"use one of {', '.join(repr(n) for n in available(config))}, or register yours under"
                    f" `providers`, e.g. providers={{{name!r}: CustomCloudProvider()}}.",
                )
            ],
        )
    if inspect.isclass(candidate):
        candidate = candidate()
    missing = [method for method in REQUIRED if not inspect.iscoroutinefunction(getattr(candidate, method, None))]
    if missing:
        raise ConfigError(
            "cloud configuration",
            [
                Problem(
                    f"providers.{name}",
                    type(candidate).__name__,
                    f"does not implement the CloudProvider interface: no async {', '.join(missing)}.",
                    "subclass stacks_cloud.CloudProvider and define async deploy, destroy and get_status.",
                )
            ],
        )
    settings_model = getattr(candidate, "settings_model", None)
    section = config.provider_settings.get(name)
    if settings_model is not None and section is not None:
        try:
            settings_model.model_validate(section.model_dump(exclude_none=True))
        except ConfigError as error:
            raise ConfigError(
                "cloud configuration", [Problem(f"{name}.{p.path}", p.value, p.message, p.fix) for p in error.problems]
            ) from None
    provider: CloudProvider = candidate
    return provider
