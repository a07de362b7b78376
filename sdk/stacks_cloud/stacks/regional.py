"""`RegionalStack`: the base of a project's stack, one instance per region of the app.

It gives the stack its AWS provider for the region (default tags; every endpoint redirected when the
config's `aws.endpoint` points at an emulator); `build_app` gives it its own state. A subclass adds
the app's resources, as the guide's `CustomStack` does, and calls `serve_api(api)` so that, with
multi-region routing, the API is served at the routed domain and the global stack can route to it:

    class CustomStack(RegionalStack):
        def __init__(self, scope, stack_id, props):
            super().__init__(scope, stack_id, props)
            api = CustomApi(self, "Api", function_name=self.names.function("api"), ...)
            self.serve_api(api.api)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from stacks_cloud.cdk import Construct, TerraformOutput, TerraformStack
from stacks_cloud.config import CloudConfig
from stacks_cloud.constructs.dns import AliasTarget, ApiDomain, api_host, lookup_hosted_zone, stage_path
from stacks_cloud.constructs.function import Code
from stacks_cloud.constructs.rest_api import LambdaRestApi
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.names import ResourceNames
from stacks_cloud.core.types import project_path_problem
from stacks_cloud.stacks.aws_provider import add_aws_provider
from stacks_cloud.stacks.global_stack import RegionalEndpoint

ConfigT = TypeVar("ConfigT", bound=CloudConfig)


@dataclass(frozen=True)
class RegionalDomain:
    """Serve the region's API at `domain_name`, with its certificate validated in the zone `zone_name`."""

    domain_name: str
    zone_name: str


@dataclass(frozen=True)
class RegionalStackProps(Generic[ConfigT]):
    """What one regional stack is built from (the guide's `CustomStackProps`: `environment`, `appName`, `env`).

    Attributes:
        config: the validated config (the project's own `CloudConfig` subclass, with its sections).
        region: the AWS region of this stack.
        project_dir: the project's folder; code paths are resolved against it.
        domain: where to serve the API when the app routes between regions. Default: none.
    """

    config: ConfigT
    region: str
    project_dir: Path
    domain: RegionalDomain | None = None

    @property
    def environment(self) -> str:
        return self.config.environment

    @property
    def app_name(self) -> str:
        return self.config.app_name

    @property
    def is_production(self) -> bool:
        return self.config.is_production

    @property
    def names(self) -> ResourceNames:
        return self.config.names(self.region)


class RegionalStack(TerraformStack, Generic[ConfigT]):
    """One region of the app: a stack with the region's AWS provider. Subclass it and add resources.

    Attributes: `props`, `config`, `names` (this region's resource names), `provider`, and after
    `serve_api`, `endpoint` (what the global stack routes to; None without multi-region routing).
    """

    def __init__(self, scope: Construct, stack_id: str, props: RegionalStackProps[ConfigT]) -> None:
        super().__init__(scope, stack_id)
        self.props = props
        self.config: ConfigT = props.config
        self.names = props.names
        self.provider = add_aws_provider(
            self,
            region=props.region,
            settings=props.config.aws,
            tags={"App": props.app_name, "Environment": props.environment, "ManagedBy": "stacks-cloud"},
        )
        self.endpoint: RegionalEndpoint | None = None
        self.api_domain: ApiDomain | None = None

    def code(self, path: str | Path) -> Code:
        """The function code in `path`, relative to the project folder (the guide's `Code.fromAsset('./dist')`).

        Raises `ConfigError` for a path outside the project (absolute, or through '..'): what a stack
        deploys is in the project."""
        problem = project_path_problem(str(path))
        if problem:
            message, _, fix = problem.partition(" Fix: ")
            raise ConfigError(f"code of {self.node.path}", [Problem("code_path", str(path), message, fix)])
        return Code.from_asset(self.props.project_dir / path)

    def serve_api(self, api: LambdaRestApi) -> RegionalEndpoint | None:
        """Make `api` this region's entry point for the global routing stack.

        With multi-region routing (a `domain` in the props), the API gets a regional custom domain
        with a DNS-validated certificate, an output `RegionalDomainTarget`, and the endpoint the
        global stack aliases and health-checks. Without it, nothing is added and None is returned.
        """
        domain = self.props.domain
        if domain is None:
            return None
        if self.endpoint is not None:
            raise ValueError(f"{self.node.path}: serve_api() was already called; a region serves one routed API")
        zone = lookup_hosted_zone(self, "Zone", domain.zone_name)
        self.api_domain = ApiDomain(self, "ApiDomain", api=api, domain_name=domain.domain_name, zone_id=zone.zone_id)
        TerraformOutput(
            self,
            "RegionalDomainTarget",
            value=self.api_domain.target_domain_name,
            description="Regional API Gateway domain the global records alias",
        )
        self.endpoint = RegionalEndpoint(
            region=self.props.region,
            target=AliasTarget(self.api_domain.target_domain_name, self.api_domain.target_zone_id),
            api_host=api_host(api),
            health_check_path=stage_path(api, self.config.multi_region.health_check_path),
        )
        return self.endpoint
