"""`CloudConfig`: the Python twin of the guide's `config/cloud.ts`, and the base of a project's own config.

A project extends it with the sections its stacks need (an API's memory, a database...) by
subclassing, and every problem, in the SDK's sections and the project's, is still reported in one
`ConfigError`:

    class AppConfig(CloudConfig):
        api: ApiSettings = Field(default_factory=ApiSettings)

        def semantic_problems(self) -> list[Problem]:
            return super().semantic_problems() + self.derived_name_problems([...])
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator

from stacks_cloud.config.base import Model
from stacks_cloud.config.env import FromEnv, resolve_env
from stacks_cloud.config.fields import PRODUCTION, AppName, EnvironmentName
from stacks_cloud.config.hooks import HooksConfig
from stacks_cloud.config.multi_region import MultiRegionConfig
from stacks_cloud.config.providers import AwsSettings, ProviderSettings
from stacks_cloud.config.state import StateConfig
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.names import ResourceNames
from stacks_cloud.core.secrets import register_secrets_in
from stacks_cloud.core.suggest import did_you_mean
from stacks_cloud.core.types import Region
from stacks_cloud.core.validation import problems_from_validation_error

BUILTIN_PROVIDER_SECTIONS = frozenset({"aws", "terraform"})
"""Sections of the built-in providers, accepted whichever driver deploys (the stacks use `aws` in any case)."""


@dataclass(frozen=True)
class DerivedName:
    """A resource name the stacks derive from the config, checked against the resource's naming rule.

    Attributes:
        path: the config field to blame (`app_name`, `scheduled_functions.0.name`).
        value: that field's value.
        kind: what the name is for, e.g. "S3 bucket".
        rule: the naming rule (a `stacks_cloud.core.naming` function).
        name: the name in one region, from that region's `ResourceNames`.
        fix: how to make it valid.
    """

    path: str
    value: object
    kind: str
    rule: Callable[[str], list[str]]
    name: Callable[[ResourceNames], str]
    fix: str = "use a shorter name."


DEFAULT_ENVIRONMENTS = ("development", "staging", "production")


class CloudConfig(Model):
    """The cloud configuration: the Python twin of the guide's `config/cloud.ts`.

    Provider-specific sections sit at the top level under the provider's name, as in the guide
    (`custom: {apiKey, region}`); they are allowed for the `driver` and every key of `providers`,
    validated as `ProviderSettings`, and available as `provider_settings[name]`.
    """

    _subject: ClassVar[str] = "cloud configuration"

    app_name: AppName
    """Prefix of every resource name, e.g. 'my-app'."""
    environment: EnvironmentName = "development"
    """Deployment environment; 'production' keeps data on destroy. Default: development."""
    environments: list[EnvironmentName] = Field(default_factory=lambda: list(DEFAULT_ENVIRONMENTS))
    """The environments this app deploys to; any other `environment` (a typo such as `prod`) is refused,
    so that it never becomes an unprotected copy. Default: development, staging, production."""
    region: Region = "us-east-1"
    """Default region (the primary region when multi-region is enabled). Default: us-east-1."""
    driver: str = "aws"
    """Name of the provider that deploys: a key of `providers` or a built-in. Default: aws."""
    providers: dict[str, Any] = Field(default_factory=dict)
    """User-registered provider instances by name (the guide's `providers: {custom: ...}`)."""
    provider_settings: dict[str, ProviderSettings] = Field(default_factory=dict)
    """Provider sections by provider name (filled from the top-level keys)."""
    hooks: HooksConfig = Field(default_factory=HooksConfig)
    multi_region: MultiRegionConfig = Field(default_factory=MultiRegionConfig)
    state: StateConfig = Field(default_factory=StateConfig)

    @model_validator(mode="before")
    @classmethod
    def _collect_provider_sections(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set()
        for name, field in cls.model_fields.items():
            known |= {name, field.alias or name}
        providers = data.get("providers") or {}
        section_names = {
            *BUILTIN_PROVIDER_SECTIONS,
            data.get("driver", "aws"),
            *(providers if isinstance(providers, dict) else {}),
        }
        sections = dict(data.get("provider_settings") or data.get("providerSettings") or {})
        rest = {}
        for key, value in data.items():
            if key not in known and key in section_names:
                sections[key] = value
            else:
                rest[key] = value
        rest.pop("providerSettings", None)
        rest["provider_settings"] = sections
        return rest

    @model_validator(mode="after")
    def _register_secrets(self) -> CloudConfig:
        """Every `SecretStr` of the config is masked from now on in whatever the SDK writes."""
        register_secrets_in(self)
        return self

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_from_env(cls, value: Any) -> Any:
        resolved = resolve_env(value)
        if resolved is None and isinstance(value, FromEnv):
            raise ValueError(
                f"reads the environment variable {value.name}, which is not set. Fix: export {value.name}=development"
                " (or another environment name), pass --env, or remove the setting (default: development)"
            )
        return resolved

    @classmethod
    def _problems(cls, error: Any) -> list[Problem]:
        problems = []
        for problem in problems_from_validation_error(error, model=cls):
            path = problem.path.removeprefix("provider_settings.")
            fix = problem.fix
            if problem.message == "is not a known setting here." and "." not in path:
                suggestion = fix if fix.startswith("did you mean") else ""
                fix = (
                    f"{suggestion} Else remove it or, if it is a provider section, register the provider under"
                    " `providers` or make it the `driver`."
                ).strip()
            problems.append(Problem(path, problem.value, problem.message, fix))
        return problems

    @property
    def is_production(self) -> bool:
        return self.environment == PRODUCTION

    @property
    def regions(self) -> list[str]:
        """Every region the app runs in, primary first."""
        if self.multi_region.enabled and self.multi_region.primary_region:
            return self.multi_region.regions
        return [self.region]

    @property
    def aws(self) -> AwsSettings:
        """The typed `aws` provider section (defaults when the config has none)."""
        section = self.provider_settings.get("aws")
        return AwsSettings.model_validate(section.model_dump(exclude_none=True)) if section else AwsSettings()

    @property
    def warnings(self) -> list[str]:
        """Advice about this config that does not stop a deploy (printed by the CLI and `cdktf synth`)."""
        return self.multi_region.warnings()

    def names(self, region: str) -> ResourceNames:
        """The resource names of this app and environment in `region`."""
        return ResourceNames(self.app_name, self.environment, region)

    def _aws_settings_problems(self) -> list[Problem]:
        try:
            self.aws  # noqa: B018  (validates the section)
        except ConfigError as error:
            return [Problem(f"aws.{p.path}", p.value, p.message, p.fix) for p in error.problems]
        return []

    def semantic_problems(self) -> list[Problem]:
        problems = self.multi_region.semantic_problems() + self.state.semantic_problems()
        problems += self.hooks.semantic_problems()
        problems += self._aws_settings_problems()
        problems += self._driver_problems()
        problems += self._environment_problems()
        if self.multi_region.enabled and self.multi_region.rollout is not None:
            problems += self.multi_region.rollout.problems(self.regions, list(self.environments))
        return problems

    def _environment_problems(self) -> list[Problem]:
        if self.environment in self.environments:
            return []
        prefixed = [name for name in self.environments if name.startswith(self.environment)]
        suggestion = did_you_mean(self.environment, self.environments) or (
            f"did you mean {prefixed[0]!r}?" if len(prefixed) == 1 else ""
        )
        return [
            Problem(
                "environment",
                self.environment,
                f"is not one of this app's environments ({', '.join(self.environments)}).",
                (suggestion + " " if suggestion else "")
                + "pass one of them (--env, APP_ENV or the cdktf context), or declare it under `environments`.",
            )
        ]

    def _driver_problems(self) -> list[Problem]:
        known = sorted({*BUILTIN_PROVIDER_SECTIONS, *self.providers})
        if self.driver in known:
            return []
        return [
            Problem(
                "driver",
                self.driver,
                "is not a registered provider.",
                (did_you_mean(self.driver, known) + " " if did_you_mean(self.driver, known) else "")
                + f"use one of {', '.join(map(repr, known))}, or register yours under `providers`, e.g."
                f" providers={{{self.driver!r}: CustomCloudProvider()}}.",
            )
        ]

    def derived_name_problems(self, derived: Iterable[DerivedName]) -> list[Problem]:
        """Check names the stacks derive from this config in every region; one problem per field and reason.

        Subclasses call this from `semantic_problems` for the names their own stacks create.
        """
        problems: list[Problem] = []
        reported: set[tuple[str, str, str]] = set()
        entries = list(derived)
        for region in self.regions:
            names = self.names(region)
            for entry in entries:
                name = entry.name(names)
                for reason in entry.rule(name):
                    key = (entry.path, entry.kind, reason)
                    if key in reported:
                        continue
                    reported.add(key)
                    context = f"with environment {self.environment!r} it" if entry.path == "app_name" else "it"
                    problems.append(
                        Problem(
                            entry.path,
                            entry.value,
                            f"{context} forms the {entry.kind} name {name!r}, which {reason}.",
                            entry.fix,
                        )
                    )
        return problems
