"""The app's own config sections: what the guide's `CustomStack` hard-codes, with its values as defaults.

`AppConfig` (in `config/cloud.py`) adds them to the SDK's `CloudConfig`; they validate like the
SDK's sections (camelCase or snake_case keys, every problem in one `ConfigError`).
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from stacks_cloud.config import Model
from stacks_cloud.core.types import Handler, LambdaTimeout, MemorySize, ProjectPath, ScheduleExpression


class ApiSettings(Model):
    """The app's API function (the guide's `CustomApi` in `CustomStack`)."""

    authorization: Literal["NONE", "AWS_IAM"] = "NONE"
    """Who may call the API. Default: NONE, anyone: the guide's API is public and authenticates its
    users itself (the policy gate asks for the suppression that says so). AWS_IAM: signed requests."""
    handler: Handler = "index.handler"
    """`file.function` in the code folder. Default: index.handler (the guide's)."""
    memory_size: MemorySize = 512
    """MB. Default: 512 (the guide's)."""
    timeout: LambdaTimeout = timedelta(seconds=30)
    """Seconds. Default: 30 (the guide's)."""
    code_path: ProjectPath = "dist"
    """Folder zipped as the function's code, relative to the project. Default: dist (the guide's `./dist`)."""
    reserved_concurrency: Annotated[int, Field(ge=1, le=10_000)] | None = None
    """Concurrent executions reserved for (and capping) the API. Default: 100 in production, none elsewhere
    (a new account's whole quota can be 10)."""


class JobsSettings(Model):
    """The app's background jobs queue (the guide's `JobsQueue` in `CustomStack`)."""

    visibility_timeout: Annotated[timedelta, Field(ge=timedelta(0), le=timedelta(hours=12))] = timedelta(seconds=300)
    """How long a received job stays hidden from other workers. Default: 300 s (the guide's)."""
    retention_period: Annotated[timedelta, Field(ge=timedelta(minutes=1), le=timedelta(days=14))] = timedelta(days=14)
    """How long an unprocessed job is kept. Default: 14 days (the guide's)."""


class ScheduledFunctionSettings(Model):
    """A function run on a schedule (the guide's `addScheduledFunction`)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9]*$", max_length=40)]
    """Construct id, e.g. 'DailyCleanup' (stable: renaming replaces the function)."""
    schedule: ScheduleExpression
    """EventBridge `cron(...)` (six fields, UTC) or `rate(N unit)`, e.g. 'cron(0 0 * * ? *)'."""
    handler: Handler
    """`file.function`, e.g. 'cleanup.handler'."""
    memory_size: MemorySize = 128
    """MB. Default: 128 (the guide's)."""
    code_path: ProjectPath = "dist/functions"
    """Default: dist/functions (the guide's `./dist/functions`)."""


class Engine(StrEnum):
    MYSQL = "mysql"
    POSTGRES = "postgres"
    MARIADB = "mariadb"


class DatabaseSettings(Model):
    """An RDS instance in the app's VPC (the guide's `addRdsDatabase`)."""

    instance_type: Annotated[str, Field(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")] = "db.t3.small"
    engine: Engine = Engine.MYSQL
    multi_az: bool | None = None
    """A standby in another zone. Default: on in production, off elsewhere."""


class CacheSettings(Model):
    """Redis in the app's VPC (the guide's `addRedisCluster`)."""

    node_type: Annotated[str, Field(pattern=r"^cache\.[a-z0-9]+\.[a-z0-9]+$")] = "cache.t3.micro"
    num_cache_nodes: Annotated[int, Field(ge=1, le=6)] | None = None
    """Nodes (a primary and replicas; two or more fail over). Default: 2 in production, 1 elsewhere."""
