"""The one door to CDKTF: every other module imports cdktf and constructs names from here.

Importing this package first makes the provider bindings lazy (see `cdk._fastload`), and keeping
cdktf imports in one place keeps a later move to CDK Terrain (`cdktn`) a change to this folder.
"""

from stacks_cloud.cdk import _fastload

_fastload.install()

from cdktf import (  # noqa: E402
    App,
    AssetType,
    CloudBackend,
    Fn,
    IResolvable,
    LocalBackend,
    NamedCloudWorkspace,
    S3Backend,
    S3BackendEndpointConfig,
    TerraformAsset,
    TerraformOutput,
    TerraformResourceLifecycle,
    TerraformStack,
    Testing,
    Token,
)
from constructs import Construct  # noqa: E402

_fastload.restore_environment()  # `import cdktf` started the kernel; it no longer needs them

__all__ = [
    "App",
    "AssetType",
    "CloudBackend",
    "Construct",
    "Fn",
    "IResolvable",
    "LocalBackend",
    "NamedCloudWorkspace",
    "S3Backend",
    "S3BackendEndpointConfig",
    "TerraformAsset",
    "TerraformOutput",
    "TerraformResourceLifecycle",
    "TerraformStack",
    "Testing",
    "Token",
]
