"""AWS naming rules, as pure functions returning what is wrong with a name (empty when valid).

Used by the config models (can `app_name` + `environment` form every resource name?) and by the
constructs (is this explicit name valid?), so each rule is written once.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

_S3_CHARS = re.compile(r"^[a-z0-9.-]+$")
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_LAMBDA_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_SQS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_DYNAMODB_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_EVENT_RULE_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_IAM_ROLE_NAME = re.compile(r"^[\w+=,.@-]+$")
_ELASTICACHE_ID = re.compile(r"^[a-z][a-z0-9-]*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def s3_bucket_name_problems(name: str) -> list[str]:
    """The S3 general-purpose bucket naming rules."""
    problems = []
    if not 3 <= len(name) <= 63:
        problems.append(f"must be 3 to 63 characters long, but is {len(name)}")
    if not _S3_CHARS.match(name):
        problems.append("may contain only lowercase letters, digits, dots and hyphens")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append("must begin and end with a lowercase letter or digit")
    if ".." in name:
        problems.append("must not contain two adjacent dots")
    if _looks_like_ip(name):
        problems.append("must not be formatted as an IP address")
    problems += [f"must not start with {p!r}" for p in _S3_RESERVED_PREFIXES if name.startswith(p)]
    problems += [f"must not end with {s!r}" for s in _S3_RESERVED_SUFFIXES if name.endswith(s)]
    return problems


def _looks_like_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True


def lambda_function_name_problems(name: str) -> list[str]:
    return _length(name, 1, 64) + (
        [] if _LAMBDA_NAME.match(name) else ["may contain only letters, digits, hyphens and underscores"]
    )


def sqs_queue_name_problems(name: str) -> list[str]:
    bare = name.removesuffix(".fifo")
    return _length(name, 1, 80) + (
        []
        if _SQS_NAME.match(bare)
        else ["may contain only letters, digits, hyphens and underscores (and a '.fifo' suffix)"]
    )


def dynamodb_table_name_problems(name: str) -> list[str]:
    return _length(name, 3, 255) + (
        [] if _DYNAMODB_NAME.match(name) else ["may contain only letters, digits, underscores, hyphens and dots"]
    )


def eventbridge_rule_name_problems(name: str) -> list[str]:
    return _length(name, 1, 64) + (
        [] if _EVENT_RULE_NAME.match(name) else ["may contain only letters, digits, dots, hyphens and underscores"]
    )


def iam_role_name_problems(name: str) -> list[str]:
    return _length(name, 1, 64) + (
        [] if _IAM_ROLE_NAME.match(name) else ["may contain only letters, digits and +=,.@_-"]
    )


def elasticache_cluster_id_problems(name: str) -> list[str]:
    return _length(name, 1, 50) + _lower_hyphenated(name)


def rds_identifier_problems(name: str) -> list[str]:
    return _length(name, 1, 63) + _lower_hyphenated(name)


def domain_name_problems(name: str) -> list[str]:
    """A DNS name such as 'api.myapp.com': lowercase labels of 1-63 letters, digits, inner hyphens."""
    problems = _length(name, 3, 253)
    labels = name.removesuffix(".").split(".")
    if len(labels) < 2:
        problems.append("needs at least two labels, e.g. 'myapp.com'")
    bad = [label for label in labels if not _DNS_LABEL.match(label)]
    if bad:
        problems.append(f"has invalid labels {bad}: each must be 1-63 lowercase letters, digits or inner hyphens")
    return problems


def _length(name: str, low: int, high: int) -> list[str]:
    if low <= len(name) <= high:
        return []
    return [f"must be {low} to {high} characters long, but is {len(name)}"]


def _lower_hyphenated(name: str) -> list[str]:
    problems = []
    if not _ELASTICACHE_ID.match(name):
        problems.append("must start with a lowercase letter and contain only lowercase letters, digits, hyphens")
    if name.endswith("-") or "--" in name:
        problems.append("must not end with a hyphen or contain two consecutive hyphens")
    return problems


def name_validator(rule: Callable[[str], list[str]], what: str, fix: str = "") -> Callable[[str], str]:
    """A pydantic `AfterValidator` function applying `rule`: "is not a valid <what>: <reasons>. Fix: ..."."""

    def check(value: str) -> str:
        problems = rule(value)
        if problems:
            raise ValueError(f"is not a valid {what}: {'; '.join(problems)}." + (f" Fix: {fix}" if fix else ""))
        return value

    return check
