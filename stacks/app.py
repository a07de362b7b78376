"""Build the cdktf app from a validated `CloudConfig`: one `CustomStack` per region, plus a global stack.

Stack ids are `<app>-<env>-<region>` and `<app>-<env>-global`; they name the state (file, S3 key or
Terraform Cloud workspace) too, so they never depend on the order of regions.
"""

from __future__ import annotations

from pathlib import Path

from cdk import App
from config.schema import CloudConfig
from constructs_lib.dns import AliasTarget
from stacks.backend import configure_app_backend
from stacks.custom_stack import CustomStack, CustomStackProps, RegionalDomain
from stacks.global_stack import GlobalStack, GlobalStackProps, RegionalEndpoint

PROJECT_DIR = Path(__file__).resolve().parent.parent


def regional_stack_name(config: CloudConfig, region: str) -> str:
    """`<app>-<env>-<region>`: the stack id, its state and its Terraform Cloud workspace."""
    return f"{config.app_name}-{config.environment}-{region}"


def global_stack_name(config: CloudConfig) -> str:
    """`<app>-<env>-global`: the routing stack of a multi-region app."""
    return f"{config.app_name}-{config.environment}-global"


def stack_names(config: CloudConfig) -> list[str]:
    """Every stack the config produces, in deploy order (regions first, then the global stack)."""
    names = [regional_stack_name(config, region) for region in config.regions]
    return [*names, global_stack_name(config)] if config.multi_region.enabled else names


def build_app(config: CloudConfig, *, app: App | None = None, project_dir: Path = PROJECT_DIR) -> App:
    """Add the config's stacks to `app` (a new `App` by default) and return it, ready to `synth()`."""
    app = app if app is not None else App()
    outdir = Path(app.outdir)
    if not outdir.is_absolute():
        outdir = Path.cwd() / outdir
    routing = config.multi_region
    domain = (
        RegionalDomain(domain_name=routing.domain_name, zone_name=routing.zone_name)
        if routing.enabled and routing.domain_name and routing.zone_name
        else None
    )
    regional: list[CustomStack] = []
    for region in config.regions:
        name = regional_stack_name(config, region)
        stack = CustomStack(
            app,
            name,
            CustomStackProps(
                environment=config.environment,
                app_name=config.app_name,
                region=region,
                project_dir=project_dir,
                api=config.api,
                scheduled_functions=tuple(config.scheduled_functions),
                database=config.database,
                cache=config.cache,
                aws=config.aws,
                domain=domain,
            ),
        )
        configure_app_backend(stack, name, config, project_dir=project_dir, outdir=outdir)
        regional.append(stack)
    if domain is not None:
        name = global_stack_name(config)
        endpoints = tuple(
            RegionalEndpoint(
                region=stack.props.region,
                target=AliasTarget(stack.api_domain.target_domain_name, stack.api_domain.target_zone_id),
                api_host=stack.api_host,
            )
            for stack in regional
            if stack.api_domain is not None
        )
        global_stack = GlobalStack(
            app,
            name,
            GlobalStackProps(
                app_name=config.app_name,
                environment=config.environment,
                routing=routing,
                endpoints=endpoints,
                aws=config.aws,
            ),
        )
        configure_app_backend(global_stack, name, config, project_dir=project_dir, outdir=outdir)
    return app
