"""`Queue`: the guide's SQS queue for background jobs: encrypted (with a KMS key when given, else
SQS-managed keys), and, given a dead-letter queue, messages that fail `max_receive_count` times move there
instead of being retried forever."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field

from stacks_cloud.cdk import Construct, Fn
from stacks_cloud.cdk.aws import sqs_queue
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import node_id, remember
from stacks_cloud.constructs.grants import Grantable, grant
from stacks_cloud.constructs.kms import EncryptionKey
from stacks_cloud.core import naming


def _seconds(value: Any) -> Any:
    return timedelta(seconds=value) if isinstance(value, int) and not isinstance(value, bool) else value


def _between(low: timedelta, high: timedelta, what: str) -> Any:
    def check(value: timedelta) -> timedelta:
        if not low <= value <= high:
            raise ValueError(
                f"{what} must be between {low.total_seconds():g} and {high.total_seconds():g} seconds,"
                f" but {value.total_seconds():g} was provided."
            )
        return value

    return AfterValidator(check)


class QueueOptions(Options):
    queue_name: Annotated[str, AfterValidator(naming.name_validator(naming.sqs_queue_name_problems, "SQS queue name"))]
    """The queue's name (unique per region). Required."""
    visibility_timeout: Annotated[
        timedelta, BeforeValidator(_seconds), _between(timedelta(0), timedelta(hours=12), "visibility timeout")
    ]
    """Default: 30 s (SQS's)."""
    retention_period: Annotated[
        timedelta, BeforeValidator(_seconds), _between(timedelta(minutes=1), timedelta(days=14), "retention period")
    ]
    """Default: 4 days (SQS's)."""
    encryption_key: EncryptionKey | None
    """Encrypt messages with this KMS key. Default: SQS-managed keys."""
    dead_letter_queue: Queue | None
    """Where messages go after `max_receive_count` failed receives. Default: none."""
    max_receive_count: Annotated[int, Field(ge=1, le=1000)]
    """Receives before a message moves to the dead-letter queue. Default: 5."""


SEND_MESSAGES_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
"""The actions of CDK's `queue.grantSendMessages` (plus the key's, when the queue has one)."""
CONSUME_MESSAGES_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueUrl",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
)
"""The actions of CDK's `queue.grantConsumeMessages`."""


@options_signature(QueueOptions)
class Queue(Construct):
    """An SQS queue with server-side encryption. Attributes: `queue`, `name`, `arn`, `url`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue_name: str,
        visibility_timeout: int | timedelta = timedelta(seconds=30),
        retention_period: int | timedelta = timedelta(days=4),
        encryption_key: EncryptionKey | None = None,
        dead_letter_queue: Queue | None = None,
        max_receive_count: int = 5,
    ) -> None:
        props = validate_options(
            QueueOptions,
            scope,
            construct_id,
            {
                "queue_name": queue_name,
                "visibility_timeout": visibility_timeout,
                "retention_period": retention_period,
                "encryption_key": encryption_key,
                "dead_letter_queue": dead_letter_queue,
                "max_receive_count": max_receive_count,
            },
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.encryption_key = props.encryption_key
        key = props.encryption_key
        dlq = props.dead_letter_queue
        self.queue = sqs_queue.SqsQueue(
            self,
            "Queue",
            name=props.queue_name,
            visibility_timeout_seconds=int(props.visibility_timeout.total_seconds()),
            message_retention_seconds=int(props.retention_period.total_seconds()),
            sqs_managed_sse_enabled=None if key else True,
            kms_master_key_id=key.arn if key else None,
            kms_data_key_reuse_period_seconds=300 if key else None,
            redrive_policy=(
                Fn.jsonencode({"deadLetterTargetArn": dlq.arn, "maxReceiveCount": props.max_receive_count})
                if dlq is not None
                else None
            ),
        )

    @cached_property
    def name(self) -> str:
        return str(self.queue.name)

    @cached_property
    def arn(self) -> str:
        return str(self.queue.arn)

    @cached_property
    def url(self) -> str:
        return str(self.queue.url)

    def grant_send_messages(self, grantee: Grantable) -> None:
        """Let `grantee` send messages to this queue (not receive or delete them)."""
        grant(self, "SendMessages", grantee, actions=SEND_MESSAGES_ACTIONS, resources=[self.arn])
        if self.encryption_key is not None:
            self.encryption_key.grant_encrypt_decrypt(grantee, label=node_id(self))

    def grant_consume_messages(self, grantee: Grantable) -> None:
        """Let `grantee` receive, and delete, messages of this queue."""
        grant(self, "ConsumeMessages", grantee, actions=CONSUME_MESSAGES_ACTIONS, resources=[self.arn])
        if self.encryption_key is not None:
            self.encryption_key.grant_decrypt(grantee, label=node_id(self))


QueueOptions.model_rebuild()  # `dead_letter_queue` refers to `Queue`, defined after the options
