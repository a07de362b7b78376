"""`Table`: the guide's DynamoDB table with a string partition key and optional sort key, encrypted
(with a KMS key when given), with optional point-in-time recovery and deletion protection."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated

from pydantic import AfterValidator, Field

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.aws import dynamodb_table
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import node_id, remember
from stacks_cloud.constructs.grants import Grantable, grant
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.core import naming


class TableOptions(Options):
    table_name: Annotated[
        str, AfterValidator(naming.name_validator(naming.dynamodb_table_name_problems, "DynamoDB table name"))
    ]
    """The table's name (unique per region). Required."""
    partition_key: Annotated[str, Field(min_length=1, max_length=255)]
    """The partition key's attribute name (a string)."""
    sort_key: Annotated[str, Field(min_length=1, max_length=255)] | None
    """The sort key's attribute name (a string); None for a table without one."""
    point_in_time_recovery: bool
    """Continuous backups for 35 days. Default: off (the guide turns it on in production)."""
    deletion_protection: bool
    """Refuse to delete the table (even from Terraform) until this is turned off. Default: off."""
    encryption_key: EncryptionKey | None
    """Encrypt with this KMS key. Default: an AWS-owned key."""


READ_WRITE_DATA_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",
)
"""The actions of CDK's `table.grantReadWriteData`."""


@options_signature(TableOptions)
class Table(Construct):
    """A pay-per-request DynamoDB table; keys are strings (the guide's `AttributeType.STRING`).

    Attributes: `table`, `name`, `arn`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str,
        partition_key: str = "pk",
        sort_key: str | None = "sk",
        point_in_time_recovery: bool = False,
        deletion_protection: bool = False,
        encryption_key: EncryptionKey | None = None,
    ) -> None:
        props = validate_options(
            TableOptions,
            scope,
            construct_id,
            {
                "table_name": table_name,
                "partition_key": partition_key,
                "sort_key": sort_key,
                "point_in_time_recovery": point_in_time_recovery,
                "deletion_protection": deletion_protection,
                "encryption_key": encryption_key,
            },
        )
        self.encryption_key = encryption_key
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        keys = [props.partition_key] + ([props.sort_key] if props.sort_key else [])
        self.table = dynamodb_table.DynamodbTable(
            self,
            "Table",
            name=props.table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key=props.partition_key,
            range_key=props.sort_key,
            attribute=[dynamodb_table.DynamodbTableAttribute(name=key, type="S") for key in keys],
            point_in_time_recovery=dynamodb_table.DynamodbTablePointInTimeRecovery(
                enabled=props.point_in_time_recovery
            ),
            server_side_encryption=dynamodb_table.DynamodbTableServerSideEncryption(
                enabled=True, kms_key_arn=encryption_key.arn if encryption_key else None
            ),
            deletion_protection_enabled=props.deletion_protection,
        )

    @cached_property
    def name(self) -> str:
        return str(self.table.name)

    @cached_property
    def arn(self) -> str:
        return str(self.table.arn)

    def grant_read_write_data(self, grantee: Grantable) -> None:
        """Let `grantee` read and write items of this table and its indexes (not manage the table)."""
        grant(
            self, "ReadWriteData", grantee, actions=READ_WRITE_DATA_ACTIONS, resources=[self.arn, f"{self.arn}/index/*"]
        )
        if self.encryption_key is not None:
            self.encryption_key.grant_encrypt_decrypt(grantee, label=node_id(self))
