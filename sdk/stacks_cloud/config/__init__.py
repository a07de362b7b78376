"""The configuration models: the shape of the guide's `config/cloud.ts`, validated.

Every model accepts the guide's camelCase keys (`multiRegion`, `primaryRegion`, `preDeploy`) as
well as snake_case, and every invalid input raises one `ConfigError` that lists all problems with
their field paths. Secrets (`api_key`, tokens, passwords, webhook URLs) are `SecretStr`, read from
the environment with `from_env("NAME")` so they never sit in the config file.

One module per job: `base` (the validation machinery), `env` (`from_env`), `fields` (shared typed
fields), `providers`, `hooks`, `multi_region`, `state` (the sections) and `cloud` (`CloudConfig`).
"""

from stacks_cloud.config.base import Model
from stacks_cloud.config.cloud import CloudConfig, DerivedName
from stacks_cloud.config.env import FromEnv, from_env, resolve_env
from stacks_cloud.config.fields import PRODUCTION, AppName, DomainName, EnvironmentName, HttpEndpoint
from stacks_cloud.config.hooks import HooksConfig
from stacks_cloud.config.multi_region import GeoLocation, MultiRegionConfig, Routing
from stacks_cloud.config.providers import AwsSettings, ProviderSettings
from stacks_cloud.config.rollout import OnFailure, RolloutConfig
from stacks_cloud.config.state import (
    CloudStateSettings,
    S3StateSettings,
    StateConfig,
    StateEndpoints,
)

__all__ = [
    "PRODUCTION",
    "AppName",
    "AwsSettings",
    "CloudConfig",
    "CloudStateSettings",
    "DerivedName",
    "DomainName",
    "EnvironmentName",
    "FromEnv",
    "GeoLocation",
    "HooksConfig",
    "HttpEndpoint",
    "Model",
    "MultiRegionConfig",
    "OnFailure",
    "ProviderSettings",
    "RolloutConfig",
    "Routing",
    "S3StateSettings",
    "StateConfig",
    "StateEndpoints",
    "from_env",
    "resolve_env",
]
