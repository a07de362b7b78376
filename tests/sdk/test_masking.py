"""What the masker takes for a secret, rule by rule, and that it never stalls on long input."""

from __future__ import annotations

import time

import pytest

from stacks_cloud.core.secrets import MASK, redact_text


@pytest.mark.parametrize(
    "line",
    [
        "FAILED CKV_AWS_149 stack/Cache/AuthToken: Ensure that Secrets Manager secret is encrypted",
        "botocore.credentials: Found credentials in environment variables",
        "aws_vpc_endpoint.Endpoint-secretsmanager: Creation complete after 2s",
        "the password is not shown here",
    ],
)
def test_ordinary_words_are_never_masked(line: str) -> None:
    assert redact_text(line) == line


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("password=hunter2 in a log line", f"password={MASK} in a log line"),
        ("DB_PASSWORD=secret", f"DB_PASSWORD={MASK}"),  # after `=`, any value
        ("password: hunter2", f"password: {MASK}"),  # after `:`, a value that is not a plain word
        ("client_secret: 'x9f-77'", f"client_secret: '{MASK}'"),
        ("GITHUB_TOKEN: ghp_1234abcd", f"GITHUB_TOKEN: {MASK}"),
        ("redis://:pw1234@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        ("https://hooks.slack.com/services/T0/B0/XyZ", f"https://hooks.slack.com/{MASK}"),
    ],
)
def test_secret_looking_values_are_masked(line: str, masked: str) -> None:
    assert redact_text(line) == masked


@pytest.mark.parametrize(
    "text",
    [
        "h" * 5_000_000,  # a 5 MB handler name in a config error
        "a-" * 2_500_000,  # every other character a token boundary
        "x" * 5_000_000 + "password=1",
        "http" * 1_250_000,
    ],
)
def test_masking_five_megabytes_does_not_stall(text: str) -> None:
    # Not a speed target (bench/ has those): a pattern that backtracks takes minutes on this input (the
    # CLI was killed after 300 s), a linear one a fraction of a second; 10 s tells them apart on any machine.
    started = time.monotonic()
    redact_text(text)
    assert time.monotonic() - started < 10
