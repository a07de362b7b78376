"""`LogGroup`: a CloudWatch Logs group with retention and, given a key, encryption."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field

from stacks_cloud.cdk import Construct
from stacks_cloud.cdk.aws import cloudwatch_log_group
from stacks_cloud.constructs._options import Options, options_signature, validate_options
from stacks_cloud.constructs._stack import remember

RetentionDays = Literal[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653
]
"""The retention periods CloudWatch Logs accepts."""
DEFAULT_RETENTION_DAYS: RetentionDays = 365
"""One year: long enough for an incident review or an audit; logs never expire otherwise."""


class LogGroupOptions(Options):
    name: Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_\-/.#]+$")]
    """The log group's name, e.g. /aws/lambda/<function>. Required."""
    retention_days: RetentionDays
    """Default: 365."""
    key_arn: str | None
    """Encrypt with this KMS key. Default: CloudWatch Logs' own encryption."""


@options_signature(LogGroupOptions)
class LogGroup(Construct):
    """Attributes: `group`, `name`, `arn`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        key_arn: str | None = None,
    ) -> None:
        props = validate_options(
            LogGroupOptions, scope, construct_id, {"name": name, "retention_days": retention_days, "key_arn": key_arn}
        )
        super().__init__(scope, construct_id)
        remember(self, scope, construct_id)
        self.group = cloudwatch_log_group.CloudwatchLogGroup(
            self, "Group", name=props.name, retention_in_days=props.retention_days, kms_key_id=props.key_arn
        )

    @cached_property
    def name(self) -> str:
        return str(self.group.name)

    @cached_property
    def arn(self) -> str:
        return str(self.group.arn)
