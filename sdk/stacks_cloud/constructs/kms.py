"""`EncryptionKey`: a customer-managed KMS key with yearly rotation, for a stack's data and logs.

The key policy lets the account administer and use it (IAM policies then decide who may), and lets
CloudWatch Logs in the stack's region encrypt this account's log groups with it. Grants on the
constructs that use the key (`Bucket`, `Table`, `Queue`, `Function`) include the key's permissions.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated

from pydantic import Field

from stacks_cloud.cdk import Construct, Fn, TerraformResourceLifecycle
from stacks_cloud.cdk.aws import kms_alias, kms_key
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._removal import RemovalPolicy
from stacks_cloud.constructs._stack import account_of, partition_of, region_of, remember
from stacks_cloud.constructs.grants import Grantable, grant

ENCRYPT_DECRYPT = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
DECRYPT = ("kms:Decrypt", "kms:DescribeKey")


class KeyOptions(Options):
    alias: Annotated[str, Field(pattern=r"^[A-Za-z0-9/_-]{1,250}$")]
    """The key's alias, without `alias/`."""
    description: Annotated[str, Field(max_length=8192)]
    """What the key protects, shown in the KMS console."""
    deletion_window_days: Annotated[int, Field(ge=7, le=30)]
    """Days between scheduling the key's deletion and its deletion. Default: 30 (the most)."""
    removal_policy: RemovalPolicy
    """RETAIN keeps the key when the stack is destroyed: data it encrypted (a retained bucket, snapshots,
    backups) stays readable. Default: RETAIN, as for the data itself."""


@options_signature(KeyOptions)
class EncryptionKey(Construct):
    """A KMS key (rotation on) and its alias. Attributes: `key`, `arn`, `key_id`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alias: str,
        description: str = "Data and logs of one stack",
        deletion_window_days: int = 30,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        props = validate_options(
            KeyOptions,
            scope,
            construct_id,
            {
                "alias": alias,
                "description": description,
                "deletion_window_days": deletion_window_days,
                "removal_policy": removal_policy,
            },
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        partition, region = partition_of(self), region_of(self)
        account = account_of(self)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersAndIamDecidesUse",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchLogsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Decrypt*",
                        "kms:Describe*",
                        "kms:Encrypt*",
                        "kms:GenerateDataKey*",
                        "kms:ReEncrypt*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:{partition}:logs:{region}:{account}:*"}
                    },
                },
            ],
        }
        self.key = kms_key.KmsKey(
            self,
            "Key",
            description=props.description,
            enable_key_rotation=True,
            deletion_window_in_days=props.deletion_window_days,
            policy=Fn.jsonencode(policy),
            lifecycle=(
                TerraformResourceLifecycle(prevent_destroy=True)
                if props.removal_policy is RemovalPolicy.RETAIN
                else None
            ),
        )
        kms_alias.KmsAlias(self, "Alias", name=f"alias/{props.alias}", target_key_id=self.key.key_id)

    @cached_property
    def arn(self) -> str:
        return str(self.key.arn)

    @cached_property
    def key_id(self) -> str:
        return str(self.key.key_id)

    def grant_encrypt_decrypt(self, grantee: Grantable, label: str = "") -> None:
        """Let `grantee` encrypt and decrypt with this key (what writing encrypted data needs)."""
        grant(self, f"EncryptDecrypt{label}", grantee, actions=ENCRYPT_DECRYPT, resources=[self.arn])

    def grant_decrypt(self, grantee: Grantable, label: str = "") -> None:
        """Let `grantee` decrypt with this key (what reading encrypted data needs)."""
        grant(self, f"Decrypt{label}", grantee, actions=DECRYPT, resources=[self.arn])
