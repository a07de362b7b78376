"""How an app's resources are named in one region, written once for the stacks and the config checks.

Every name starts with `<app>-<env>`. S3 bucket and IAM role names are global to an AWS account
(buckets: to all of AWS), so they carry the region: the same stack can then run in several regions
without collisions, and enabling multi-region later renames nothing. DynamoDB, SQS and Lambda names
are per region and do not.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceNames:
    app_name: str
    environment: str
    region: str

    @property
    def prefix(self) -> str:
        """`<app>-<env>`: the start of every name."""
        return f"{self.app_name}-{self.environment}"

    def name(self, purpose: str = "") -> str:
        """A per-region name (table, queue, cluster): `<app>-<env>` or `<app>-<env>-<purpose>`."""
        return f"{self.prefix}-{purpose}" if purpose else self.prefix

    def bucket(self, purpose: str) -> str:
        """An S3 bucket's account-global name: `<app>-<env>-<purpose>-<region>`."""
        return f"{self.prefix}-{purpose}-{self.region}"

    def function(self, name: str) -> str:
        """A Lambda function's name: `<app>-<env>-<name>`."""
        return f"{self.prefix}-{name}"

    def role(self, function_name: str) -> str:
        """The execution role of `function_name` in this region (account-global): `<function>-<region>`."""
        return f"{function_name}-{self.region}"
