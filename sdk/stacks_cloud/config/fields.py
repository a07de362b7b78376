"""Typed fields shared by the config sections: the app and environment names, domain names, endpoints."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from stacks_cloud.core import naming

_APP_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_ENVIRONMENT = re.compile(r"^[a-z][a-z0-9-]*$")


def _check_app_name(value: str) -> str:
    if not _APP_NAME.match(value) or "--" in value:
        suggestion = re.sub(r"-+", "-", re.sub(r"[^a-z0-9-]", "-", value.lower())).strip("-") or "my-app"
        raise ValueError(
            "must be lowercase letters, digits and single hyphens, start with a letter and end with a"
            f" letter or digit, because it prefixes S3, Lambda and DynamoDB names. Fix: use e.g. {suggestion!r}."
        )
    return value


def _check_environment(value: str) -> str:
    if not _ENVIRONMENT.match(value) or value.endswith("-") or "--" in value:
        raise ValueError(
            "must be lowercase letters, digits and single hyphens starting with a letter."
            " Fix: use e.g. 'development', 'staging' or 'production'."
        )
    return value


AppName = Annotated[str, Field(min_length=2, max_length=40), AfterValidator(_check_app_name)]
EnvironmentName = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_check_environment)]

PRODUCTION = "production"
"""The environment whose resources are kept on destroy and get point-in-time recovery (as in the guide)."""


DomainName = Annotated[
    str,
    BeforeValidator(lambda value: value.lower().removesuffix(".") if isinstance(value, str) else value),
    AfterValidator(naming.name_validator(naming.domain_name_problems, "domain name", "use e.g. 'api.myapp.com'.")),
]
"""A DNS name such as 'api.myapp.com' (lower-cased, trailing dot removed)."""


def _no_credentials(value: str) -> str:
    if "@" in value.split("://", 1)[-1].split("/", 1)[0]:
        raise ValueError(
            "carries credentials in the URL. Fix: remove `user:password@`; AWS calls are signed with the"
            " credentials of the environment (AWS_PROFILE, AWS_ACCESS_KEY_ID), never with the endpoint"
        )
    return value


HttpEndpoint = Annotated[str, Field(pattern=r"^https?://[^\s/]+(/\S*)?$"), AfterValidator(_no_credentials)]
"""An http(s) URL without credentials, e.g. an emulator at http://127.0.0.1:5000."""
