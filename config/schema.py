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
from pathlib import Path
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

from config.names import ResourceNames
from core import geo, naming
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


def _prune(data: Any, locations: list[tuple[int | str, ...]]) -> tuple[dict[str, Any], list[str]] | None:
    """A copy of `data` without the entries at `locations` (pydantic error locations), and their paths.

    A bad list item is removed from its list, and the list's path is reported as pruned (the
    positions of the items after it have moved). None when a location cannot be followed through
    plain dicts and lists (then nothing partial is checked).
    """
    if not isinstance(data, dict):
        return None
    root: dict[str, Any] = dict(data)
    paths = []
    doomed: dict[int, tuple[list[Any], set[int]]] = {}  # id(list) -> (list, indexes to remove)
    copied: set[int] = {id(root)}  # containers that are ours to change
    for location in locations:
        node: Any = root
        for depth, part in enumerate(location):
            done = depth == len(location) - 1
            if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                doomed.setdefault(id(node), (node, set()))[1].add(part)
                paths.append(".".join(str(p) for p in location[:depth]))
                break
            if not isinstance(node, dict):
                return None
            key = next((k for k in (str(part), to_camel(str(part))) if k in node), None)
            if key is None:
                return None
            if done or not isinstance(node[key], dict | list):
                del node[key]
                paths.append(".".join(str(p) for p in location[: depth + 1]))
                break
            if id(node[key]) not in copied:
                node[key] = dict(node[key]) if isinstance(node[key], dict) else list(node[key])
                copied.add(id(node[key]))
            node = node[key]
    for items, indexes in doomed.values():
        items[:] = [item for index, item in enumerate(items) if index not in indexes]
    return root, paths


def _related(path: str, other: str) -> bool:
    """Whether one field path contains the other (or they are equal)."""
    return path == other or path.startswith(f"{other}.") or other.startswith(f"{path}.")


class _RaisesConfigError(ModelMetaclass):
    """Turns `Model(...)` failures into `ConfigError`.

    Done in the metaclass rather than `__init__` because pydantic calls a custom `__init__` for
    nested models too, which would wrap one model's error inside its parent's.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:  # noqa: N805  (a metaclass method)
        try:
            model = super().__call__(*args, **kwargs)
        except ValidationError as error:
            raise ConfigError(cls._subject, cls._all_problems(kwargs, error)) from None  # type: ignore[attr-defined]
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
            raise ConfigError(cls._subject, cls._all_problems(obj, error)) from None
        model._raise_semantic_problems()
        return model

    @classmethod
    def _all_problems(cls, data: Any, error: ValidationError) -> list[Problem]:
        """The field errors, plus the cross-field problems of what is valid, so one error lists everything.

        The invalid entries are pruned from a copy of `data` (a whole list when one of its items is
        bad) and the rest is validated again; cross-field problems about a pruned field are dropped.
        """
        problems = cls._problems(error)
        pruned = _prune(data, [item["loc"] for item in error.errors()])
        if pruned is None:
            return problems
        partial_data, pruned_paths = pruned
        try:
            partial = BaseModel.model_validate.__func__(cls, partial_data)  # type: ignore[attr-defined]
        except ValidationError:
            return problems
        return problems + [
            problem
            for problem in partial.semantic_problems()
            if not any(_related(problem.path, path) for path in pruned_paths)
        ]

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


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _check_continent(value: str) -> str:
    problem = geo.continent_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_country(value: str) -> str:
    problem = geo.country_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Continent = Annotated[str, BeforeValidator(_upper), AfterValidator(_check_continent)]
Country = Annotated[str, BeforeValidator(_upper), AfterValidator(_check_country)]
DomainName = Annotated[
    str,
    BeforeValidator(lambda value: value.lower().removesuffix(".") if isinstance(value, str) else value),
    AfterValidator(naming.name_validator(naming.domain_name_problems, "domain name", "use e.g. 'api.myapp.com'.")),
]


class GeoLocation(Model):
    """Where the users routed to a region come from: a continent or a country (not both).

    Continent codes: AF, AN, AS, EU, NA, OC, SA. Countries: ISO 3166-1 alpha-2 ('DE', 'GB', 'US').
    A plain string is read as a country code, or as a continent when written `continent:EU`.
    """

    continent: Continent | None = None
    country: Country | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            kind, _, code = data.rpartition(":")
            return {kind or "country": code}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.continent is None) == (self.country is None):
            raise ValueError(
                "needs exactly one of continent and country."
                " Fix: write {'continent': 'EU'} or {'country': 'DE'}, one location per entry."
            )
        return self

    @property
    def label(self) -> str:
        """'continent-EU' or 'country-DE': part of the record's set identifier."""
        return f"continent-{self.continent}" if self.continent else f"country-{self.country}"


GeoLocations = Annotated[
    list[GeoLocation], BeforeValidator(lambda value: value if isinstance(value, list) else [value])
]


class MultiRegionConfig(Model):
    """One stack per region plus a global stack that routes users between them through Route53.

    Each region serves the API under `domain_name` (a regional API Gateway custom domain with a
    DNS-validated certificate); the global stack adds one record per region to `hosted_zone` with
    the chosen routing policy and a health check on the region's `health_check_path`.
    """

    enabled: bool = False
    """Default: off (a single stack in `region`, no global stack)."""
    primary_region: Region | None = None
    """Required when enabled; the global stack's provider uses it too."""
    replica_regions: list[Region] = Field(default_factory=list)
    """Regions that run a copy of the app stack. Default: none."""
    routing: Routing = Routing.LATENCY
    """How the global stack routes users between regions. Default: latency."""
    domain_name: DomainName | None = None
    """The name users call, e.g. 'api.myapp.com'. Required when enabled."""
    hosted_zone: DomainName | None = None
    """An existing public Route53 zone, looked up by name (the guide's `HostedZone.fromLookup`).
    Default: `domain_name` without its first label ('myapp.com' for 'api.myapp.com')."""
    weights: dict[Region, Annotated[int, Field(ge=0, le=255)]] = Field(default_factory=dict)
    """Weighted routing: a weight (0-255, Route53's range) for every region. Default: none."""
    geolocation: dict[Region, GeoLocations] = Field(default_factory=dict)
    """Geolocation routing: the continent(s) or country(ies) each region serves."""
    default_region: Region | None = None
    """Geolocation routing: the region for users no location matches. Default: the primary region."""
    health_check_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$")] = "/api/health"
    """Path each region's health check requests (HTTPS, through the API's stage). Default: /api/health."""

    @property
    def regions(self) -> list[str]:
        """Primary first, then the replicas in the order given."""
        return [self.primary_region, *self.replica_regions] if self.primary_region else list(self.replica_regions)

    @property
    def zone_name(self) -> str | None:
        """The hosted zone to look up (explicit, or derived from the domain name)."""
        if self.hosted_zone:
            return self.hosted_zone
        return self.domain_name.split(".", 1)[1] if self.domain_name else None

    @property
    def fallback_region(self) -> str | None:
        """Geolocation routing's default region."""
        return self.default_region or self.primary_region

    def semantic_problems(self) -> list[Problem]:
        problems = self._region_problems()
        if self.enabled:
            problems += self._dns_problems()
        problems += self._weight_problems() + self._geolocation_problems()
        return problems

    def _region_problems(self) -> list[Problem]:
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

    def _dns_problems(self) -> list[Problem]:
        if self.domain_name is None:
            return [
                Problem(
                    "multi_region.domain_name",
                    None,
                    "is required when multi-region is enabled: the global stack routes this name between regions.",
                    "set domainName, e.g. 'api.myapp.com', in a Route53 hosted zone you own.",
                )
            ]
        zone = self.zone_name or ""
        if self.domain_name != zone and not self.domain_name.endswith(f".{zone}"):
            return [
                Problem(
                    "multi_region.hosted_zone",
                    zone,
                    f"does not contain the domain name {self.domain_name!r}.",
                    f"use the zone that {self.domain_name!r} belongs to, e.g. {self.domain_name.split('.', 1)[-1]!r}.",
                )
            ]
        return []

    def _weight_problems(self) -> list[Problem]:
        problems = []
        if self.routing != Routing.WEIGHTED:
            if self.weights:
                problems.append(
                    Problem(
                        "multi_region.weights",
                        self.weights,
                        f"only applies to weighted routing, but routing is {self.routing.value!r}.",
                        "remove weights, or set routing to 'weighted'.",
                    )
                )
            return problems
        missing = [region for region in dict.fromkeys(self.regions) if region not in self.weights]
        if missing:
            problems.append(
                Problem(
                    "multi_region.weights",
                    self.weights,
                    f"has no weight for {', '.join(missing)}: weighted routing needs one for every region.",
                    "add e.g. " + ", ".join(f"'{region}': 50" for region in missing) + ".",
                )
            )
        problems += [
            Problem(
                f"multi_region.weights.{region}",
                weight,
                "is a weight for a region the app does not run in.",
                "remove it, or add the region to replicaRegions.",
            )
            for region, weight in self.weights.items()
            if region not in self.regions
        ]
        return problems

    def _geolocation_problems(self) -> list[Problem]:
        problems = []
        if self.routing != Routing.GEOLOCATION:
            if self.geolocation or self.default_region:
                problems.append(
                    Problem(
                        "multi_region.geolocation",
                        self.geolocation or self.default_region,
                        f"only applies to geolocation routing, but routing is {self.routing.value!r}.",
                        "remove geolocation and defaultRegion, or set routing to 'geolocation'.",
                    )
                )
            return problems
        fallback = self.fallback_region
        missing = [region for region in self.regions if region not in self.geolocation and region != fallback]
        if missing:
            problems.append(
                Problem(
                    "multi_region.geolocation",
                    {region: [loc.label for loc in locs] for region, locs in self.geolocation.items()},
                    f"has no location for {', '.join(missing)}, so no user would be routed there.",
                    "add e.g. " + ", ".join(f"'{region}': {{'continent': 'EU'}}" for region in missing) + ".",
                )
            )
        for region in self.geolocation:
            if region not in self.regions:
                problems.append(
                    Problem(
                        f"multi_region.geolocation.{region}",
                        region,
                        "is a region the app does not run in.",
                        "remove it, or add the region to replicaRegions.",
                    )
                )
        if self.default_region and self.default_region not in self.regions:
            problems.append(
                Problem(
                    "multi_region.default_region",
                    self.default_region,
                    "is not one of the app's regions.",
                    f"use one of {', '.join(self.regions)}.",
                )
            )
        owners: dict[str, str] = {}
        for region, locations in self.geolocation.items():
            for index, location in enumerate(locations):
                if location.label in owners and owners[location.label] != region:
                    problems.append(
                        Problem(
                            f"multi_region.geolocation.{region}.{index}",
                            location.label,
                            f"is also routed to {owners[location.label]}; Route53 allows one record per location.",
                            "keep the location in one region only.",
                        )
                    )
                owners.setdefault(location.label, region)
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


HttpEndpoint = Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$")]
S3BucketName = Annotated[
    str, AfterValidator(naming.name_validator(naming.s3_bucket_name_problems, "S3 bucket name", "e.g. 'acme-tfstate'."))
]


class StateEndpoints(Model):
    """Custom endpoint URLs for the S3 backend, e.g. an S3-compatible emulator. Default: AWS's."""

    s3: HttpEndpoint | None = None
    dynamodb: HttpEndpoint | None = None
    sts: HttpEndpoint | None = None
    iam: HttpEndpoint | None = None


class S3StateSettings(Model):
    """State in an S3 bucket, key `{app}/{env}/{stack}.tfstate`, one object per stack.

    Create the bucket (and lock table) once with `state.bootstrap.bootstrap_state`.
    """

    bucket: S3BucketName
    region: Region
    """Region of the state bucket (may differ from the app's regions)."""
    encrypt: bool = True
    """Server-side encryption of the state objects. Default: on."""
    kms_key_id: str | None = None
    """Encrypt with this KMS key instead of S3-managed keys. Default: S3-managed (SSE-S3)."""
    locking: Literal["lockfile", "dynamodb"] = "lockfile"
    """`lockfile`: an S3 `.tflock` object next to the state (Terraform 1.10+); `dynamodb`: a lock table.
    Default: lockfile."""
    dynamodb_table: str | None = None
    """The lock table (hash key `LockID`), required when locking is `dynamodb`."""
    endpoints: StateEndpoints | None = None
    """Custom endpoints for an S3-compatible service. Default: AWS."""
    use_path_style: bool = False
    """Path-style bucket URLs (`host/bucket`), which most emulators need. Default: off."""
    skip_aws_checks: bool = False
    """Skip credential, account-id, metadata and region checks that only real AWS answers. Default: off."""

    def semantic_problems(self) -> list[Problem]:
        if self.locking == "dynamodb" and not self.dynamodb_table:
            return [
                Problem(
                    "state.s3.dynamodb_table",
                    None,
                    "is required when locking is 'dynamodb'.",
                    "name the lock table, e.g. 'terraform-locks', or use locking 'lockfile'.",
                )
            ]
        if self.locking == "lockfile" and self.dynamodb_table:
            return [
                Problem(
                    "state.s3.dynamodb_table",
                    self.dynamodb_table,
                    "is set but locking is 'lockfile', so the table would not be used.",
                    "set locking to 'dynamodb', or remove dynamodbTable.",
                )
            ]
        return []

    def key(self, app_name: str, environment: str, stack: str) -> str:
        """The state object's key: `{app}/{env}/{stack}.tfstate`."""
        return f"{app_name}/{environment}/{stack}.tfstate"


class CloudStateSettings(Model):
    """State and runs in Terraform Cloud / HCP Terraform: one workspace per stack, named like the stack.

    The API token is not configured here: use `terraform login` or `TF_TOKEN_app_terraform_io`.
    """

    organization: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
    hostname: Annotated[str, Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?$")] = "app.terraform.io"
    """Terraform Enterprise host name. Default: app.terraform.io."""
    project: str | None = None
    """Terraform Cloud project the workspaces belong to. Default: the organization's default project."""


class StateConfig(Model):
    """Where each stack keeps its Terraform state; the same backend for every stack of an app."""

    backend: Literal["local", "s3", "cloud"] = "local"
    """Default: local, one state file per stack in `local_dir`."""
    local_dir: str = ".state"
    """Folder for local state, relative to the project (never inside cdktf.out, which synth rewrites)."""
    s3: S3StateSettings | None = None
    """Required when backend is 's3'."""
    cloud: CloudStateSettings | None = None
    """Required when backend is 'cloud'."""

    def semantic_problems(self) -> list[Problem]:
        problems = []
        for kind, example in (
            ("s3", "{'bucket': 'acme-tfstate', 'region': 'us-east-1'}"),
            ("cloud", "{'organization': 'acme'}"),
        ):
            if self.backend == kind and getattr(self, kind) is None:
                problems.append(
                    Problem(f"state.{kind}", None, f"is required when backend is {kind!r}.", f"add e.g. {example}.")
                )
        if self.s3 is not None:
            problems += self.s3.semantic_problems()
        if Path(self.local_dir).parts[:1] == ("cdktf.out",):
            problems.append(
                Problem(
                    "state.local_dir",
                    self.local_dir,
                    "is inside cdktf.out, which every synth rewrites: the state would be lost.",
                    "use a folder outside it, e.g. '.state'.",
                )
            )
        return problems


class AwsSettings(Model):
    """The `aws` provider section: where the AWS provider sends API calls.

    Credentials are never configured here: the provider reads `AWS_PROFILE`, `AWS_ACCESS_KEY_ID`
    and friends from the environment as usual.
    """

    region: Region | None = None
    """Default: the config's `region`."""
    endpoint: HttpEndpoint | None = None
    """One URL for every AWS service, e.g. an emulator at http://127.0.0.1:5000. Default: AWS."""
    s3_use_path_style: bool = False
    """Path-style S3 URLs, which emulators need. Default: off."""
    skip_aws_checks: bool = False
    """Skip the credential, account-id, metadata and region checks only real AWS answers. Default: off."""


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
            return self.multi_region.regions
        return [self.region]

    @property
    def aws(self) -> AwsSettings:
        """The typed `aws` provider section (defaults when the config has none)."""
        section = self.provider_settings.get("aws")
        return AwsSettings.model_validate(section.model_dump(exclude_none=True)) if section else AwsSettings()

    def _aws_settings_problems(self) -> list[Problem]:
        try:
            self.aws  # noqa: B018  (validates the section)
        except ConfigError as error:
            return [Problem(f"aws.{p.path}", p.value, p.message, p.fix) for p in error.problems]
        return []

    @property
    def resource_prefix(self) -> str:
        return f"{self.app_name}-{self.environment}"

    def semantic_problems(self) -> list[Problem]:
        problems = self.multi_region.semantic_problems() + self.state.semantic_problems()
        problems += self._aws_settings_problems()
        reported: set[tuple[str, str]] = set()
        for region in self.regions:
            names = ResourceNames(self.app_name, self.environment, region)
            derived = [
                (names.assets_bucket, "S3 bucket", naming.s3_bucket_name_problems),
                (names.table, "DynamoDB table", naming.dynamodb_table_name_problems),
                (names.queue, "SQS queue", naming.sqs_queue_name_problems),
                (names.api_function, "Lambda function", naming.lambda_function_name_problems),
                (names.role(names.api_function), "IAM role", naming.iam_role_name_problems),
            ]
            for name, kind, rule in derived:
                for reason in rule(name):
                    if (kind, reason) in reported:
                        continue
                    reported.add((kind, reason))
                    problems.append(
                        Problem(
                            "app_name",
                            self.app_name,
                            f"with environment {self.environment!r} it forms the {kind} name {name!r}, which {reason}.",
                            "use a shorter app_name or environment.",
                        )
                    )
            for index, function in enumerate(self.scheduled_functions):
                function_name = names.function(function.name)
                for name, kind, rule in (
                    (function_name, "function", naming.lambda_function_name_problems),
                    (names.role(function_name), "IAM role", naming.iam_role_name_problems),
                ):
                    for reason in rule(name):
                        if (f"fn{index}", reason) in reported:
                            continue
                        reported.add((f"fn{index}", reason))
                        problems.append(
                            Problem(
                                f"scheduled_functions.{index}.name",
                                function.name,
                                f"forms the {kind} name {name!r}, which {reason}.",
                                "use a shorter name.",
                            )
                        )
        return problems
