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
