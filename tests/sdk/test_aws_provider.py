"""The built-in `aws` provider's reading of a deployment's outputs."""

from __future__ import annotations

from pathlib import Path

from stacks_cloud import ProviderRuntime
from stacks_cloud.config import CloudConfig
from stacks_cloud.providers.aws import AwsProvider
from stacks_cloud.state import SqliteLedger

REGIONAL_OUTPUTS = {  # in the order the stacks finished, which is not the config's
    "shop-development-ap-southeast-1": {"ApiUrl": "https://ap.example"},
    "shop-development-eu-west-1": {"ApiUrl": "https://eu.example"},
    "shop-development-us-east-1": {"ApiUrl": "https://us.example"},
}


def provider_for(tmp_path: Path, **multi_region: object) -> AwsProvider:
    """The provider, attached to a three-region app's config (primary us-east-1) plus `multi_region`."""
    regions = {"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": ["eu-west-1", "ap-southeast-1"]}
    cloud = CloudConfig.model_validate({"appName": "shop", "multiRegion": {**regions, **multi_region}})
    provider = AwsProvider()
    provider.attach(ProviderRuntime(project_dir=tmp_path, ledger=SqliteLedger(tmp_path / "ledger.sqlite"), cloud=cloud))
    return provider


def test_without_a_global_stack_the_url_is_the_primary_regions_whatever_finished_first(tmp_path: Path) -> None:
    provider = provider_for(tmp_path)
    assert provider.url_from(REGIONAL_OUTPUTS) == "https://us.example"
    assert provider.url_from(dict(reversed(REGIONAL_OUTPUTS.items()))) == "https://us.example"
    # a deploy of some stacks only (--stacks): the first of them in the config's order
    replicas = {stack: values for stack, values in REGIONAL_OUTPUTS.items() if "us-east-1" not in stack}
    assert provider.url_from(replicas) == "https://eu.example"
    assert provider.url_from({stack: {} for stack in REGIONAL_OUTPUTS}) is None


def test_the_global_stacks_url_wins(tmp_path: Path) -> None:
    provider = provider_for(tmp_path, domainName="api.shop.example")
    outputs = {**REGIONAL_OUTPUTS, "shop-development-global": {"Url": "https://api.shop.example"}}
    assert provider.url_from(outputs) == "https://api.shop.example"


def test_a_provider_not_attached_to_a_config_takes_the_stacks_in_name_order() -> None:
    assert AwsProvider().url_from(dict(reversed(REGIONAL_OUTPUTS.items()))) == "https://ap.example"
