"""What the ready-made hooks share: reading their arguments, secrets, AWS clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from stacks_cloud.config import FromEnv
from stacks_cloud.core.secrets import register_secret

if TYPE_CHECKING:
    from stacks_cloud.models import DeploymentContext

Secret = str | SecretStr | FromEnv
"""A secret given as a value, a `SecretStr`, or `from_env("NAME")` (read when the hook runs)."""

Setting = str | FromEnv | Callable[["DeploymentContext"], str | None]
"""A plain setting: a value, `from_env("NAME")`, or a function of the context."""


def split(args: tuple[Any, ...]) -> tuple[BaseException | None, DeploymentContext]:
    """`(context)` for pre/post-deploy hooks, `(error, context)` for on-error hooks."""
    if len(args) == 2:
        return args[0], args[1]
    if len(args) == 1:
        return None, args[0]
    raise TypeError(f"a hook is called with (context) or (error, context), got {len(args)} arguments")


def reveal(secret: Secret | None) -> str | None:
    """The secret's value, registered with the masker so that it never reaches output in clear."""
    if isinstance(secret, FromEnv):
        value = secret.resolve()
    elif isinstance(secret, SecretStr):
        value = secret.get_secret_value()
    else:
        value = secret
    register_secret(value)
    return value


def setting(value: Setting | None, context: DeploymentContext) -> str | None:
    if isinstance(value, FromEnv):
        return value.resolve()
    if callable(value):
        return value(context)
    return value


ClientFactory = Callable[..., Any]


def boto3_client(service: str, region_name: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 client; `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_<SERVICE>`) redirects it, as boto3 does."""
    import boto3

    return boto3.client(service, region_name=region_name, endpoint_url=endpoint_url or None)
