"""Build a cdktf app from a validated config and the project's stack class; `CloudApp`, a project's app.

One instance of the project's `RegionalStack` subclass per region, each with its own state, plus,
when the config routes between regions, the `GlobalStack`. Stack ids are `<app>-<env>-<region>` and
`<app>-<env>-global`; they name the state (file, S3 key or Terraform Cloud workspace) too, so they
never depend on the order of regions.

A project's `main.py` (what `cdktf synth` runs, and what the `cloud` CLI imports) declares its app:

    app = CloudApp(config=CLOUD, config_class=AppConfig, stack=CustomStack)

    if __name__ == "__main__":
        sys.exit(app.main())
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stacks_cloud.cdk import App
from stacks_cloud.config import CloudConfig
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.stacks.backend import configure_app_backend
from stacks_cloud.stacks.global_stack import GlobalStack, GlobalStackProps
from stacks_cloud.stacks.regional import RegionalDomain, RegionalStack, RegionalStackProps


def regional_stack_name(config: CloudConfig, region: str) -> str:
    """`<app>-<env>-<region>`: the stack id, its state and its Terraform Cloud workspace."""
    return f"{config.app_name}-{config.environment}-{region}"


def global_stack_name(config: CloudConfig) -> str:
    """`<app>-<env>-global`: the routing stack of a multi-region app."""
    return f"{config.app_name}-{config.environment}-global"


def routed_domain(config: CloudConfig) -> RegionalDomain | None:
    """The domain the regions serve their API at when the config routes between regions, else None."""
    routing = config.multi_region
    if routing.enabled and routing.domain_name and routing.zone_name:
        return RegionalDomain(domain_name=routing.domain_name, zone_name=routing.zone_name)
    return None


def stack_names(config: CloudConfig) -> list[str]:
    """Every stack the config produces, in deploy order (regions first, then the global stack)."""
    names = [regional_stack_name(config, region) for region in config.regions]
    return [*names, global_stack_name(config)] if routed_domain(config) else names


def build_app(
    config: CloudConfig,
    stack: type[RegionalStack[Any]],
    *,
    app: App | None = None,
    project_dir: Path | None = None,
    global_stack: type[GlobalStack] = GlobalStack,
) -> App:
    """Add the config's stacks to `app` (a new `App` by default) and return it, ready to `synth()`.

    Args:
        config: the validated config.
        stack: the project's regional stack class (a `RegionalStack` subclass), built once per region.
        project_dir: the project's folder (code paths and local state are relative to it). Default: the
            working directory, which is the project's when `cdktf synth` runs.
        global_stack: the routing stack class. Default: `GlobalStack`.
    """
    app = app if app is not None else App()
    project = (project_dir or Path.cwd()).resolve()
    outdir = Path(app.outdir)
    if not outdir.is_absolute():
        outdir = Path.cwd() / outdir
    domain = routed_domain(config)
    regional: list[RegionalStack[Any]] = []
    for region in config.regions:
        name = regional_stack_name(config, region)
        instance = stack(
            app, name, RegionalStackProps(config=config, region=region, project_dir=project, domain=domain)
        )
        configure_app_backend(instance, name, config, project_dir=project, outdir=outdir)
        regional.append(instance)
    if domain is not None:
        missing = [instance.node.id for instance in regional if instance.endpoint is None]
        if missing:
            raise ConfigError(
                "stacks",
                [
                    Problem(
                        f"{stack.__name__} ({', '.join(missing)})",
                        None,
                        "serves no API for the global routing stack: multi-region routing is enabled.",
                        "call self.serve_api(api) in the stack with the LambdaRestApi users reach,"
                        " or turn multi-region routing off.",
                    )
                ],
            )
        name = global_stack_name(config)
        routing_stack = global_stack(
            app,
            name,
            GlobalStackProps(
                app_name=config.app_name,
                environment=config.environment,
                routing=config.multi_region,
                endpoints=tuple(instance.endpoint for instance in regional if instance.endpoint is not None),
                aws=config.aws,
            ),
        )
        configure_app_backend(routing_stack, name, config, project_dir=project, outdir=outdir)
    return app


class CloudApp:
    """A project's app: its config (the data and the model that validates it) and its regional stack class.

    Args:
        config: the config data, as in `config/cloud.py` (`CLOUD`); camelCase or snake_case keys.
        config_class: the model that validates it, the SDK's `CloudConfig` or the project's subclass.
        stack: the project's `RegionalStack` subclass; None for an app deployed by a provider that
            builds no Terraform stacks (a custom provider).
        global_stack: the routing stack class. Default: `GlobalStack`.
    """

    def __init__(
        self,
        *,
        config: Mapping[str, Any],
        config_class: type[CloudConfig] = CloudConfig,
        stack: type[RegionalStack[Any]] | None = None,
        global_stack: type[GlobalStack] = GlobalStack,
    ) -> None:
        self.config_data = dict(config)
        self.config_class = config_class
        self.stack = stack
        self.global_stack = global_stack

    def load_config(
        self,
        environment: str | None = None,
        *,
        data: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> CloudConfig:
        """Validate the config (or `data`, e.g. from `--config`) plus `overrides` for `environment`.

        `environment` wins over the config's own `environment`; without either, `development`.
        Raises `ConfigError` listing every problem.
        """
        values: dict[str, Any] = {**(self.config_data if data is None else data), **(overrides or {})}
        if environment:
            values["environment"] = environment
        return self.config_class.model_validate(values)

    def build(self, config: CloudConfig, *, app: App | None = None, project_dir: Path | None = None) -> App:
        """Add the config's stacks to `app` (see `build_app`)."""
        if self.stack is None:
            raise ConfigError(
                "app",
                [
                    Problem(
                        "stack",
                        None,
                        "is not set: this app declares no regional stack to synthesize.",
                        "pass CloudApp(..., stack=YourStack), a RegionalStack subclass.",
                    )
                ],
            )
        return build_app(config, self.stack, app=app, project_dir=project_dir, global_stack=self.global_stack)

    def main(self) -> int:
        """What `cdktf synth` runs: validate, build, synthesize; a config error is printed, exit code 2.

        The environment comes from the cdktf context (`"context": {"environment": ...}` in cdktf.json),
        else `APP_ENV`, else the config's, else `development`.
        """
        app = App()
        environment = app.node.try_get_context("environment") or os.environ.get("APP_ENV") or None
        try:
            config = self.load_config(environment)
            for warning in config.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            self.build(config, app=app)
        except ConfigError as error:
            print(error, file=sys.stderr)
            _remove_empty_outdir(Path(app.outdir))
            return 2
        app.synth()
        return 0


def _remove_empty_outdir(outdir: Path) -> None:
    """`App()` creates `<outdir>/stacks` up front; leave nothing behind when synth never ran."""
    for folder in (outdir / "stacks", outdir):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only succeeds when empty: earlier synth output is kept
