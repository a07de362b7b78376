"""`cloud synth --watch` as a user runs it: one process re-synthesizes after each edit, says which stacks
changed, survives a bad edit with the previous cdktf.out kept, and stops on Ctrl-C."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.test_main import copy_project

CLI = Path(sys.executable).with_name("cloud")
CONFIG = """
CLOUD = {{
    "appName": "watched",
    "multiRegion": {{"enabled": True, "primaryRegion": "us-east-1", "replicaRegions": ["eu-west-1"]}},
    "api": {{"memorySize": {memory}}},
}}
"""


def test_edits_are_re_synthesized_by_one_process(tmp_path: Path) -> None:
    root = copy_project(tmp_path)
    config = root / "watched.py"
    config.write_text(CONFIG.format(memory=512))
    process = subprocess.Popen(
        [str(CLI), "--config", "watched.py", "synth", "--watch"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "APP_ENV"},
        start_new_session=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in process.stdout or []:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=read, daemon=True).start()

    def next_line(prefix: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line
        pytest.fail(f"no line starting with {prefix!r} within {timeout} s")

    try:
        assert next_line("synthesized 2 stack(s)")
        assert next_line("watching ")
        function = root / "cdktf.out" / "stacks" / "watched-development-us-east-1" / "cdk.tf.json"
        assert '"memory_size": 512' in function.read_text()

        config.write_text(CONFIG.format(memory=1024))
        changed = next_line("re-synthesized in ")
        assert changed.endswith("changed: watched-development-eu-west-1, watched-development-us-east-1")
        assert '"memory_size": 1024' in function.read_text()

        config.write_text(CONFIG.format(memory=99999))  # a bad edit: reported, cdktf.out kept
        assert next_line("synth failed")
        assert next_line("  - api.memory_size = 99999")
        assert '"memory_size": 1024' in function.read_text()

        config.write_text(CONFIG.format(memory=1024) + "# a comment\n")
        assert next_line("re-synthesized in ").endswith("no stack changed")
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        code = process.wait(timeout=60)
    assert code == 0
