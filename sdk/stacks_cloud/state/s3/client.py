"""The one way the `s3` backend's code talks to AWS: a boto3 client with the state settings' endpoints."""

from __future__ import annotations

from typing import Any, Literal

from stacks_cloud.config import S3StateSettings

Service = Literal["s3", "dynamodb"]


def client(settings: S3StateSettings, service: Service = "s3") -> Any:
    """A boto3 client for `service` in the state bucket's region, at the configured endpoint (an emulator,
    an S3-compatible service), with path-style bucket URLs when `usePathStyle` is set."""
    import boto3  # imported here: synth never needs it
    from botocore.config import Config

    endpoint = getattr(settings.endpoints, service, None) if settings.endpoints else None
    options: dict[str, Any] = {}
    if service == "s3" and settings.use_path_style:
        options["config"] = Config(s3={"addressing_style": "path"})
    return boto3.client(service, region_name=settings.region, endpoint_url=endpoint, **options)
