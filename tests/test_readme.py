"""Every ```python block of the README runs as written, so the README cannot drift from the code.

Each block runs as its own program in a copy of the project (its working directory, on PYTHONPATH),
with AWS pointed at the session's moto server. A block followed by a line `prints` and a fenced block
must print that text.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import MOTO_ACCESS_KEY, Moto
from tests.test_main import copy_project

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(?P<lang>\w*)\n(?P<body>.*?)^```\n", re.M | re.S)


@dataclass(frozen=True)
class Example:
    heading: str
    code: str
    prints: str | None


def examples() -> list[Example]:
    text = README.read_text()
    found = []
    blocks = list(FENCE.finditer(text))
    for index, block in enumerate(blocks):
        if block.group("lang") != "python":
            continue
        headings = re.findall(r"^#+ (.+)$", text[: block.start()], re.M)
        expected = None
        if index + 1 < len(blocks):
            between = text[block.end() : blocks[index + 1].start()]
            if between.strip() == "prints":
                expected = blocks[index + 1].group("body")
        found.append(Example(headings[-1] if headings else "README", block.group("body"), expected))
    return found


EXAMPLES = examples()
IN_A_NEW_PROJECT = {"Constructs"}
"""Sections whose examples a user copies into a project of their own: they run in a `cloud init` project."""


def test_the_readme_has_python_examples() -> None:
    assert len(EXAMPLES) >= 6
    assert {example.heading for example in EXAMPLES} >= IN_A_NEW_PROJECT


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{n}-{e.heading}" for n, e in enumerate(EXAMPLES)])
def test_readme_example_runs(example: Example, moto: Moto, tmp_path: Path) -> None:
    if example.heading in IN_A_NEW_PROJECT:
        from stacks_cloud.deploy.scaffold import init_project

        project = init_project(tmp_path / "my-infra").root  # what a user of the SDK has, not the guide's project
    else:
        project = copy_project(tmp_path)
    script = project / "readme_example.py"
    script.write_text(example.code)
    env = {k: v for k, v in os.environ.items() if k not in ("APP_ENV", "CI")}
    env |= {
        "PYTHONPATH": str(project),
        "AWS_ENDPOINT_URL": moto.url,  # boto3 sends every service to the emulator
        "AWS_ACCESS_KEY_ID": MOTO_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": MOTO_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "CUSTOM_CLOUD_API_KEY": "readme-example-key",
    }
    result = subprocess.run(
        [sys.executable, str(script)], cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, f"{example.heading}:\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    assert "Unknown error" not in result.stdout
    if example.prints is not None:
        assert result.stdout == example.prints
