"""The built-in `terraform` provider: stacks on a non-AWS Terraform provider, same orchestrator.

Its stacks (`stacks.release_stack.ReleaseStack`) use cdktf's generic `TerraformProvider` /
`TerraformResource` (no generated bindings) with Terraform's built-in provider, which needs no
download. To deploy with another Terraform provider (Cloudflare, Google, ...), subclass
`CdktfStacksProvider` the same way and build your stacks with `cdk.generic.GenericProvider` and
`generic_resource` (or generated bindings), then register an instance under `providers`.
"""

from __future__ import annotations

from typing import ClassVar

from stacks_cloud.cdk import App
from stacks_cloud.config import CloudConfig
from stacks_cloud.models import DeploymentConfig
from stacks_cloud.providers.cdktf_stacks import CdktfStacksProvider
from stacks_cloud.stacks.app import regional_stack_name
from stacks_cloud.stacks.release_stack import ReleaseStack, ReleaseStackProps
from stacks_cloud.state import backend_for


class TerraformDataProvider(CdktfStacksProvider):
    """One `ReleaseStack` per region, state on the config's backend."""

    name: ClassVar[str] = "terraform"

    def stack_names(self, config: CloudConfig) -> list[str]:
        return [regional_stack_name(config, region) for region in config.regions]

    def build(self, config: DeploymentConfig, app: App) -> None:
        cloud = config.cloud
        for region in cloud.regions:
            name = regional_stack_name(cloud, region)
            stack = ReleaseStack(
                app,
                name,
                ReleaseStackProps(
                    app_name=cloud.app_name, environment=cloud.environment, region=region, version=config.version
                ),
            )
            backend_for(cloud).configure_stack(
                stack, name, cloud, project_dir=config.project_dir, outdir=config.work_dir / "cdktf.out"
            )
