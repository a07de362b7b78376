"""Build the cdktf app from a validated `CloudConfig`: one `CustomStack` per region."""

from __future__ import annotations

from pathlib import Path

from cdk import App
from config.schema import CloudConfig
from stacks.backend import configure_backend
from stacks.custom_stack import CustomStack, CustomStackProps

PROJECT_DIR = Path(__file__).resolve().parent.parent


def regional_stack_name(config: CloudConfig, region: str) -> str:
    """`<app>-<env>-<region>`: the stack id, its state file and its Terraform Cloud workspace."""
    return f"{config.app_name}-{config.environment}-{region}"


def build_app(config: CloudConfig, *, app: App | None = None, project_dir: Path = PROJECT_DIR) -> App:
    """Add the config's stacks to `app` (a new `App` by default) and return it, ready to `synth()`."""
    app = app if app is not None else App()
    outdir = Path(app.outdir)
    if not outdir.is_absolute():
        outdir = Path.cwd() / outdir
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
            ),
        )
        configure_backend(stack, name, config.state, project_dir=project_dir, outdir=outdir)
    return app
