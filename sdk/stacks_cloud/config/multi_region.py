"""The guide's `multiRegion` section: regions, the routing policy, the routed domain and its health checks."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BeforeValidator, Field, model_validator

from stacks_cloud.config.base import Model
from stacks_cloud.config.fields import DomainName
from stacks_cloud.config.rollout import RolloutConfig
from stacks_cloud.core import geo
from stacks_cloud.core.errors import Problem
from stacks_cloud.core.types import Region


class Routing(StrEnum):
    LATENCY = "latency"
    GEOLOCATION = "geolocation"
    WEIGHTED = "weighted"


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _check_continent(value: str) -> str:
    problem = geo.continent_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _check_country(value: str) -> str:
    problem = geo.country_problem(value)
    if problem:
        raise ValueError(problem)
    return value


Continent = Annotated[str, BeforeValidator(_upper), AfterValidator(_check_continent)]
Country = Annotated[str, BeforeValidator(_upper), AfterValidator(_check_country)]


class GeoLocation(Model):
    """Where the users routed to a region come from: a continent or a country (not both).

    Continent codes: AF, AN, AS, EU, NA, OC, SA. Countries: ISO 3166-1 alpha-2 ('DE', 'GB', 'US').
    A plain string is read as a country code, or as a continent when written `continent:EU`.
    """

    continent: Continent | None = None
    country: Country | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            kind, _, code = data.rpartition(":")
            return {kind or "country": code}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.continent is None) == (self.country is None):
            raise ValueError(
                "needs exactly one of continent and country."
                " Fix: write {'continent': 'EU'} or {'country': 'DE'}, one location per entry."
            )
        return self

    @property
    def label(self) -> str:
        """'continent-EU' or 'country-DE': part of the record's set identifier."""
        return f"continent-{self.continent}" if self.continent else f"country-{self.country}"


GeoLocations = Annotated[
    list[GeoLocation], BeforeValidator(lambda value: value if isinstance(value, list) else [value])
]


class MultiRegionConfig(Model):
    """One stack per region plus a global stack that routes users between them through Route53.

    Each region serves the API under `domain_name` (a regional API Gateway custom domain with a
    DNS-validated certificate); the global stack adds one record per region to `hosted_zone` with
    the chosen routing policy and a health check on the region's `health_check_path`.
    """

    enabled: bool = False
    """Default: off (a single stack in `region`, no global stack)."""
    primary_region: Region | None = None
    """Required when enabled; the global stack's provider uses it too."""
    replica_regions: list[Region] = Field(default_factory=list)
    """Regions that run a copy of the app stack. Default: none."""
    routing: Routing = Routing.LATENCY
    """How the global stack routes users between regions. Default: latency."""
    domain_name: DomainName | None = None
    """The name users call, e.g. 'api.myapp.com'. Required when enabled."""
    hosted_zone: DomainName | None = None
    """An existing public Route53 zone, looked up by name (the guide's `HostedZone.fromLookup`).
    Default: `domain_name` without its first label ('myapp.com' for 'api.myapp.com')."""
    weights: dict[Region, Annotated[int, Field(ge=0, le=255)]] = Field(default_factory=dict)
    """Weighted routing: a weight (0-255, Route53's range) for every region. Default: none."""
    geolocation: dict[Region, GeoLocations] = Field(default_factory=dict)
    """Geolocation routing: the continent(s) or country(ies) each region serves."""
    default_region: Region | None = None
    """Geolocation routing: the region for users no location matches. Default: the primary region."""
    health_check_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._~/-]*$")] = "/api/health"
    """Path each region's health check requests (HTTPS, through the API's stage). Default: /api/health."""
    rollout: RolloutConfig | None = None
    """How a release reaches the regions: waves, a bake time after each, the gates that must hold (see
    `config.rollout`). Default: none, every region at once."""

    def rollout_for(self, environment: str) -> RolloutConfig | None:
        """The rollout `environment` deploys with, or None (every region at once, no gates)."""
        if not self.enabled or self.rollout is None or not self.rollout.applies_to(environment):
            return None
        return self.rollout

    @property
    def regions(self) -> list[str]:
        """Primary first, then the replicas in the order given."""
        return [self.primary_region, *self.replica_regions] if self.primary_region else list(self.replica_regions)

    @property
    def zone_name(self) -> str | None:
        """The hosted zone to look up (explicit, or derived from the domain name)."""
        if self.hosted_zone:
            return self.hosted_zone
        return self.domain_name.split(".", 1)[1] if self.domain_name else None

    @property
    def fallback_region(self) -> str | None:
        """Geolocation routing's default region."""
        return self.default_region or self.primary_region

    def semantic_problems(self) -> list[Problem]:
        problems = self._region_problems()
        if self.enabled:
            problems += self._dns_problems()
        problems += self._weight_problems() + self._geolocation_problems()
        return problems

    def _region_problems(self) -> list[Problem]:
        problems = []
        if self.enabled and self.primary_region is None:
            problems.append(
                Problem(
                    "multi_region.primary_region",
                    None,
                    "is required when multi-region is enabled.",
                    "set primaryRegion, e.g. 'us-east-1'.",
                )
            )
        if self.primary_region and self.primary_region in self.replica_regions:
            problems.append(
                Problem(
                    "multi_region.replica_regions",
                    self.replica_regions,
                    f"contains the primary region {self.primary_region!r}.",
                    "list only the additional regions.",
                )
            )
        seen: set[str] = set()
        for index, region in enumerate(self.replica_regions):
            if region in seen:
                problems.append(
                    Problem(
                        f"multi_region.replica_regions.{index}", region, "is listed twice.", "remove the duplicate."
                    )
                )
            seen.add(region)
        return problems

    def warnings(self) -> list[str]:
        """Advice that does not stop a deploy: the guide's config without a domain gets no routing."""
        if self.enabled and self.domain_name is None:
            return [
                f"multiRegion: {self.routing.value} routing needs `domainName` (and `hostedZone`, default: the"
                " domain without its first label); without them each region is deployed with its own API URL and"
                " no global stack routes users between them. Set e.g. domainName: 'api.myapp.com' in a Route53"
                " zone you own."
            ]
        return []

    @property
    def routed(self) -> bool:
        """Whether a global stack routes users between the regions (enabled, with a domain)."""
        return self.enabled and self.domain_name is not None

    def _dns_problems(self) -> list[Problem]:
        if self.domain_name is None:
            return []
        zone = self.zone_name or ""
        if self.domain_name != zone and not self.domain_name.endswith(f".{zone}"):
            return [
                Problem(
                    "multi_region.hosted_zone",
                    zone,
                    f"does not contain the domain name {self.domain_name!r}.",
                    f"use the zone that {self.domain_name!r} belongs to, e.g. {self.domain_name.split('.', 1)[-1]!r}.",
                )
            ]
        return []

    def _weight_problems(self) -> list[Problem]:
        problems = []
        if self.routing != Routing.WEIGHTED:
            if self.weights:
                problems.append(
                    Problem(
                        "multi_region.weights",
                        self.weights,
                        f"only applies to weighted routing, but routing is {self.routing.value!r}.",
                        "remove weights, or set routing to 'weighted'.",
                    )
                )
            return problems
        missing = [region for region in dict.fromkeys(self.regions) if region not in self.weights]
        if missing:
            problems.append(
                Problem(
                    "multi_region.weights",
                    self.weights,
                    f"has no weight for {', '.join(missing)}: weighted routing needs one for every region.",
                    "add e.g. " + ", ".join(f"'{region}': 50" for region in missing) + ".",
                )
            )
        problems += [
            Problem(
                f"multi_region.weights.{region}",
                weight,
                "is a weight for a region the app does not run in.",
                "remove it, or add the region to replicaRegions.",
            )
            for region, weight in self.weights.items()
            if region not in self.regions
        ]
        return problems

    def _geolocation_problems(self) -> list[Problem]:
        problems = []
        if self.routing != Routing.GEOLOCATION:
            if self.geolocation or self.default_region:
                problems.append(
                    Problem(
                        "multi_region.geolocation",
                        self.geolocation or self.default_region,
                        f"only applies to geolocation routing, but routing is {self.routing.value!r}.",
                        "remove geolocation and defaultRegion, or set routing to 'geolocation'.",
                    )
                )
            return problems
        fallback = self.fallback_region
        missing = [region for region in self.regions if region not in self.geolocation and region != fallback]
        if missing:
            problems.append(
                Problem(
                    "multi_region.geolocation",
                    {region: [loc.label for loc in locs] for region, locs in self.geolocation.items()},
                    f"has no location for {', '.join(missing)}, so no user would be routed there.",
                    "add e.g. " + ", ".join(f"'{region}': {{'continent': 'EU'}}" for region in missing) + ".",
                )
            )
        for region in self.geolocation:
            if region not in self.regions:
                problems.append(
                    Problem(
                        f"multi_region.geolocation.{region}",
                        region,
                        "is a region the app does not run in.",
                        "remove it, or add the region to replicaRegions.",
                    )
                )
        if self.default_region and self.default_region not in self.regions:
            problems.append(
                Problem(
                    "multi_region.default_region",
                    self.default_region,
                    "is not one of the app's regions.",
                    f"use one of {', '.join(self.regions)}.",
                )
            )
        owners: dict[str, str] = {}
        for region, locations in self.geolocation.items():
            for index, location in enumerate(locations):
                if location.label in owners and owners[location.label] != region:
                    problems.append(
                        Problem(
                            f"multi_region.geolocation.{region}.{index}",
                            location.label,
                            f"is also routed to {owners[location.label]}; Route53 allows one record per location.",
                            "keep the location in one region only.",
                        )
                    )
                owners.setdefault(location.label, region)
        return problems
