"""`ReleaseStack`: a stack on a non-AWS Terraform provider, written with cdktf's generic constructs.

It records a release per region as `terraform_data` resources of Terraform's built-in provider: the
deployable example of the plug-in path (see `providers/terraform_data.py`). For another provider,
add a `cdk.generic.GenericProvider(self, "cloudflare", source="cloudflare/cloudflare", ...)` and
pass it to `generic_resource`; the rest stays the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks_cloud.cdk import Construct, TerraformOutput, TerraformStack
from stacks_cloud.cdk.generic import generic_resource


@dataclass(frozen=True)
class ReleaseStackProps:
    app_name: str
    environment: str
    region: str
    version: str


class ReleaseStack(TerraformStack):
    """One `terraform_data` "Release" carrying the version; replaced whenever the version changes."""

    def __init__(self, scope: Construct, stack_id: str, props: ReleaseStackProps) -> None:
        super().__init__(scope, stack_id)
        release = generic_resource(
            self,
            "Release",
            "terraform_data",
            None,  # Terraform's built-in provider: no provider block, nothing to download
            input={
                "app": props.app_name,
                "environment": props.environment,
                "region": props.region,
                "version": props.version,
            },
            triggers_replace=[props.version],
        )
        TerraformOutput(self, "ReleaseId", value=release.get_string_attribute("id"))
        TerraformOutput(self, "Version", value=props.version)
