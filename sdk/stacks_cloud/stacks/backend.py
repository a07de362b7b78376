"""Per-stack Terraform state: every stack of an app gets its own state on the configured backend.

- `local`: `<project>/<local_dir>/<stack>.tfstate`, never inside cdktf.out (which synth rewrites).
- `s3`: key `{app}/{env}/{stack}.tfstate` in the state bucket, encrypted, locked by an S3 lockfile or
  a DynamoDB table.
- `cloud`: a Terraform Cloud workspace per stack, named like the stack.

cdktf builds cross-stack references on `terraform_remote_state` with the same settings, so the
global stack reads the regional outputs from whichever backend this writes.
"""

from __future__ import annotations

import os
from pathlib import Path

from stacks_cloud.cdk import (
    CloudBackend,
    LocalBackend,
    NamedCloudWorkspace,
    S3Backend,
    S3BackendEndpointConfig,
    TerraformStack,
)
from stacks_cloud.config import CloudConfig, CloudStateSettings, S3StateSettings, StateConfig


def configure_app_backend(
    stack: TerraformStack, name: str, config: CloudConfig, *, project_dir: Path, outdir: Path
) -> None:
    """`configure_backend` with the app's state settings, app name and environment."""
    configure_backend(
        stack,
        name,
        config.state,
        app_name=config.app_name,
        environment=config.environment,
        project_dir=project_dir,
        outdir=outdir,
    )


def configure_backend(
    stack: TerraformStack,
    name: str,
    state: StateConfig,
    *,
    app_name: str,
    environment: str,
    project_dir: Path,
    outdir: Path,
) -> None:
    """Give `stack` (whose id is `name`) its own state on `state.backend`."""
    if state.backend == "s3" and state.s3 is not None:
        _s3_backend(stack, state.s3, key=state.s3.key(app_name, environment, name))
    elif state.backend == "cloud" and state.cloud is not None:
        _cloud_backend(stack, state.cloud, workspace=name)
    else:
        _local_backend(stack, project_dir / state.local_dir / f"{name}.tfstate", stack_dir=outdir / "stacks" / name)


def _local_backend(stack: TerraformStack, state_file: Path, *, stack_dir: Path) -> None:
    # Written relative to the stack's working directory, so the synthesized files do not depend on
    # where the project is checked out (and the global stack's remote state path resolves the same).
    LocalBackend(stack, path=os.path.relpath(state_file.resolve(), stack_dir.resolve()))


def _s3_backend(stack: TerraformStack, s3: S3StateSettings, *, key: str) -> None:
    options: dict[str, object] = {}
    if s3.endpoints is not None:
        options["endpoints"] = S3BackendEndpointConfig(**s3.endpoints.model_dump(exclude_none=True))
    if s3.skip_aws_checks:
        options |= {
            "skip_credentials_validation": True,
            "skip_requesting_account_id": True,
            "skip_metadata_api_check": True,
            "skip_region_validation": True,
        }
    S3Backend(
        stack,
        bucket=s3.bucket,
        key=key,
        region=s3.region,
        encrypt=s3.encrypt,
        kms_key_id=s3.kms_key_id,
        dynamodb_table=s3.dynamodb_table if s3.locking == "dynamodb" else None,
        use_path_style=s3.use_path_style or None,
        **options,  # type: ignore[arg-type]
    )
    if s3.locking == "lockfile":
        # cdktf 0.21's S3Backend predates `use_lockfile` (Terraform 1.10+): set it on the JSON directly.
        stack.add_override("terraform.backend.s3.use_lockfile", True)


def _cloud_backend(stack: TerraformStack, cloud: CloudStateSettings, *, workspace: str) -> None:
    CloudBackend(
        stack,
        organization=cloud.organization,
        hostname=cloud.hostname,
        workspaces=NamedCloudWorkspace(workspace, cloud.project),
    )
