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
        "Bearer authentication is used; Basic authentication is not",
        "Token refreshed successfully",
        "partitionKey: pk, sortKey: sk",
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
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", f"Authorization: Bearer {MASK}"),
        ('-H "Authorization: Basic dXNlcjpwYXNz"', f'-H "Authorization: Basic {MASK}"'),
        ("passcode=482913", f"passcode={MASK}"),
        ("jwt: eyJ0.eyJ1.c2ln", f"jwt: {MASK}"),
        ("session_key=a1b2c3d4e5", f"session_key={MASK}"),
        ("license-key=ABCD-1234", f"license-key={MASK}"),
        ("x-api-key: k3y-v4lue", f"x-api-key: {MASK}"),
        ("private_key=MIIEvQIBADANB", f"private_key={MASK}"),
        ("cookie=sid%3D12345", f"cookie={MASK}"),
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


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        # one line per rule of SECRET_KEY (README "Secrets are masked by value")
        ("apiKey", True),
        ("x-api-key", True),
        ("authToken", True),
        ("clientSecret", True),
        ("password", True),
        ("dbPasswd", True),
        ("pwd", True),
        ("passcode", True),
        ("passphrase", True),
        ("webhookUrl", True),
        ("awsCredentials", True),
        ("sentryDsn", True),
        ("privateKey", True),
        ("accessKey", True),
        ("signingKey", True),
        ("sessionKey", True),
        ("licenseKey", True),
        ("connectionString", True),
        ("Authorization", True),
        ("bearer", True),
        ("jwt", True),
        ("sessionCookie", True),
        ("auth", True),
        ("stripeKey", True),  # any name ending in key...
        ("key", True),
        ("STRIPE_SECRET_KEY", True),
        ("partitionKey", False),  # ...but those naming a key, not a secret (NOT_SECRET_KEYS)
        ("sortKey", False),
        ("publicKey", False),
        ("kmsKey", False),
        ("encryptionKey", False),
        ("cacheKey", False),
        ("objectKey", False),
        ("monkey", False),
        ("author", False),
        ("hostedZone", False),
    ],
)
def test_what_counts_as_a_secret_key(key: str, secret: bool) -> None:
    from stacks_cloud.core.secrets import looks_secret

    assert looks_secret(key) is secret


@pytest.mark.parametrize("secret", ['quo"te-secret-1', "back\\slash-secret-2", "tab\tsecret-3", "non-ascii-sécret-4"])
def test_the_ledger_masks_before_it_encodes(secret: str) -> None:
    """json.dumps would write `\\"`, `\\\\`, `\\t` or `\\u00e9`, which the registered value no longer matches."""
    import json

    from stacks_cloud.core.secrets import register_secret
    from stacks_cloud.state.ledger import masked

    register_secret(secret)
    value = {"outputs": {"Note": f"has {secret} in it"}, "list": [secret], "n": 3, "ok": True}
    assert masked(value) == {"outputs": {"Note": f"has {MASK} in it"}, "list": [MASK], "n": 3, "ok": True}
    assert secret not in json.dumps(masked(value), ensure_ascii=False)
    snapshot = masked({"custom": {"headers": {"Authorization": "Bearer-less value 42"}}}, by_key=True)
    assert snapshot == {"custom": {"headers": {"Authorization": MASK}}}


def test_secret_looking_environment_variables_are_registered_by_value() -> None:
    from stacks_cloud.core.secrets import register_secret_environment

    names = register_secret_environment(
        {"STRIPE_SECRET_KEY": "sk_live_env_1234567", "MY_TOKEN": "true", "HOME": "/home/someone-else"}
    )
    assert names == ["STRIPE_SECRET_KEY"]  # `true` is too short to be masked by value, HOME is no secret
    assert redact_text("charged with sk_live_env_1234567") == f"charged with {MASK}"
    assert redact_text("/home/someone-else") == "/home/someone-else"


def test_a_hooks_secrets_are_registered_before_any_hook_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from stacks_cloud import from_env
    from stacks_cloud.hooks import flush_redis, notify_slack, rollback_and_notify
    from stacks_cloud.hooks.base import register_hook_secrets

    monkeypatch.setenv("MY_WEBHOOK", "https://chat.example.com/hook/abc-123-def")
    hooks = [
        rollback_and_notify(notify_slack(from_env("MY_WEBHOOK"))),
        flush_redis("rediss://cache.example.com:6379/0?token=zz9-plural-z-alpha"),
        notify_slack(from_env("UNSET_WEBHOOK_VARIABLE")),  # unset: reported by the hook when it runs
    ]
    assert redact_text("https://chat.example.com/hook/abc-123-def") != MASK
    register_hook_secrets(hooks)
    assert redact_text("error: https://chat.example.com/hook/abc-123-def") == f"error: {MASK}"
    assert MASK in redact_text("rediss://cache.example.com:6379/0?token=zz9-plural-z-alpha")


def test_locations_are_never_taken_for_secret_environment_values(tmp_path: object) -> None:
    """`PWD` matches the `pwd` rule, and the working folder must stay readable (`cloud env` prints it)."""
    from stacks_cloud.core.secrets import register_secret_environment

    folder = str(tmp_path)
    names = register_secret_environment(
        {"PWD": folder, "OLDPWD": "/somewhere/else-entirely", "CERT_PASSWORD_FILE": folder, "DB_PWD": "pwd-v4lue-99"}
    )
    assert names == ["DB_PWD"]
    assert redact_text(f"cd {folder}") == f"cd {folder}"
    assert redact_text("/somewhere/else-entirely") == "/somewhere/else-entirely"
