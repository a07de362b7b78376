"""Provider sections (the guide's `custom: { apiKey, region }`): generic `ProviderSettings` and the typed `aws` one."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr, model_validator
from pydantic.alias_generators import to_camel

from stacks_cloud.config.base import Model
from stacks_cloud.config.env import resolve_env
from stacks_cloud.config.fields import HttpEndpoint
from stacks_cloud.core.secrets import protect_secret_keys
from stacks_cloud.core.types import Region


class ProviderSettings(BaseModel):
    """Settings for one provider, keyed by the provider's name at the top level of the config.

    Known fields are typed; any other field is passed through to the provider, and fields whose
    name looks secret (api key, token, password, secret, webhook, dsn, private key, auth), at any
    depth of nested sections, are stored as `SecretStr` and masked in everything the SDK writes.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, extra="allow")

    api_key: Annotated[SecretStr | None, BeforeValidator(resolve_env)] = None
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
            value = _resolve_all(value)
            if key in known:
                resolved[key] = value
            else:
                resolved[key] = protect_secret_keys({key: value})[key]
        return resolved


def _resolve_all(value: Any) -> Any:
    """`from_env(...)` references resolved at any depth."""
    if isinstance(value, dict):
        return {key: _resolve_all(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_all(item) for item in value]
    return resolve_env(value)


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
