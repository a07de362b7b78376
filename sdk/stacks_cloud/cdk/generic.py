"""Any Terraform provider without generated bindings: cdktf's generic `TerraformProvider` / `TerraformResource`.

    provider = GenericProvider(stack, "cloudflare", source="cloudflare/cloudflare", version="~> 4.0",
                               config={"api_token": "${var.cloudflare_token}"})
    record = generic_resource(stack, "Record", "cloudflare_record", provider,
                              zone_id="...", name="api", type="CNAME", content="api.myapp.com")
    record.get_string_attribute("hostname")  # any attribute, as a token

Terraform's built-in provider (`terraform_data`) needs no provider block and accepts no version
constraint: create its resources with `provider=None`.
"""

from __future__ import annotations

from typing import Any

from cdktf import TerraformProvider, TerraformProviderGeneratorMetadata, TerraformResource
from constructs import Construct

import stacks_cloud.cdk as cdk  # noqa: F401  (the lazy loader and environment set-up come first)


class GenericProvider(TerraformProvider):
    """A `provider "<name>" {...}` block for `source` (e.g. "cloudflare/cloudflare") with `config` as is."""

    def __init__(
        self,
        scope: Construct,
        name: str,
        *,
        source: str,
        version: str | None = None,
        config: dict[str, Any] | None = None,
        alias: str | None = None,
    ) -> None:
        super().__init__(
            scope,
            name if alias is None else f"{name}-{alias}",
            terraform_resource_type=name,
            terraform_generator_metadata=TerraformProviderGeneratorMetadata(
                provider_name=name, provider_version_constraint=version
            ),
            terraform_provider_source=source,
        )
        self._config = dict(config or {})
        if alias is not None:
            self.alias = alias

    def _synthesize_attributes(self) -> dict[str, Any]:
        return self._config


BUILTIN = "terraform"
"""Provider name of Terraform's built-in provider."""


def generic_resource(
    scope: Construct, construct_id: str, resource_type: str, provider: GenericProvider | None, **arguments: Any
) -> TerraformResource:
    """A `resource "<resource_type>"` with `arguments` written as given (snake_case Terraform names).

    `provider=None` for Terraform's built-in provider (or to use a provider's default configuration).
    """
    resource = TerraformResource(
        scope,
        construct_id,
        terraform_resource_type=resource_type,
        terraform_generator_metadata=TerraformProviderGeneratorMetadata(
            provider_name=provider.terraform_resource_type if provider is not None else BUILTIN
        ),
        provider=provider,
    )
    for key, value in arguments.items():
        resource.add_override(key, value)
    return resource
