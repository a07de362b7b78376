"""Keep secrets out of messages: what counts as a secret key, and how values are masked."""

from __future__ import annotations

import re
from typing import Any

from pydantic import SecretStr

SECRET_KEY = re.compile(r"(api_?key|apikey|token|secret|password|passwd|webhook|credential)", re.IGNORECASE)
"""Setting names whose values are treated as secrets."""

MASK = "**********"


def redact(value: Any) -> Any:
    """A copy of `value` with secret-looking dict entries and `SecretStr`s masked, for messages."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {
            key: (MASK if isinstance(key, str) and SECRET_KEY.search(key) and item is not None else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(item) for item in value)
    return value


_URL_PASSWORD = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.IGNORECASE
)
_SECRET_ASSIGNMENT = re.compile(
    r"(?P<key>[A-Za-z0-9_.-]*(?:api_?key|apikey|token|secret|password|passwd|credential)[A-Za-z0-9_.-]*)"
    r"(?P<sep>\s*[=:]\s*)(?P<quote>[\"']?)(?P<value>[^\s\"',;]+)",
    re.IGNORECASE,
)
_WEBHOOK_PATH = re.compile(r"(https://hooks\.slack\.com/)[^\s\"']+")


def redact_text(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """`text` with secrets masked: the given values, passwords in URLs (`redis://:pw@host`), Slack webhook
    paths, and `key=value` / `key: value` pairs whose key looks secret. For logs and error messages."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _WEBHOOK_PATH.sub(lambda m: f"{m[1]}{MASK}", text)
    return _SECRET_ASSIGNMENT.sub(lambda m: f"{m['key']}{m['sep']}{m['quote']}{MASK}", text)
