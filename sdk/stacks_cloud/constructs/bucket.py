"""`Bucket`: the guide's assets bucket: versioned, encrypted, private, with a removal policy."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator

from stacks_cloud.cdk import Construct, TerraformResourceLifecycle
from stacks_cloud.cdk.aws import (
    s3_bucket,
    s3_bucket_public_access_block,
    s3_bucket_server_side_encryption_configuration,
    s3_bucket_versioning,
)
from stacks_cloud.constructs._options import Options, validate_options
from stacks_cloud.constructs.grants import Grantable, grant
from stacks_cloud.core import naming

_S3 = s3_bucket_server_side_encryption_configuration


class RemovalPolicy(StrEnum):
    """What `terraform destroy` does to stateful data (the guide's `cdk.RemovalPolicy`)."""

    RETAIN = "retain"
    """Refuse to destroy (`lifecycle.prevent_destroy`); the data outlives the stack."""
    DESTROY = "destroy"
    """Destroy, emptying the bucket first (`force_destroy`)."""


class BucketOptions(Options):
    bucket_name: Annotated[
        str,
        AfterValidator(
            naming.name_validator(
                naming.s3_bucket_name_problems,
                "S3 bucket name",
                fix="use lowercase letters, digits and hyphens, 3 to 63 characters.",
            )
        ),
    ]
    versioned: bool = True
    """Keep every version of every object. Default: on."""
    removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    """Default: RETAIN (safe); the guide uses DESTROY outside production."""


READ_WRITE_ACTIONS = (
    "s3:GetObject*",
    "s3:GetBucket*",
    "s3:List*",
    "s3:DeleteObject*",
    "s3:PutObject",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:Abort*",
)
"""The actions of CDK's `bucket.grantReadWrite`."""


class Bucket(Construct):
    """An S3 bucket with versioning, SSE-S3 encryption and all public access blocked.

    Attributes: `bucket`, `name`, `arn`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        versioned: bool = True,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        props = validate_options(
            BucketOptions,
            scope,
            construct_id,
            {"bucket_name": bucket_name, "versioned": versioned, "removal_policy": removal_policy},
        )
        super().__init__(scope, construct_id)
        retain = props.removal_policy is RemovalPolicy.RETAIN
        self.bucket = s3_bucket.S3Bucket(
            self,
            "Bucket",
            bucket=props.bucket_name,
            force_destroy=not retain,
            lifecycle=TerraformResourceLifecycle(prevent_destroy=True) if retain else None,
        )
        if props.versioned:
            s3_bucket_versioning.S3BucketVersioningA(
                self,
                "Versioning",
                bucket=self.bucket.id,
                versioning_configuration=s3_bucket_versioning.S3BucketVersioningVersioningConfiguration(
                    status="Enabled"
                ),
            )
        _S3.S3BucketServerSideEncryptionConfigurationA(
            self,
            "Encryption",
            bucket=self.bucket.id,
            rule=[
                _S3.S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=(
                        _S3.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
                            sse_algorithm="AES256"
                        )
                    )
                )
            ],
        )
        s3_bucket_public_access_block.S3BucketPublicAccessBlock(
            self,
            "PublicAccessBlock",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )

    @property
    def name(self) -> str:
        return str(self.bucket.bucket)

    @property
    def arn(self) -> str:
        return str(self.bucket.arn)

    def grant_read_write(self, grantee: Grantable) -> None:
        """Let `grantee` read, write and delete objects in this bucket (and only this bucket)."""
        grant(self, "ReadWrite", grantee, actions=READ_WRITE_ACTIONS, resources=[self.arn, f"{self.arn}/*"])
