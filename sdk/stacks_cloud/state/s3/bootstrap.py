"""Create the S3 state bucket (and the optional DynamoDB lock table) when missing; leave existing ones alone.

The bucket is created the way state buckets should be: versioned (every state write can be
recovered), encrypted by default, public access blocked, and a bucket policy that refuses any
request not made over TLS. The lock table has the `LockID` string hash key Terraform expects and
on-demand billing.

    from stacks_cloud.state.s3 import bootstrap_state
    report = bootstrap_state(config.state.s3)
    print(report)  # "created bucket acme-tfstate (versioning, encryption, ...)" or "nothing to create"
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stacks_cloud.config import S3StateSettings
from stacks_cloud.core.errors import CloudProviderError
from stacks_cloud.state.s3.client import Service, client

ClientFactory = Callable[..., Any]
"""`boto3.client`-compatible: `factory(service_name, region_name=..., endpoint_url=...)`."""


@dataclass
class BootstrapReport:
    """What `bootstrap_state` did: names of what it created, and of what already existed."""

    bucket: str
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created)

    def __str__(self) -> str:
        if not self.created:
            return f"state backend ready, nothing to create ({', '.join(self.existing)} already exist)"
        return "created " + "; ".join(self.created)


def bootstrap_state(
    settings: S3StateSettings, *, client_factory: ClientFactory | None = None, enforce_tls: bool | None = None
) -> BootstrapReport:
    """Make sure the state bucket (and lock table, with `locking="dynamodb"`) exist; report what was created.

    Idempotent: an existing bucket or table is reported and not modified. Credentials come from
    the usual AWS environment (profile, variables, role). Failures raise `CloudProviderError`.

    `enforce_tls` adds the bucket policy that denies non-TLS requests. Default: on, except when the
    configured S3 endpoint is plain `http://` (an emulator), where that policy would deny every
    request Terraform makes; the report says so.
    """
    if enforce_tls is None:
        enforce_tls = not (settings.endpoints and (settings.endpoints.s3 or "").startswith("http://"))
    endpoints = settings.endpoints

    def make(service: Service) -> Any:
        if client_factory is None:
            return client(settings, service)
        return client_factory(service, region_name=settings.region, endpoint_url=getattr(endpoints, service, None))

    s3 = make("s3")
    report = BootstrapReport(bucket=settings.bucket)
    try:
        _ensure_bucket(s3, settings, report, enforce_tls=enforce_tls)
        if settings.locking == "dynamodb" and settings.dynamodb_table:
            dynamodb = make("dynamodb")
            _ensure_lock_table(dynamodb, settings.dynamodb_table, report)
    except Exception as error:
        if isinstance(error, CloudProviderError):
            raise
        raise CloudProviderError(
            f"could not bootstrap the state bucket {settings.bucket!r} in {settings.region}: {error}",
            provider="aws",
            stack=None,
        ) from error
    return report


def _exists(call: Callable[[], Any], missing_codes: tuple[str, ...]) -> bool:
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in missing_codes:
            return False
        raise
    return True


def _ensure_bucket(s3: Any, settings: S3StateSettings, report: BootstrapReport, *, enforce_tls: bool) -> None:
    bucket = settings.bucket
    if _exists(lambda: s3.head_bucket(Bucket=bucket), ("404", "NoSuchBucket", "NotFound")):
        report.existing.append(f"bucket {bucket}")
        return
    create: dict[str, Any] = {"Bucket": bucket}
    if settings.region != "us-east-1":  # us-east-1 rejects an explicit LocationConstraint
        create["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    s3.create_bucket(**create)
    s3.get_waiter("bucket_exists").wait(Bucket=bucket, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rule: dict[str, Any] = (
        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": settings.kms_key_id}
        if settings.kms_key_id
        else {"SSEAlgorithm": "AES256"}
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": rule, "BucketKeyEnabled": bool(settings.kms_key_id)}]
        },
    )
    features = "versioning, encryption, public access block"
    if enforce_tls:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(tls_only_policy(bucket)))
        features += ", TLS-only policy"
    else:
        features += "; no TLS-only policy: the S3 endpoint is plain HTTP"
    report.created.append(f"bucket {bucket} ({features})")


def tls_only_policy(bucket: str) -> dict[str, Any]:
    """A bucket policy denying every request that is not made over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _ensure_lock_table(dynamodb: Any, table: str, report: BootstrapReport) -> None:
    if _exists(lambda: dynamodb.describe_table(TableName=table), ("ResourceNotFoundException",)):
        report.existing.append(f"lock table {table}")
        return
    dynamodb.create_table(
        TableName=table,
        AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True},
    )
    dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    report.created.append(f"lock table {table} (LockID hash key, on-demand, encrypted)")
