"""IAM documents the constructs share."""

from __future__ import annotations

import json


def assume_role_policy(service: str, *, compact: bool = False) -> str:
    """The trust policy that lets the AWS service `service` (e.g. `lambda.amazonaws.com`) assume a role.

    `compact`: without spaces after separators (the function role's form since 0.1; changing the text
    would show as a diff on every deployed role)."""
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }
    return json.dumps(document, separators=(",", ":")) if compact else json.dumps(document)
