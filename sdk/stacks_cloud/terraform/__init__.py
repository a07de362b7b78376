"""Running the real terraform CLI: provider-mirror discovery, the CLI config and environment, plan reading,
and the executors that run a stack's terraform (`local`: on this machine)."""

from stacks_cloud.terraform.cli_config import discover_provider_mirror, terraform_env, write_cli_config

__all__ = ["discover_provider_mirror", "terraform_env", "write_cli_config"]
