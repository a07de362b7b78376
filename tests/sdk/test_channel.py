"""The jsii kernel on a socket to Python: the same stacks and output, and no kernel outlives its Python."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from stacks_cloud.cdk import _channel
from tests.sdk.python_runs import last_json, run_python

PROJECT_DIR = Path(__file__).resolve().parents[2]

SYNTH = """
    import json, os, stat
    import stacks_cloud.cdk as cdk
    from jsii._runtime import kernel
    from stacks_cloud.cdk.aws import provider, sqs_queue
    from stacks_cloud.testing import synth, temporary_app
    stack = cdk.TerraformStack(temporary_app(), "s")
    provider.AwsProvider(stack, "aws", region="us-east-1")
    sqs_queue.SqsQueue(stack, "q", name="q", visibility_timeout_seconds=300)
    host = kernel.provider._process._process
    print(json.dumps({
        "host": os.path.basename(host.args[-1]),
        "socket": stat.S_ISSOCK(os.fstat(host.stdin.fileno()).st_mode),
        "stack": synth(stack),
    }))
"""


def test_the_kernel_talks_to_python_on_a_socket_and_builds_the_same_stacks() -> None:
    direct = last_json(run_python(SYNTH))
    relayed = last_json(run_python(SYNTH, env={_channel.DIRECT_ENV: "0"}))
    assert (direct["host"], direct["socket"]) == ("kernel_host.js", True)
    assert (relayed["host"], relayed["socket"]) == ("jsii_runtime.js", False)  # jsii's own relaying host
    assert direct["stack"] == relayed["stack"]
    assert direct["stack"]["resource"]["aws_sqs_queue"]["q"]["visibility_timeout_seconds"] == 300


def test_the_kernels_own_output_still_reaches_stderr() -> None:
    result = run_python(
        "import stacks_cloud.cdk; from stacks_cloud.testing import temporary_app; temporary_app()",
        env={"JSII_DEBUG": "1"},  # the kernel logs each request on its stderr
    )
    assert result.returncode == 0, result.stderr
    assert "[@jsii/kernel] load {" in result.stderr


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads child processes from /proc (Linux)")
def test_a_killed_python_leaves_no_kernel_behind(tmp_path: Path) -> None:
    python = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent("""
                import os, time
                from stacks_cloud.testing import temporary_app  # first: the SDK starts the kernel its way
                from jsii._runtime import kernel
                temporary_app()
                host = kernel.provider._process._process
                children = open(f"/proc/{host.pid}/task/{host.pid}/children").read().split()
                print(host.pid, children[0], os.path.basename(host.args[-1]), flush=True)
                time.sleep(120)
            """),
        ],
        cwd=PROJECT_DIR,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # what a killed process cannot clean up stays in here
        stdout=subprocess.PIPE,
        text=True,
    )
    assert python.stdout is not None
    try:
        pids_and_host = python.stdout.readline().split()
        assert pids_and_host[2:] == ["kernel_host.js"]  # the kernel on its socket, not behind jsii's host
        host, kernel = int(pids_and_host[0]), int(pids_and_host[1])
        assert [alive(host), alive(kernel)] == [True, True]
    finally:
        python.send_signal(signal.SIGKILL)
        python.wait(timeout=30)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (alive(host) or alive(kernel)):
        time.sleep(0.1)
    assert [alive(host), alive(kernel)] == [False, False]  # the socket closed with Python: the kernel saw its end


def test_a_jsii_start_of_an_unknown_shape_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from jsii._kernel.providers import process

    def start(self: Any) -> None:  # some other jsii's start-up
        raise AssertionError("not called here")

    monkeypatch.setattr(process._NodeProcess, "start", start)
    assert _channel.install() is False
    assert process._NodeProcess.start is start
