"""The user's config files: a `.json`, or a `.py` defining `CLOUD`, read with errors that name file and line.

Used by the `cloud` CLI (`--config`), by a project's `main.py` under `cdktf synth` (the config path
from the cdktf context or `CLOUD_CONFIG`), and by the API.
"""

from __future__ import annotations

import contextlib
import json
import re
import runpy
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stacks_cloud.core.errors import ConfigError, Problem
from stacks_cloud.core.secrets import MASK

CONFIG_ENV = "CLOUD_CONFIG"
"""The environment variable naming a config file (relative to the working directory), as `--config` does."""
MARKER = "cdktf.json"
"""The file that marks a project's root folder."""


def find_project_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `cdktf.json`, or None."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / MARKER).is_file():
            return folder
    return None


def read_config_file(path: Path, *, option: str = "--config") -> dict[str, Any]:
    """The config data in `path` (resolved against the working directory): `.json`, or `.py` defining `CLOUD`.

    `option` is how the user gave the path (`--config`, `CLOUD_CONFIG`, the cdktf context's `configFile`),
    named in the error when it is wrong."""
    path = path.expanduser().resolve()
    if not path.is_file():
        raise ConfigError(
            "command line",
            [Problem(option, str(path), "does not exist or is not a file.", "pass the path of a .py or .json file.")],
        )
    if path.suffix == ".json":
        text = path.read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(
                "config file",
                [
                    Problem(
                        f"{path}:{error.lineno}",
                        without_literals(_line(text, error.lineno)),
                        f"is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno}; string values"
                        ' shown as "…": they may be secrets).',
                        'fix the JSON syntax; the file must hold one object such as {"appName": "my-app"}.',
                    )
                ],
            ) from None
        if not isinstance(data, dict):
            raise no_cloud_dict(path, data)
        return data
    if path.suffix != ".py":
        raise ConfigError(
            "command line",
            [Problem(option, str(path), "is neither a .py nor a .json file.", "pass config/cloud.py or a .json.")],
        )
    with user_code(path):
        namespace = runpy.run_path(str(path))
    if not isinstance(namespace.get("CLOUD"), Mapping):
        raise no_cloud_dict(path, namespace.get("CLOUD"))
    return dict(namespace["CLOUD"])


@contextlib.contextmanager
def user_code(path: Path) -> Iterator[None]:
    """Run the user's file `path`: a syntax error or an exception becomes a `ConfigError` naming file and line."""
    try:
        yield
    except SyntaxError as error:
        raise _syntax_problem(error, path) from None
    except ConfigError:
        raise
    except Exception as error:
        raise _import_problem(error, path) from None


def _syntax_problem(error: SyntaxError, path: Path) -> ConfigError:
    where = f"{error.filename or path}:{error.lineno or '?'}"
    return ConfigError(
        "project files",
        [
            Problem(
                where,
                without_literals((error.text or "").strip()),
                f'is not valid Python: {error.msg} (string values shown as "…": they may be secrets).',
                "fix the syntax at that line.",
            )
        ],
    )


def _import_problem(error: Exception, path: Path) -> ConfigError:
    """The error at the innermost line of the user's own files (not the SDK's, not the standard library's)."""
    frames = traceback.extract_tb(error.__traceback__)
    root = _project_root_of(path)
    user_frames = [
        frame
        for frame in frames
        if not frame.filename.startswith("<") and Path(frame.filename).resolve().is_relative_to(root)
    ]
    frame = user_frames[-1] if user_frames else (frames[-1] if frames else None)
    where = f"{frame.filename}:{frame.lineno}" if frame else str(path)
    return ConfigError(
        "project files",
        [
            Problem(
                where,
                without_literals(frame.line) if frame and frame.line else None,
                f"raised {type(error).__name__} while {path.name} was loaded:"
                f" {_masked_literals(str(error), frame.filename if frame else str(path))}",
                "fix the error at that line (the project's files are imported by `cloud` as by `cdktf synth`).",
            )
        ],
    )


_STRING = re.compile(r"""(?P<q>["'])(?:\\.|(?!(?P=q)).)*+(?P=q)""")
_KEY_AFTER = re.compile(r"\s*:")


def without_literals(line: str) -> str:
    """A source line as an error may show it: every string literal that is not a key (not followed by `:`)
    shown as `"…"`, and the rest of the line after an unterminated quote cut, since a literal may be a
    secret (`"apiKey": "..."`)."""
    parts: list[str] = []
    done = 0
    for match in _STRING.finditer(line):
        parts.append(line[done : match.start()])
        key = _KEY_AFTER.match(line, match.end()) is not None
        parts.append(match.group(0) if key else f"{match['q']}…{match['q']}")
        done = match.end()
    rest = line[done:]
    cut = min((index for index in (rest.find('"'), rest.find("'")) if index >= 0), default=-1)
    parts.append(rest if cut < 0 else rest[:cut] + rest[cut] + "…")
    return "".join(parts)


def _line(text: str, number: int) -> str:
    """Line `number` (1-based) of `text`, stripped; the last line when the error is past the end."""
    lines = [line for line in text.splitlines() if line.strip()] if number > len(text.splitlines()) else None
    if lines is not None:
        return lines[-1].strip() if lines else ""
    return text.splitlines()[number - 1].strip()


_ASSIGNED_BEFORE = re.compile(r"[:=]\s*+$")


def _masked_literals(message: str, filename: str) -> str:
    """`message` with the string values written in the user's file `filename` masked (a literal after `:` or
    `=`, 8 characters or more: where a config writes an `"apiKey": "..."`): an exception raised while
    loading a config may quote one. Names (`os.environ["API_KEY"]`, a call's argument) stay readable."""
    try:
        source = Path(filename).read_text()
    except OSError:
        return message
    values = {
        match.group(0)[1:-1]
        for match in _STRING.finditer(source)
        if _ASSIGNED_BEFORE.search(source, max(0, match.start() - 40), match.start())
    }
    for literal in sorted(values, key=len, reverse=True):
        if len(literal) >= 8 and literal in message:
            message = message.replace(literal, MASK)
    return message


def _project_root_of(path: Path) -> Path:
    return find_project_root(path.parent) or path.parent


def no_cloud_dict(path: Path, value: object) -> ConfigError:
    return ConfigError(
        "config file",
        [
            Problem(
                f"{path}",
                type(value).__name__ if value is not None else None,
                "defines no CLOUD dict (a .json config must hold one JSON object).",
                "define CLOUD = {'appName': 'my-app', ...} as config/cloud.py does.",
            )
        ],
    )
