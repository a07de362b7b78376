"""`GlobalStack`: routes users to the nearest healthy region (the guide's `MultiRegionStack`, built out).

For each regional `CustomStack` it adds a Route53 HTTPS health check on the region's API and one
alias record for `domain_name` with a `set_identifier` and the configured routing policy. The
values it needs (the regional custom domain's target, the API's host) come from the regional
stacks through cdktf cross-stack references, which cdktf turns into outputs of the regional stack
and a `terraform_remote_state` data source here, on whichever backend the app uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stacks_cloud.cdk import Construct, TerraformOutput, TerraformStack
from stacks_cloud.cdk.aws import route53_record
from stacks_cloud.config import AwsSettings, MultiRegionConfig, Routing
from stacks_cloud.constructs.dns import (
    AliasTarget,
    HttpsHealthCheck,
    RoutingPolicy,
    lookup_hosted_zone,
    routed_alias_record,
)
from stacks_cloud.stacks.aws_provider import add_aws_provider


@dataclass(frozen=True)
class RegionalEndpoint:
    """What the global stack needs from one region: its alias target, its API's host and health path."""

    region: str
    target: AliasTarget
    api_host: str
    health_check_path: str
    """The health check's request path on `api_host`, stage included (e.g. '/prod/api/health')."""


@dataclass(frozen=True)
class GlobalStackProps:
    app_name: str
    environment: str
    routing: MultiRegionConfig
    """The validated multi-region settings: domain, zone, policy, weights, locations, health path."""
    endpoints: tuple[RegionalEndpoint, ...]
    aws: AwsSettings = field(default_factory=AwsSettings)


class GlobalStack(TerraformStack):
    """Route53 records and health checks in front of every regional stack.

    Construct ids are derived from region names (`Health-eu-west-1`, `Record-eu-west-1`), never from
    positions, so adding a replica adds resources without moving existing ones.
    Attributes: `records` and `health_checks` by region.
    """

    def __init__(self, scope: Construct, stack_id: str, props: GlobalStackProps) -> None:
        super().__init__(scope, stack_id)
        routing = props.routing
        if routing.primary_region is None or routing.domain_name is None or routing.zone_name is None:
            raise ValueError("GlobalStack needs a validated multi-region config with primary region and domain name")
        add_aws_provider(
            self,
            region=routing.primary_region,  # Route53 is global; the provider still needs a region
            settings=props.aws,
            tags={"App": props.app_name, "Environment": props.environment, "ManagedBy": "stacks-cloud"},
        )
        zone = lookup_hosted_zone(self, "Zone", routing.zone_name)
        self.health_checks: dict[str, HttpsHealthCheck] = {}
        self.records: dict[str, list[route53_record.Route53Record]] = {}
        for endpoint in props.endpoints:
            region = endpoint.region
            check = HttpsHealthCheck(
                self,
                f"Health-{region}",
                host=endpoint.api_host,
                path=endpoint.health_check_path,
                name=f"{props.app_name}-{props.environment}-{region}",
            )
            self.health_checks[region] = check
            self.records[region] = [
                routed_alias_record(
                    self,
                    record_id,
                    zone_id=zone.zone_id,
                    name=routing.domain_name,
                    set_identifier=set_identifier,
                    target=endpoint.target,
                    policy=policy,
                    health_check_id=check.id,
                )
                for record_id, set_identifier, policy in _policies(routing, region)
            ]
        TerraformOutput(self, "Url", value=f"https://{routing.domain_name}", description="The routed API address")


def _policies(routing: MultiRegionConfig, region: str) -> list[tuple[str, str, RoutingPolicy]]:
    """(construct id, set identifier, policy) of every record routing to `region`."""
    if routing.routing == Routing.LATENCY:
        return [(f"Record-{region}", region, route53_record.Route53RecordLatencyRoutingPolicy(region=region))]
    if routing.routing == Routing.WEIGHTED:
        return [
            (
                f"Record-{region}",
                region,
                route53_record.Route53RecordWeightedRoutingPolicy(weight=routing.weights[region]),
            )
        ]
    records: list[tuple[str, str, RoutingPolicy]] = [
        (
            f"Record-{region}-{location.label}",
            f"{region}-{location.label}",
            route53_record.Route53RecordGeolocationRoutingPolicy(
                continent=location.continent, country=location.country
            ),
        )
        for location in routing.geolocation.get(region, [])
    ]
    if region == routing.fallback_region:
        # Route53's default location: users whose location no other record matches.
        records.append(
            (
                f"Record-{region}-default",
                f"{region}-default",
                route53_record.Route53RecordGeolocationRoutingPolicy(country="*"),
            )
        )
    return records
