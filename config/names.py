"""The names the app's resources get in one region, written once for the stacks and the config checks.

S3 bucket and IAM role names are global to an AWS account (buckets: to all of AWS), so they carry
the region: the same stack can then run in several regions without collisions, and enabling
multi-region later renames nothing. DynamoDB, SQS and Lambda names are per region and do not.
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
        return f"{self.app_name}-{self.environment}"

    @property
    def assets_bucket(self) -> str:
        return f"{self.prefix}-assets-{self.region}"

    @property
    def table(self) -> str:
        return self.prefix

    @property
    def queue(self) -> str:
        return f"{self.prefix}-jobs"

    @property
    def api_function(self) -> str:
        return self.function("api")

    def function(self, name: str) -> str:
        """A Lambda function's name: `<app>-<env>-<name>`."""
        return f"{self.prefix}-{name}"

    def role(self, function_name: str) -> str:
        """The execution role of `function_name` in this region: `<function>-<region>`."""
        return f"{function_name}-{self.region}"
