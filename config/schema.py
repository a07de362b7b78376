"""The configuration models: the shape of the guide's `config/cloud.ts`, validated.

Every model accepts the guide's camelCase keys (`multiRegion`, `primaryRegion`, `preDeploy`) as
well as snake_case, and every invalid input raises one `ConfigError` that lists all problems with
their field paths. Secrets (`api_key`, tokens, passwords, webhook URLs) are `SecretStr`, read from
the environment with `from_env("NAME")` so they never sit in the config file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic._internal._model_construction import ModelMetaclass  # stable in pydantic 2.x
from pydantic.alias_generators import to_camel

from core import naming
from core.errors import ConfigError, Problem
from core.secrets import SECRET_KEY
from core.types import LambdaTimeout, MemorySize, Region, ScheduleExpression
from core.validation import problems_from_validation_error

# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------


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


def _resolve_env(value: Any) -> Any:
    return value.resolve() if isinstance(value, FromEnv) else value


_APP_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]*$")


def _check_app_name(value: str) -> str:
    if not _APP_NAME.match(value) or "--" in value:
        suggestion = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", value.lower())).strip("-") or "my-app"
        raise ValueError(
            "must be lowercase letters, digits and single hyphens, start with a letter and end with a"
            f" letter or digit, because it prefixes S3, Lambda and DynamoDB names. Fix: use e.g. {suggestion!r}."
        )
    return value


def _check_environment(value: str) -> str:
    if not _ENVIRONMENT.match(value) or value.endswith("-") or "--" in value:
        raise ValueError(
            "must be lowercase letters, digits and single hyphens starting with a letter."
            " Fix: use e.g. 'development', 'staging' or 'production'."
        )
    return value


AppName = Annotated[str, Field(min_length=2, max_length=40), AfterValidator(_check_app_name)]
EnvironmentName = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_check_environment)]

PRODUCTION = "production"
"""The environment whose resources are kept on destroy and get point-in-time recovery (as in the guide)."""


class _RaisesConfigError(ModelMetaclass):
    """Turns `Model(...)` failures into `ConfigError`.

    Done in the metaclass rather than `__init__` because pydantic calls a custom `__init__` for
    nested models too, which would wrap one model's error inside its parent's.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: N805  (a metaclass method)
        try:
            model = super().__call__(*args, **kwargs)
        except ValidationError as error:
            raise ConfigError(cls._subject, cls._problems(error)) from None  # type: ignore[attr-defined]
        model._raise_semantic_problems()
        return model


class Model(BaseModel, metaclass=_RaisesConfigError):
    """Base of every config model: frozen, camelCase aliases, unknown keys rejected.

    `model_validate` and the constructor raise `ConfigError` (a `ValueError`) listing every problem
    instead of pydantic's `ValidationError`.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
        arbitrary_types_allowed=True,
        loc_by_alias=False,  # error paths use the Python field names, whichever spelling was given
    )
    _subject: ClassVar[str] = "configuration"

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        try:
            model = super().model_validate(obj, **kwargs)
        except ValidationError as error:
            raise ConfigError(cls._subject, cls._problems(error)) from None
        model._raise_semantic_problems()
        return model

    @classmethod
    def _problems(cls, error: ValidationError) -> list[Problem]:
        return problems_from_validation_error(error)

    def _raise_semantic_problems(self) -> None:
        ConfigError.raise_if_any(self._subject, self.semantic_problems())

    def semantic_problems(self) -> list[Problem]:
        """Cross-field rules, checked once every field is valid. Subclasses extend."""
        return []


# ---------------------------------------------------------------------------------------------
# Provider sections (the guide's `custom: { apiKey, region }`)
# ---------------------------------------------------------------------------------------------


class ProviderSettings(BaseModel):
    """Settings for one provider, keyed by the provider's name at the top level of the config.

    Known fields are typed; any other field is passed through to the provider, and fields whose
    name looks secret (api key, token, password, secret, webhook) are stored as `SecretStr`.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="allow")

    api_key: Annotated[SecretStr | None, BeforeValidator(_resolve_env)] = None
    """Credential for the provider's API; use `from_env(...)`. Default: none."""
    region: Region | None = None
    """Region the provider deploys to. Default: the config's `region`."""

    @model_validator(mode="before")
    @classmethod
    def _protect_secret_extras(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = {"api_key", "apiKey", "region"}
        resolved = {}
        for key, value in data.items():
            value = _resolve_env(value)
            if key not in known and isinstance(value, str) and SECRET_KEY.search(key):
                value = SecretStr(value)
            resolved[key] = value
        return resolved


# ---------------------------------------------------------------------------------------------
# Hooks (the guide's `hooks: { preDeploy, postDeploy, onError }`): shape now, running later
# ---------------------------------------------------------------------------------------------

HookCallable = Callable[..., Any]


def _as_list(value: Any) -> Any:
    if value is None:
        return []
    if callable(value):
        return [value]
    return value


HookList = Annotated[list[HookCallable], BeforeValidator(_as_list)]


class HooksConfig(Model):
    """Deployment hooks per phase; each phase takes one callable or a list run in order."""

    pre_deploy: HookList = Field(default_factory=list)
    """Run before anything is applied; a failure stops the deployment. Default: none."""
    post_deploy: HookList = Field(default_factory=list)
    """Run after every stack applied. Default: none."""
    on_error: HookList = Field(default_factory=list)
    """Run with `(error, context)` when any step fails. Default: none."""


# ---------------------------------------------------------------------------------------------
# Multi-region (the guide's `multiRegion`)
# ---------------------------------------------------------------------------------------------


class Routing(StrEnum):
    LATENCY = "latency"
    GEOLOCATION = "geolocation"
    WEIGHTED = "weighted"


class MultiRegionConfig(Model):
    """One stack per region plus a global routing stack."""

    enabled: bool = False
    """Default: off (a single stack in `region`)."""
    primary_region: Region | None = None
    """Required when enabled."""
    replica_regions: list[Region] = Field(default_factory=list)
    """Regions that run a copy of the app stack. Default: none."""
    routing: Routing = Routing.LATENCY
    """How the global stack routes users between regions. Default: latency."""

    def semantic_problems(self) -> list[Problem]:
        problems = []
        if self.enabled and self.primary_region is None:
            problems.append(
                Problem(
                    "multi_region.primary_region",
                    None,
                    "is required when multi-region is enabled.",
                    "set primaryRegion, e.g. 'us-east-1'.",
                )
            )
        if self.primary_region and self.primary_region in self.replica_regions:
            problems.append(
                Problem(
                    "multi_region.replica_regions",
                    self.replica_regions,
                    f"contains the primary region {self.primary_region!r}.",
                    "list only the additional regions.",
                )
            )
        seen: set[str] = set()
        for index, region in enumerate(self.replica_regions):
            if region in seen:
                problems.append(
                    Problem(
                        f"multi_region.replica_regions.{index}", region, "is listed twice.", "remove the duplicate."
                    )
                )
            seen.add(region)
        return problems


# ---------------------------------------------------------------------------------------------
# The application's resources (what the guide's CustomStack hard-codes, with its values as defaults)
# ---------------------------------------------------------------------------------------------


class ApiSettings(Model):
    """The app's API function (the guide's `CustomApi` in `CustomStack`)."""

    handler: str = "index.handler"
    memory_size: MemorySize = 512
    timeout: LambdaTimeout = timedelta(seconds=30)
    code_path: str = "app/dist"
    """Folder zipped as the function's code, relative to the project. Default: app/dist."""


class ScheduledFunctionSettings(Model):
    """A function run on a schedule (the guide's `addScheduledFunction`)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$", max_length=40)]
    """Construct id, e.g. 'DailyCleanup' (stable: renaming replaces the function)."""
    schedule: ScheduleExpression
    handler: str
    memory_size: MemorySize = 128
    code_path: str = "app/dist/functions"


class Engine(StrEnum):
    MYSQL = "mysql"
    POSTGRES = "postgres"
    MARIADB = "mariadb"


class DatabaseSettings(Model):
    """An RDS instance in the app's VPC (the guide's `addRdsDatabase`)."""

    instance_type: Annotated[str, Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")] = "db.t3.small"
    engine: Engine = Engine.MYSQL
    multi_az: bool = False


class CacheSettings(Model):
    """A Redis cluster in the app's VPC (the guide's `addRedisCluster`)."""

    node_type: Annotated[str, Field(pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")] = "cache.t3.micro"
    num_cache_nodes: Annotated[int, Field(ge=1, le=1)] = 1


class StateConfig(Model):
    """Where each stack keeps its Terraform state."""

    backend: Literal["local"] = "local"
    """Default: local, one state file per stack in `local_dir`."""
    local_dir: str = ".state"
    """Folder for local state, relative to the project (never inside cdktf.out, which synth rewrites)."""


# ---------------------------------------------------------------------------------------------
# The whole config
# ---------------------------------------------------------------------------------------------


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
    api: ApiSettings = Field(default_factory=ApiSettings)
    scheduled_functions: list[ScheduledFunctionSettings] = Field(default_factory=list)
    state: StateConfig = Field(default_factory=StateConfig)
    database: DatabaseSettings | None = None
    """Default: no database (and no VPC unless a cache is configured)."""
    cache: CacheSettings | None = None
    """Default: no cache."""

    @model_validator(mode="before")
    @classmethod
    def _collect_provider_sections(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        known = set()
        for name, field in cls.model_fields.items():
            known |= {name, field.alias or name}
        providers = data.get("providers") or {}
        section_names = {data.get("driver", "aws"), *(providers if isinstance(providers, dict) else {})}
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

    @field_validator("environment", mode="before")
    @classmethod
    def _environment_from_env(cls, value: Any) -> Any:
        return _resolve_env(value)

    @classmethod
    def _problems(cls, error: ValidationError) -> list[Problem]:
        problems = []
        for problem in problems_from_validation_error(error):
            path = problem.path.removeprefix("provider_settings.")
            fix = problem.fix
            if problem.message.startswith("Extra inputs"):
                fix = (
                    "remove it, check its spelling, or, if it is a provider section, register the provider"
                    " under `providers` or make it the `driver`."
                )
            problems.append(Problem(path, problem.value, problem.message, fix))
        return problems

    @property
    def is_production(self) -> bool:
        return self.environment == PRODUCTION

    @property
    def regions(self) -> list[str]:
        """Every region the app runs in, primary first."""
        if self.multi_region.enabled and self.multi_region.primary_region:
            return [self.multi_region.primary_region, *self.multi_region.replica_regions]
        return [self.region]

    @property
    def resource_prefix(self) -> str:
        return f"{self.app_name}-{self.environment}"

    def semantic_problems(self) -> list[Problem]:
        problems = self.multi_region.semantic_problems()
        prefix = self.resource_prefix
        derived = [
            (f"{prefix}-assets", "S3 bucket", naming.s3_bucket_name_problems),
            (prefix, "DynamoDB table", naming.dynamodb_table_name_problems),
            (f"{prefix}-jobs", "SQS queue", naming.sqs_queue_name_problems),
            (f"{prefix}-api", "Lambda function", naming.lambda_function_name_problems),
            (f"{prefix}-api-role", "IAM role", naming.iam_role_name_problems),
        ]
        for name, kind, rule in derived:
            for reason in rule(name):
                problems.append(
                    Problem(
                        "app_name",
                        self.app_name,
                        f"with environment {self.environment!r} it forms the {kind} name {name!r}, which {reason}.",
                        "use a shorter app_name or environment.",
                    )
                )
        for index, function in enumerate(self.scheduled_functions):
            for reason in naming.lambda_function_name_problems(f"{prefix}-{function.name}"):
                problems.append(
                    Problem(
                        f"scheduled_functions.{index}.name",
                        function.name,
                        f"forms the function name '{prefix}-{function.name}', which {reason}.",
                        "use a shorter name.",
                    )
                )
        return problems
