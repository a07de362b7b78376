"""Run a snippet of Python in a fresh interpreter (its own jsii kernel) and read what it printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]


def run_python(
    code: str, env: dict[str, str] | None = None, cwd: Path = PROJECT_DIR
) -> subprocess.CompletedProcess[str]:
    """`python -c code` in `cwd`, with this process's environment plus `env`."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def last_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON on the last line of a run that succeeded."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def python_json(code: str, env: dict[str, str] | None = None, cwd: Path = PROJECT_DIR) -> Any:
    """Run `code`, which must succeed and print JSON last; return that JSON."""
    return last_json(run_python(code, env, cwd))
