"""Deploy-time values: cdktf tokens stand for what Terraform knows only at apply time.

A token is a string holding `${TfToken[...]}` (or a list token `#{TfToken[...]}`), or a number in the
range cdktf reserves for encoded tokens. Validators skip their range and format checks for tokens
(AWS CDK does the same): the value is checked by the cloud when it is known.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidatorFunctionWrapHandler, WrapValidator

_TOKEN_MARKERS = ("${TfToken[", "#{TfToken[", "${")
_NUMBER_TOKEN_MAGNITUDE = 1e280
"""cdktf encodes number tokens as doubles near -1.888e+289."""


def is_token(value: Any) -> bool:
    """Whether `value` is (or holds) a cdktf token, unknown until deploy time."""
    if isinstance(value, str):
        return any(marker in value for marker in _TOKEN_MARKERS)
    if isinstance(value, float | int) and not isinstance(value, bool):
        return abs(value) > _NUMBER_TOKEN_MAGNITUDE
    if isinstance(value, list | tuple):
        return any(is_token(item) for item in value)
    return False


def _skip_tokens(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    return value if is_token(value) else handler(value)


DeployTime = WrapValidator(_skip_tokens)
"""Put last in an `Annotated[...]`: the checks before it are skipped for tokens."""
