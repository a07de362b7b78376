"""Running the real terraform CLI: provider-mirror discovery, CLI config, and a typed subprocess runner."""

from stacks_cloud.terraform.cli_config import discover_provider_mirror, terraform_env, write_cli_config
from stacks_cloud.terraform.runner import TerraformError, run_terraform

__all__ = ["TerraformError", "discover_provider_mirror", "run_terraform", "terraform_env", "write_cli_config"]
