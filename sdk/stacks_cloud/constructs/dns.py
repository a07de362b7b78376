"""DNS building blocks: hosted zone lookup, a regional API custom domain, routed records and health checks."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Literal, TypeAlias

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct, Fn, TerraformResourceLifecycle
from stacks_cloud.cdk.aws import (
    acm_certificate,
    acm_certificate_validation,
    api_gateway_base_path_mapping,
    api_gateway_domain_name,
    data_aws_route53_zone,
    route53_health_check,
    route53_record,
)
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import remember
from stacks_cloud.constructs.rest_api import LambdaRestApi
from stacks_cloud.core import naming

DomainName = Annotated[
    str, AfterValidator(naming.name_validator(naming.domain_name_problems, "domain name", "use e.g. 'api.myapp.com'."))
]


def lookup_hosted_zone(scope: Construct, construct_id: str, zone_name: str) -> data_aws_route53_zone.DataAwsRoute53Zone:
    """An existing public hosted zone found by name: the guide's `HostedZone.fromLookup({domainName})`.

    Looked up when Terraform plans, so the zone must exist before the first deploy.
    """
    options = validate_options(_ZoneOptions, scope, construct_id, {"zone_name": zone_name})
    return data_aws_route53_zone.DataAwsRoute53Zone(scope, construct_id, name=options.zone_name, private_zone=False)


class _ZoneOptions(Options):
    zone_name: DomainName
    """The hosted zone's domain, e.g. example.com. Required."""


class _ApiDomainOptions(Options):
    domain_name: DomainName
    """The API's custom domain, inside the hosted zone. Required."""


@options_signature(
    _ApiDomainOptions,
    docs={
        "api": "The REST API the domain maps to (its stage). Required.",
        "zone_id": "The hosted zone holding `domain_name` (see `lookup_hosted_zone`). Required.",
    },
)
class ApiDomain(Construct):
    """`api`'s stage served at `domain_name` through a regional API Gateway custom domain.

    The ACM certificate is validated by a DNS record in the hosted zone `zone_id`. The validation
    record may be written by several regions (ACM gives one domain the same record in every region
    of an account), so it is created with `allow_overwrite`.

    Attributes: `domain` (the `aws_api_gateway_domain_name`), `target_domain_name` and
    `target_zone_id` (what a Route53 alias record points at), `certificate`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, api: LambdaRestApi, domain_name: str, zone_id: str
    ) -> None:
        options = validate_options(_ApiDomainOptions, scope, construct_id, {"domain_name": domain_name})
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.certificate = acm_certificate.AcmCertificate(
            self,
            "Certificate",
            domain_name=options.domain_name,
            validation_method="DNS",
            lifecycle=TerraformResourceLifecycle(create_before_destroy=True),
        )
        validation = self.certificate.domain_validation_options.get(0)
        record = route53_record.Route53Record(
            self,
            "ValidationRecord",
            zone_id=zone_id,
            name=validation.resource_record_name,
            type=validation.resource_record_type,
            records=[validation.resource_record_value],
            ttl=60,
            allow_overwrite=True,
        )
        validated = acm_certificate_validation.AcmCertificateValidation(
            self, "Validation", certificate_arn=self.certificate.arn, validation_record_fqdns=[record.fqdn]
        )
        self.domain = api_gateway_domain_name.ApiGatewayDomainName(
            self,
            "Domain",
            domain_name=options.domain_name,
            regional_certificate_arn=validated.certificate_arn,
            endpoint_configuration=api_gateway_domain_name.ApiGatewayDomainNameEndpointConfiguration(
                types=["REGIONAL"]
            ),
            security_policy="TLS_1_2",
        )
        api_gateway_base_path_mapping.ApiGatewayBasePathMapping(
            self, "Mapping", api_id=api.api.id, stage_name=api.stage.stage_name, domain_name=self.domain.domain_name
        )

    @cached_property
    def target_domain_name(self) -> str:
        return str(self.domain.regional_domain_name)

    @cached_property
    def target_zone_id(self) -> str:
        return str(self.domain.regional_zone_id)


def api_host(api: LambdaRestApi) -> str:
    """The API's own host name (`<id>.execute-api.<region>.<dns suffix>`), from its stage's invoke URL."""
    return str(Fn.element(Fn.split("/", api.url), 2))


def stage_path(api: LambdaRestApi, path: str) -> str:
    """`path` on the API's own host, which serves the stage under its name: '/api/health' -> '/prod/api/health'."""
    return f"/{api.stage_name}{path}"


class _HealthCheckOptions(Options):
    host: str
    """The host name checked over HTTPS. Required."""
    path: Annotated[str, Field(pattern=r"^/")]
    """The path requested, e.g. /api/health. Required."""
    failure_threshold: Annotated[int, Field(ge=1, le=10)]
    """Failed checks in a row before the endpoint counts as unhealthy, 1 to 10."""
    request_interval: Literal[10, 30]
    """Seconds between checks, 10 or 30."""


@options_signature(
    _HealthCheckOptions, docs={"name": "The health check's Name tag, shown in the Route 53 console. Required."}
)
class HttpsHealthCheck(Construct):
    """A Route53 HTTPS health check on `https://<host><path>` (2xx/3xx within 4 s is healthy).

    Args:
        host: host name to request (and to send as SNI); tokens from another stack are fine.
        path: the request path, e.g. '/prod/api/health'.
        failure_threshold: consecutive failures before unhealthy, 1-10. Default: 3.
        request_interval: seconds between checks, 10 or 30. Default: 30.
        name: the check's `Name` tag, shown in the Route53 console.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        host: str,
        path: str,
        name: str,
        failure_threshold: int = 3,
        request_interval: int = 30,
    ) -> None:
        options = validate_options(
            _HealthCheckOptions,
            scope,
            construct_id,
            {"host": host, "path": path, "failure_threshold": failure_threshold, "request_interval": request_interval},
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.check = route53_health_check.Route53HealthCheck(
            self,
            "Check",
            type="HTTPS",
            fqdn=options.host,
            port=443,
            resource_path=options.path,
            enable_sni=True,
            failure_threshold=options.failure_threshold,
            request_interval=options.request_interval,
            tags={"Name": name},
        )

    @cached_property
    def id(self) -> str:
        return str(self.check.id)


@dataclass(frozen=True)
class AliasTarget:
    """Where a routed record points: a regional custom domain's target name and zone."""

    domain_name: str
    zone_id: str


RoutingPolicy: TypeAlias = (
    "route53_record.Route53RecordLatencyRoutingPolicy"
    " | route53_record.Route53RecordWeightedRoutingPolicy"
    " | route53_record.Route53RecordGeolocationRoutingPolicy"
)
"""One of the record's routing policy blocks (latency, weighted or geolocation)."""


def routed_alias_record(
    scope: Construct,
    construct_id: str,
    *,
    zone_id: str,
    name: str,
    set_identifier: str,
    target: AliasTarget,
    policy: RoutingPolicy,
    health_check_id: str | None,
) -> route53_record.Route53Record:
    """An `A` alias record with a routing policy; Route53 skips it while its health check fails."""
    routing: dict[str, object] = {}
    if isinstance(policy, route53_record.Route53RecordLatencyRoutingPolicy):
        routing["latency_routing_policy"] = policy
    elif isinstance(policy, route53_record.Route53RecordWeightedRoutingPolicy):
        routing["weighted_routing_policy"] = policy
    else:
        routing["geolocation_routing_policy"] = policy
    return route53_record.Route53Record(
        scope,
        construct_id,
        zone_id=zone_id,
        name=name,
        type="A",
        set_identifier=set_identifier,
        alias=route53_record.Route53RecordAlias(
            name=target.domain_name, zone_id=target.zone_id, evaluate_target_health=True
        ),
        health_check_id=health_check_id,
        **routing,
    )
