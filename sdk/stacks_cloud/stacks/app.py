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

import atexit
import contextlib
import gc
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from stacks_cloud.cdk import App
from stacks_cloud.config import CloudConfig
from stacks_cloud.config.files import CONFIG_ENV, read_config_file
from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.stacks.global_names import check_global_names
from stacks_cloud.stacks.global_stack import GlobalStack, GlobalStackProps
from stacks_cloud.stacks.regional import RegionalDomain, RegionalStack, RegionalStackProps
from stacks_cloud.state import backend_for


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


_DUPLICATE_ID = re.compile(r"There is already a Construct with name '(?P<name>[^']*)' in \w+ \[(?P<scope>[^\]]*)\]")


@contextlib.contextmanager
def duplicate_ids_as_config_errors() -> Iterator[None]:
    """constructs' "There is already a Construct with name 'X'" (a jsii traceback) as a `ConfigError`."""
    try:
        yield
    except RuntimeError as error:
        found = _DUPLICATE_ID.search(str(error))
        if found is None:
            raise
        raise ConfigError(
            "stacks",
            [
                Problem(
                    f"{found['scope']}/{found['name']}",
                    found["name"],
                    f"is used twice as a construct id in {found['scope']}: ids name the resources, so they must"
                    " be unique within their scope.",
                    "give the second construct another id (for config-driven constructs, another name).",
                )
            ],
        ) from None


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
    backend = backend_for(config)
    regional: list[RegionalStack[Any]] = []
    for region in config.regions:
        name = regional_stack_name(config, region)
        with duplicate_ids_as_config_errors():
            instance = stack(
                app, name, RegionalStackProps(config=config, region=region, project_dir=project, domain=domain)
            )
        backend.configure_stack(instance, name, config, project_dir=project, outdir=outdir)
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
        backend.configure_stack(routing_stack, name, config, project_dir=project, outdir=outdir)
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

    @staticmethod
    def _config_file_data(app: App) -> dict[str, Any] | None:
        from_context = app.node.try_get_context("configFile")
        path = from_context or os.environ.get(CONFIG_ENV)
        if not path:
            return None
        option = "cdktf.json context.configFile" if from_context else CONFIG_ENV
        return read_config_file(Path(str(path)), option=option)

    def main(self) -> int:
        """What `cdktf synth` runs: validate, build, synthesize; a config error is printed, exit code 2.

        The environment comes from the cdktf context (`"context": {"environment": ...}` in cdktf.json),
        else `APP_ENV`, else the config's, else `development`. The config is the app's own, unless the
        context's `configFile` or the `CLOUD_CONFIG` environment variable names a config file (a .py
        defining `CLOUD`, or a .json; relative to the project folder). The stacks are written to a temporary
        folder and swapped in only when all is well (`synth_atomically`): a refused synth leaves the
        earlier `cdktf.out` as it was. Ctrl-C says so in one line and exits 130, as a shell expects.
        """
        skip_final_collection()

        def build(app: App) -> None:
            environment = app.node.try_get_context("environment") or os.environ.get("APP_ENV") or None
            config = self.load_config(environment, data=self._config_file_data(app))
            for warning in config.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            self.build(config, app=app)

        outdir = Path(os.environ.get("CDKTF_OUTDIR") or "cdktf.out")
        try:
            synth_atomically(outdir, build)
        except ConfigError as error:
            print(error, file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"synth interrupted: {outdir} is as it was", file=sys.stderr)
            return EXIT_INTERRUPTED
        return 0


EXIT_INTERRUPTED = 130
"""The exit code of a synth stopped by Ctrl-C (128 + SIGINT, what shells report)."""


def skip_final_collection() -> None:
    """Let this process exit without Python's last garbage collection over the objects alive now.

    A process that built stacks holds the provider bindings' classes and their typing forms; the
    collection that interpreter shutdown runs over them takes ~0.2 s, a tenth of a cold synth. At exit
    (and only then) the objects alive are frozen (`gc.freeze()`), so that collection skips them; the
    memory goes back to the system with the process. Objects are still released as their last
    reference goes, and `atexit` handlers and `weakref.finalize` callbacks still run.
    """
    atexit.unregister(gc.freeze)  # once, however often it is asked for
    atexit.register(gc.freeze)  # registered last, so it runs first: the other handlers run as usual


STAGING_SUFFIX = ".synth-tmp"
OLD_SUFFIX = ".synth-old"


def synth_atomically(outdir: Path, build: Callable[[App], object]) -> App:
    """Build and synthesize into a sibling of `outdir`, then swap it in; on any error `outdir` is untouched.

    The new `outdir` holds exactly this synth: the folders of stacks that no longer exist (a removed
    region) go with the old one. Folders left by a killed synth are removed on the next one.
    """
    outdir = outdir.resolve()
    outdir.parent.mkdir(parents=True, exist_ok=True)
    for leftover in outdir.parent.glob(f".{outdir.name}.*"):
        if leftover.name.endswith((STAGING_SUFFIX, OLD_SUFFIX)) and _older_than(leftover, 3600):
            shutil.rmtree(leftover, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.", suffix=STAGING_SUFFIX, dir=outdir.parent))
    try:
        app = App(outdir=str(staging))
        build(app)
        app.synth()
        check_global_names(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = staging.with_name(staging.name.removesuffix(STAGING_SUFFIX) + OLD_SUFFIX)
    if outdir.exists():
        _keep_terraform_working_files(outdir, staging)
        os.replace(outdir, old)
    os.replace(staging, outdir)
    shutil.rmtree(old, ignore_errors=True)
    return app


TERRAFORM_WORKING_FILES = (".terraform", ".terraform.lock.hcl")
"""What `terraform init` (or `cdktf deploy`) left in a stack's folder: kept across synths, as cdktf does, so
the next `cdktf diff`/`deploy` neither re-initializes nor re-locks providers for an unchanged stack."""


def _keep_terraform_working_files(old: Path, new: Path) -> None:
    """Move each surviving stack's terraform working files from the old synth into the new one."""
    stacks = old / "stacks"
    if not stacks.is_dir():
        return
    for stack in stacks.iterdir():
        target = new / "stacks" / stack.name
        if not target.is_dir():
            continue  # a removed stack: its files go with the old synth
        for name in TERRAFORM_WORKING_FILES:
            source = stack / name
            if source.exists() and not (target / name).exists():
                os.replace(source, target / name)


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False
