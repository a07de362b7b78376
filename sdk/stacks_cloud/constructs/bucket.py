"""`Bucket`: the guide's assets bucket: versioned, encrypted, private, TLS-only, with a removal policy.

Secure by default: all public access blocked and ACLs disabled (the bucket owner owns every object);
a bucket policy refusing any request not made over TLS; encryption with a KMS key when one is given
(with an S3 bucket key, so KMS is called once per object batch, not per object), else SSE-S3; a
lifecycle that deletes noncurrent versions after `noncurrent_version_days` and aborts multipart uploads
left incomplete for 7 days; object events to EventBridge; server access logs to `access_logs` when
given. `Bucket.for_access_logs` makes the bucket those logs go to.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct, Fn, TerraformResourceLifecycle
from stacks_cloud.cdk.aws import (
    s3_bucket,
    s3_bucket_lifecycle_configuration,
    s3_bucket_logging,
    s3_bucket_notification,
    s3_bucket_ownership_controls,
    s3_bucket_policy,
    s3_bucket_public_access_block,
    s3_bucket_server_side_encryption_configuration,
    s3_bucket_versioning,
)
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._removal import RemovalPolicy
from stacks_cloud.constructs._stack import account_of, node_id, remember
from stacks_cloud.constructs.grants import Grantable, grant
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.core import naming

_S3 = s3_bucket_server_side_encryption_configuration
_LIFECYCLE = s3_bucket_lifecycle_configuration


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
    """The bucket's name: global across every AWS account, so include the app, environment and region. Required."""
    versioned: bool
    """Keep every version of every object. Default: on."""
    removal_policy: RemovalPolicy
    """Default: RETAIN (safe); the guide uses DESTROY outside production."""
    encryption_key: EncryptionKey | None
    """Encrypt objects with this KMS key. Default: SSE-S3 (keys managed by S3)."""
    noncurrent_version_days: Annotated[int, Field(ge=1, le=3650)]
    """Days a replaced or deleted object's old version is kept. Default: 90."""
    access_logs: Bucket | None
    """Write server access logs to this bucket (see `Bucket.for_access_logs`). Default: none."""
    event_bridge: bool
    """Send object events to EventBridge (nothing is charged until a rule uses them). Default: on."""


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


@options_signature(BucketOptions)
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
        encryption_key: EncryptionKey | None = None,
        noncurrent_version_days: int = 90,
        access_logs: Bucket | None = None,
        event_bridge: bool = True,
        _log_delivery: bool = False,
        _expire_days: int | None = None,
    ) -> None:
        props = validate_options(
            BucketOptions,
            scope,
            construct_id,
            {
                "bucket_name": bucket_name,
                "versioned": versioned,
                "removal_policy": removal_policy,
                "encryption_key": encryption_key,
                "noncurrent_version_days": noncurrent_version_days,
                "access_logs": access_logs,
                "event_bridge": event_bridge,
            },
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.encryption_key = props.encryption_key
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
        key = props.encryption_key
        default = _S3.S3BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultA(
            sse_algorithm="aws:kms" if key else "AES256", kms_master_key_id=key.arn if key else None
        )
        _S3.S3BucketServerSideEncryptionConfigurationA(
            self,
            "Encryption",
            bucket=self.bucket.id,
            rule=[
                _S3.S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default=default, bucket_key_enabled=True if key else None
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
        s3_bucket_ownership_controls.S3BucketOwnershipControls(
            self,
            "Ownership",
            bucket=self.bucket.id,
            rule=s3_bucket_ownership_controls.S3BucketOwnershipControlsRule(object_ownership="BucketOwnerEnforced"),
        )
        statements: list[dict[str, Any]] = [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [self.arn, f"{self.arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        if _log_delivery:
            statements.append(
                {
                    "Sid": "S3ServerAccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{self.arn}/*",
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_of(self)}},
                }
            )
        s3_bucket_policy.S3BucketPolicy(
            self,
            "Policy",
            bucket=self.bucket.id,
            policy=Fn.jsonencode({"Version": "2012-10-17", "Statement": statements}),
        )
        rules: list[dict[str, Any]] = [
            {
                "id": "old-versions-and-incomplete-uploads",
                "status": "Enabled",
                "filter": {},
                "noncurrent_version_expiration": {"noncurrent_days": props.noncurrent_version_days},
                "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
            }
        ]
        if _expire_days is not None:
            rules.append({"id": "expire", "status": "Enabled", "filter": {}, "expiration": {"days": _expire_days}})
        lifecycle = _LIFECYCLE.S3BucketLifecycleConfiguration(self, "Lifecycle", bucket=self.bucket.id)
        lifecycle.add_override("rule", rules)
        if props.event_bridge:
            s3_bucket_notification.S3BucketNotification(self, "Events", bucket=self.bucket.id, eventbridge=True)
        if props.access_logs is not None:
            s3_bucket_logging.S3BucketLoggingA(
                self,
                "AccessLogging",
                bucket=self.bucket.id,
                target_bucket=props.access_logs.name,
                target_prefix=f"{props.bucket_name}/",
            )

    @classmethod
    def for_access_logs(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        expire_days: int = 365,
    ) -> Bucket:
        """A bucket that receives other buckets' server access logs, kept `expire_days` (default 365).

        Encrypted with SSE-S3, the only encryption S3's log delivery writes to; its policy lets the
        logging service of this account write, and it logs nothing itself (no logs of logs).
        """
        return cls(
            scope,
            construct_id,
            bucket_name=bucket_name,
            removal_policy=removal_policy,
            _log_delivery=True,
            _expire_days=expire_days,
        )

    @cached_property
    def name(self) -> str:
        return str(self.bucket.bucket)

    @cached_property
    def arn(self) -> str:
        return str(self.bucket.arn)

    def __repr__(self) -> str:
        return f"Bucket({self.node.path})"

    def grant_read_write(self, grantee: Grantable) -> None:
        """Let `grantee` read, write and delete objects in this bucket (and only this bucket), and use its key."""
        grant(self, "ReadWrite", grantee, actions=READ_WRITE_ACTIONS, resources=[self.arn, f"{self.arn}/*"])
        if self.encryption_key is not None:
            self.encryption_key.grant_encrypt_decrypt(grantee, label=node_id(self))


BucketOptions.model_rebuild()  # `access_logs` refers to `Bucket`, defined after the options
