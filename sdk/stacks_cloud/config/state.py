"""Where each stack keeps its Terraform state: local files, an S3 bucket, or Terraform Cloud workspaces."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from stacks_cloud.config.base import Model
from stacks_cloud.config.fields import HttpEndpoint
from stacks_cloud.core import naming
from stacks_cloud.core.errors import Problem
from stacks_cloud.core.suggest import did_you_mean
from stacks_cloud.core.types import Region

S3BucketName = Annotated[
    str, AfterValidator(naming.name_validator(naming.s3_bucket_name_problems, "S3 bucket name", "e.g. 'acme-tfstate'."))
]


class StateEndpoints(Model):
    """Custom endpoint URLs for the S3 backend, e.g. an S3-compatible emulator. Default: AWS's."""

    s3: HttpEndpoint | None = None
    dynamodb: HttpEndpoint | None = None
    sts: HttpEndpoint | None = None
    iam: HttpEndpoint | None = None


class S3StateSettings(Model):
    """State in an S3 bucket, key `{app}/{env}/{stack}.tfstate`, one object per stack.

    Create the bucket (and lock table) once with `cloud bootstrap` (`stacks_cloud.state.bootstrap_state`).
    """

    bucket: S3BucketName
    region: Region
    """Region of the state bucket (may differ from the app's regions)."""
    encrypt: bool = True
    """Server-side encryption of the state objects. Default: on."""
    kms_key_id: str | None = None
    """Encrypt with this KMS key instead of S3-managed keys. Default: S3-managed (SSE-S3)."""
    locking: Literal["lockfile", "dynamodb"] = "lockfile"
    """`lockfile`: an S3 `.tflock` object next to the state (Terraform 1.10+); `dynamodb`: a lock table.
    Default: lockfile."""
    dynamodb_table: str | None = None
    """The lock table (hash key `LockID`), required when locking is `dynamodb`."""
    endpoints: StateEndpoints | None = None
    """Custom endpoints for an S3-compatible service. Default: AWS."""
    use_path_style: bool = False
    """Path-style bucket URLs (`host/bucket`), which most emulators need. Default: off."""
    skip_aws_checks: bool = False
    """Skip credential, account-id, metadata and region checks that only real AWS answers. Default: off."""

    def semantic_problems(self) -> list[Problem]:
        if self.locking == "dynamodb" and not self.dynamodb_table:
            return [
                Problem(
                    "state.s3.dynamodb_table",
                    None,
                    "is required when locking is 'dynamodb'.",
                    "name the lock table, e.g. 'terraform-locks', or use locking 'lockfile'.",
                )
            ]
        if self.locking == "lockfile" and self.dynamodb_table:
            return [
                Problem(
                    "state.s3.dynamodb_table",
                    self.dynamodb_table,
                    "is set but locking is 'lockfile', so the table would not be used.",
                    "set locking to 'dynamodb', or remove dynamodbTable.",
                )
            ]
        return []

    def key(self, app_name: str, environment: str, stack: str) -> str:
        """The state object's key: `{app}/{env}/{stack}.tfstate`."""
        return f"{app_name}/{environment}/{stack}.tfstate"


class CloudStateSettings(Model):
    """State and runs in Terraform Cloud / HCP Terraform: one workspace per stack, named like the stack.

    The API token is not configured here: use `terraform login` or `TF_TOKEN_app_terraform_io`.
    `cloud bootstrap` (and every `cloud deploy`) creates missing workspaces with the tags, project and
    execution mode below, through the API.
    """

    organization: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
    hostname: Annotated[str, Field(pattern=r"^[a-z0-9.-]+(:[0-9]+)?$")] = "app.terraform.io"
    """Terraform Enterprise host name. Default: app.terraform.io."""
    project: str | None = None
    """Terraform Cloud project the workspaces belong to. Default: the organization's default project."""
    tags: list[Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9:_-]*$", max_length=255)]] = Field(default_factory=list)
    """Tags every workspace gets, besides `stacks-cloud`, `app:<app>` and `env:<environment>`. Default: none."""
    execution_mode: Literal["local", "remote", "agent"] = "local"
    """Where plans and applies run. `local` (default): where `cloud deploy` runs; Terraform Cloud keeps the
    state and locks. `remote`: each stack's plan and apply is a run in Terraform Cloud, which the engine
    starts, follows and stops (the hooks and the policy gate still run where `cloud deploy` runs, and the
    cloud credentials the runs need are copied to each workspace as sensitive variables). `agent`: as
    remote, on the agent pool `agentPoolId`."""
    agent_pool_id: Annotated[str, Field(pattern=r"^apool-[A-Za-z0-9]+$")] | None = None
    """The agent pool of `agent` execution (`apool-...`, from the organization's settings). Required for it."""

    def semantic_problems(self) -> list[Problem]:
        if self.execution_mode == "agent" and self.agent_pool_id is None:
            return [
                Problem(
                    "state.cloud.agent_pool_id",
                    None,
                    "is required when executionMode is 'agent'.",
                    "name the pool the runs go to, e.g. 'apool-yZ3kQ8Ld6M9pGf2a' (Settings > Agents).",
                )
            ]
        if self.execution_mode != "agent" and self.agent_pool_id is not None:
            return [
                Problem(
                    "state.cloud.agent_pool_id",
                    self.agent_pool_id,
                    f"is set but executionMode is {self.execution_mode!r}, so no agent would run.",
                    "set executionMode to 'agent', or remove agentPoolId.",
                )
            ]
        return []

    @property
    def runs_remotely(self) -> bool:
        """Whether plans and applies are Terraform Cloud runs (remote or agent execution)."""
        return self.execution_mode != "local"


class StateConfig(Model):
    """Where each stack keeps its Terraform state; the same backend for every stack of an app."""

    backend: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]*$")] = "local"
    """A registered state backend (`stacks_cloud.state`): `local`, `s3`, `cloud`, or one of the project's
    own. Default: local, one state file per stack in `local_dir`."""
    local_dir: str = ".state"
    """Folder for local state: relative to the project and inside it (never inside cdktf.out, which synth
    rewrites), or an absolute path. Default: .state."""
    s3: S3StateSettings | None = None
    """Required when backend is 's3'."""
    cloud: CloudStateSettings | None = None
    """Required when backend is 'cloud'."""
    keep_archives: Annotated[int, Field(ge=1, le=1000)] = 10
    """The synthesized stacks of the last N completed deployments are kept for rollbacks. Default: 10."""

    def semantic_problems(self) -> list[Problem]:
        problems = _backend_problems(self)
        if self.s3 is not None:
            problems += self.s3.semantic_problems()
        if self.cloud is not None:
            problems += self.cloud.semantic_problems()
        if not Path(self.local_dir).is_absolute() and ".." in Path(self.local_dir).parts:
            problems.append(
                Problem(
                    "state.local_dir",
                    self.local_dir,
                    "leaves the project ('..'): the state would be shared by whatever else writes there.",
                    "use a folder inside the project, e.g. '.state', or an absolute path you own.",
                )
            )
        if Path(self.local_dir).parts[:1] == ("cdktf.out",):
            problems.append(
                Problem(
                    "state.local_dir",
                    self.local_dir,
                    "is inside cdktf.out, which every synth rewrites: the state would be lost.",
                    "use a folder outside it, e.g. '.state'.",
                )
            )
        return problems


BackendCheck = Callable[[StateConfig], list[Problem]]
_BACKENDS: dict[str, BackendCheck] = {}


def accept_backend(name: str, check: BackendCheck) -> None:
    """Let `state.backend` name `name`, whose settings `check` inspects (called by `state.register_backend`)."""
    _BACKENDS[name] = check


def _backend_problems(state: StateConfig) -> list[Problem]:
    # The built-in backends register themselves when `stacks_cloud.state` is first imported. It sits above
    # this layer (it writes cdktf backend blocks), so it is looked up by name, as a plugin would be.
    importlib.import_module("stacks_cloud.state")
    check = _BACKENDS.get(state.backend)
    if check is None:
        known = sorted(_BACKENDS)
        return [
            Problem(
                "state.backend",
                state.backend,
                f"is not a state backend (registered: {', '.join(known)}).",
                did_you_mean(state.backend, known)
                or "use one of them, or register yours with stacks_cloud.state.register_backend.",
            )
        ]
    return check(state)
