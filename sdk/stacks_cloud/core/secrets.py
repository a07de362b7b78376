"""Keep secrets out of everything the SDK writes: one masker, fed by value and by pattern.

Every secret the process resolves is registered once (`register_secret`): the values of `SecretStr`
fields when a config is validated, `from_env(...)` values when they are read into secret fields or
from secret-looking variables, provider-section keys that look secret, the Redis URL a hook is given.
`redact_text` then masks those values (and their URL-encoded forms) wherever text leaves the
process: log records (`MaskingFilter`), CLI output (`MaskingStream`), ledger writes, error messages
(`CloudError` texts) and notification texts. Patterns catch what was never registered: a password in
a URL (`redis://:pw@host`), a Slack webhook path, `password=...` pairs.
"""

from __future__ import annotations

import io
import logging
import os
import re
import select
import sys
import threading
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

from pydantic import BaseModel, SecretStr

SECRET_KEY = re.compile(
    r"(api_?key|apikey|token|secret|password|passwd|pwd|passcode|passphrase|webhook|credential|dsn"
    r"|private_?key|access_?key|signing_?key|session_?key|license_?key|licence_?key|connection_?string"
    r"|authorization|bearer|jwt|cookie|(^|_)auth($|_)|(^|_)key$)",
    re.IGNORECASE,
)
"""Setting names whose values are treated as secrets, matched on the name in snake_case (camelCase and
`kebab-case` are converted first): any name containing api key, token, secret, password, passwd, pwd,
passcode, passphrase, webhook, credential, dsn, private/access/signing/session/license key, connection
string, authorization, bearer, jwt or cookie; `auth` as a word; and any name ending in `key` (`apiKey`,
`x-api-key`, `licenseKey`, `stripeKey`), but for the names in `NOT_SECRET_KEYS`."""

NOT_SECRET_KEYS = re.compile(
    r"(^|_)(partition|sort|hash|range|primary|foreign|public|idempotency|cache|object|route|dedup"
    r"|deduplication|group|kms|encryption|s3|ssh_public|unique|lookup|index|tag)_key$",
    re.IGNORECASE,
)
"""Names ending in `key` that name a key, not a secret: DynamoDB's `partitionKey`/`sortKey`, `publicKey`,
`kmsKey`, `encryptionKey` (an ARN), `cacheKey`, `objectKey` and the like."""

MASK = "**********"
MIN_SECRET_LENGTH = 4
"""Shorter values are not masked by value (they would mask common words); patterns still apply."""


def looks_secret(key: str) -> bool:
    """Whether a setting named `key` holds a secret (camelCase, snake_case and kebab-case alike)."""
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).replace("-", "_").replace(" ", "_")
    if NOT_SECRET_KEYS.search(snake):
        return False
    return bool(SECRET_KEY.search(snake) or SECRET_KEY.search(key))


MIN_ENVIRONMENT_SECRET_LENGTH = 8
"""An environment variable's value is registered from this length on (`TOKEN=true` must not mask "true")."""


def register_secret_environment(environ: dict[str, str] | None = None) -> list[str]:
    """Register the value of every environment variable whose name looks secret (`STRIPE_SECRET_KEY`,
    `GITHUB_TOKEN`, `DB_PASSWORD`, `TF_TOKEN_app_terraform_io`), before anything runs that could print
    one; the names registered."""
    names = []
    for name, value in (os.environ if environ is None else environ).items():
        if name.upper() in NOT_SECRET_VARIABLES or not looks_secret(name):
            continue
        if len(value) < MIN_ENVIRONMENT_SECRET_LENGTH or os.path.exists(value):  # a file or folder: a location
            continue
        MASKER.register(value)
        names.append(name)
    return names


NOT_SECRET_VARIABLES = frozenset({"PWD", "OLDPWD", "SSH_AUTH_SOCK", "GPG_AGENT_INFO", "XAUTHORITY"})
"""Variables whose names match the secret rule but that hold where things are (`PWD` has "pwd")."""


class Masker:
    """The registry of secret values, and the function that masks them in text. Thread-safe."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._ordered: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def register(self, value: str | SecretStr | None) -> None:
        """Mask `value` (and its URL-encoded forms) from now on. None and short values are ignored."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(raw, str) or len(raw) < MIN_SECRET_LENGTH:
            return
        forms = {raw, quote(raw, safe=""), quote_plus(raw)}
        with self._lock:
            if forms <= self._values:
                return
            self._values |= {form for form in forms if len(form) >= MIN_SECRET_LENGTH}
            self._ordered = tuple(sorted(self._values, key=len, reverse=True))

    def mask(self, text: str) -> str:
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def __contains__(self, value: str) -> bool:
        return value in self._values


MASKER = Masker()
"""The process's one masker."""


def register_secret(value: str | SecretStr | None) -> None:
    """Register a secret value with the process's masker (see `Masker.register`)."""
    MASKER.register(value)


def register_secrets_in(value: Any, *, _seen: set[int] | None = None) -> None:
    """Register every `SecretStr` in `value` (models, their extras, dicts, lists), at any depth."""
    seen = _seen if _seen is not None else set()
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, SecretStr):
        MASKER.register(value)
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            register_secrets_in(getattr(value, name, None), _seen=seen)
        for item in (value.model_extra or {}).values():
            register_secrets_in(item, _seen=seen)
    elif isinstance(value, dict):
        for item in value.values():
            register_secrets_in(item, _seen=seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            register_secrets_in(item, _seen=seen)


def protect_secret_keys(value: Any) -> Any:
    """`value` with every string under a secret-looking key, at any depth, made a registered `SecretStr`."""
    if isinstance(value, dict):
        protected: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and looks_secret(key) and isinstance(item, str):
                MASKER.register(item)
                protected[key] = SecretStr(item)
            else:
                protected[key] = protect_secret_keys(item)
        return protected
    if isinstance(value, list):
        return [protect_secret_keys(item) for item in value]
    if isinstance(value, tuple):
        return tuple(protect_secret_keys(item) for item in value)
    return value


def redact(value: Any) -> Any:
    """A copy of `value` with secret-looking dict entries and `SecretStr`s masked, for messages."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {
            key: (MASK if isinstance(key, str) and looks_secret(key) and item is not None else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact(item) for item in value)
    if isinstance(value, str):
        return redact_text(value)
    return value


_TOKEN_START = r"(?<![A-Za-z0-9_.+-])"
"""Matches start only where a token starts, and their quantifiers are possessive (`*+`, `++`): no pattern
backtracks, so masking stays linear in the size of the text (a 5 MB line takes milliseconds)."""
_URL_PASSWORD = re.compile(
    _TOKEN_START + r"(?P<scheme>[a-z][a-z0-9+.-]*+://)(?P<user>[^:/@\s]*+):(?P<password>[^@/\s]++)@", re.IGNORECASE
)
_ASSIGNMENT_KEY = re.compile(_TOKEN_START + r"(?P<key>[A-Za-z0-9_.-]++)(?P<sep>\s*+[=:]\s*+)")
_ASSIGNED_VALUE = re.compile(r"(?P<quote>[\"']?)(?P<value>[^\s\"',;]++)")
_SECRET_KEY_END = re.compile(
    # the key ends with the secret word (`DB_PASSWORD=`, `client_secret:`), so that names that merely
    # contain one (`aws_vpc_endpoint.Endpoint-secretsmanager: Creation complete`) are left alone
    r"(?:api[_-]?key|apikey|access[_-]?key|private[_-]?key|signing[_-]?key|session[_-]?key|license[_-]?key"
    r"|token|secret|password|passwd|passcode|credential|dsn|jwt|cookie)s?$",
    re.IGNORECASE,
)
_BEARER = re.compile(
    r"(?<![A-Za-z0-9_])(?P<scheme>[Bb]earer|[Bb]asic)(?P<space>\s++)"
    # a credential has a digit or a symbol, or an uppercase letter after a lowercase one; a word has neither
    r"(?P<value>(?=[A-Za-z]*+[0-9._~+/=-]|[A-Za-z]*?[a-z][A-Z])[A-Za-z0-9._~+/=-]{8,}+)"
)
"""An HTTP credential after its scheme (`Authorization: Bearer eyJ...`, `Basic dXNlcjpw...`): masked
wherever it appears, whatever the header's name; a plain word after it (`Bearer authentication`) is prose."""
_PLAIN_WORD = re.compile(r"[A-Za-z][a-z]*+")
"""A value of letters only, capitalised or not: after `key:`, prose (`AuthToken: Ensure that ...`,
`botocore.credentials: Found credentials ...`), not a secret. After `key=` any value counts."""
_WEBHOOK_PATH = re.compile(r"(https://hooks\.slack\.com/)[^\s\"']++")


def _mask_assignments(text: str) -> str:
    """`key=value` and `key: value` pairs whose key ends with a secret word, their value masked. A key that
    is not secret leaves its value to be read again (`Invalid value: password=...`)."""
    parts: list[str] = []
    done = 0
    for key in _ASSIGNMENT_KEY.finditer(text):
        if key.start() < done or not _SECRET_KEY_END.search(key["key"][-24:]):  # the longest secret word, plural
            continue
        value = _ASSIGNED_VALUE.match(text, key.end())
        if value is None or (":" in key["sep"] and _PLAIN_WORD.fullmatch(value["value"])):
            continue
        parts += [text[done : key.end()], value["quote"], MASK]
        done = value.end()
    return "".join(parts) + text[done:] if parts else text


def redact_text(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """`text` with secrets masked: every registered secret, the given values, passwords in URLs
    (`redis://:pw@host`), Slack webhook paths, and `key=value` / `key: value` pairs whose key looks
    secret (after `key:`, a plain word is prose and stays). Everything the SDK prints, logs, records or
    sends passes through it. Linear in the size of `text`."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = MASKER.mask(text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    text = _WEBHOOK_PATH.sub(lambda m: f"{m[1]}{MASK}", text)
    text = _BEARER.sub(lambda m: f"{m['scheme']}{m['space']}{MASK}", text)
    return _mask_assignments(text)


# --- where text leaves the process ---------------------------------------------------------------------


class MaskingFilter(logging.Filter):
    """Masks a log record's message, arguments and traceback before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_stacks_cloud_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave it to logging's own error report
            return True
        record.msg, record.args = redact_text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record._stacks_cloud_masked = True
        return True


_FILTER = MaskingFilter()


def mask_logger(logger: logging.Logger) -> None:
    """Mask what `logger` and its handlers (and the root logger's handlers) write. Idempotent."""
    for target in (logger, *logger.handlers, *logging.getLogger().handlers):
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)


class MaskingStream(io.TextIOBase):
    """A text stream that masks what is written to `target`, line by line (a secret split across two
    writes is still masked). Partial lines are written on `flush`."""

    def __init__(self, target: TextIO, *, tty: bool | None = None) -> None:
        self.target = target
        self._tty = tty
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                complete, self._pending = self._pending.rsplit("\n", 1)
                self.target.write(redact_text(complete) + "\n")
                self.target.flush()  # keep stdout and stderr lines in the order they were written
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.target.write(redact_text(self._pending))
                self._pending = ""
        self.target.flush()

    def isatty(self) -> bool:
        """The target's, or what the terminal was before `MaskedDescriptors` put a pipe in its place."""
        return self._tty if self._tty is not None else self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")

    def writable(self) -> bool:
        return True


class MaskedDescriptors:
    """Mask at the level of the process's file descriptors: while active, file descriptors 1 and 2 are pipes
    read by a thread that masks each line (`redact_text`) and writes it to the real stdout or stderr. What
    a child process writes (a hook's `subprocess.run`, `os.system`, a shell script) is masked like the
    process's own output: nothing inherits the real descriptors.

    A partial line is written once nothing more has come for 0.1 s (prompts, a live view's last line). A
    reader that left (`cloud status | head`) makes the thread discard the rest. `tty` tells what each
    descriptor was (a terminal or not) before the pipe took its place."""

    QUIET = 0.1
    """Seconds without output after which a partial line is written."""

    def __init__(self, descriptors: tuple[int, ...] = (1, 2)) -> None:
        self.descriptors = descriptors
        self.tty: dict[int, bool] = {}
        self._saved: dict[int, int] = {}
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> MaskedDescriptors:
        for descriptor in self.descriptors:
            try:
                self.tty[descriptor] = os.isatty(descriptor)
                saved = os.dup(descriptor)
            except OSError:  # closed or not a descriptor here: nothing to mask
                continue
            read_end, write_end = os.pipe()
            os.dup2(write_end, descriptor)
            os.close(write_end)
            self._saved[descriptor] = saved
            thread = threading.Thread(
                target=self._pump, args=(read_end, saved), daemon=True, name=f"mask-fd{descriptor}"
            )
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                continue
        for descriptor, saved in self._saved.items():
            os.dup2(saved, descriptor)  # our pipe's write end closes; the pump ends once children close theirs
        for thread in self._threads:
            thread.join(timeout=2)  # a background child that keeps the pipe open must not hold the exit
        for saved in self._saved.values():
            if not any(thread.is_alive() for thread in self._threads):
                os.close(saved)
        self._saved.clear()
        self._threads.clear()

    def _pump(self, read_end: int, target: int) -> None:
        pending = b""
        broken = False

        def emit(data: bytes) -> None:
            nonlocal broken
            if broken or not data:
                return
            text = redact_text(data.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
            try:
                while text:
                    text = text[os.write(target, text) :]
            except OSError:  # the reader left (EPIPE) or the terminal went away: discard the rest
                broken = True

        try:
            while True:
                ready, _, _ = select.select([read_end], [], [], self.QUIET if pending else None)
                if not ready:
                    emit(pending)
                    pending = b""
                    continue
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                pending += chunk
                if b"\n" in pending:
                    complete, pending = pending.rsplit(b"\n", 1)
                    emit(complete + b"\n")
                if len(pending) > 1 << 20:  # a megabyte without a newline: write it, masked, as it is
                    emit(pending)
                    pending = b""
            emit(pending)
        finally:
            os.close(read_end)
