"""Talk to the jsii kernel over one socket, not through jsii's relaying host process.

jsii starts `node jsii-runtime.js`, a host that starts the kernel (`lib/program.js`) and copies every
message between its own stdin/stdout and the kernel's fd 3: each call to the kernel crosses four
pipes and wakes four processes' worth of reads, about 0.15 ms of a call's ~0.4 ms here. `start()`
below starts `js/kernel_host.js` instead, with one end of a socket pair as its stdin; that host gives
the same socket to the kernel as its fd 3, so the kernel reads Python's requests and writes its
answers there directly. The messages are the same; jsii's own `send`, `stop` and stderr handling work
unchanged on the socket's file objects.

`install()` swaps jsii's `_NodeProcess.start` for it when jsii's start-up has the shape it expects;
otherwise jsii starts its own host as before (slower, never wrong).
"""

from __future__ import annotations

import atexit
import inspect
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from stacks_cloud.core.threads import leaves_signals_to_main_thread, start_helper_thread

KERNEL_HOST = Path(__file__).with_name("js") / "kernel_host.js"
DIRECT_ENV = "STACKS_CLOUD_DIRECT_KERNEL"
"""Set to 0 to keep jsii's relaying host (see this module's doc)."""
_EXPECTED_START = ("JSII_AGENT", "JSII_NODE", "--max-old-space-size=4069", "stderr_sink", "handshake")


def install() -> bool:
    """Make jsii start its kernel on a socket (True), or leave jsii as it is (False).

    Either way, the thread that copies the kernel's stderr leaves Ctrl-C to the main thread."""
    from jsii._kernel.providers import process

    sink = getattr(process, "stderr_sink", None)
    if callable(sink):  # jsii's own start looks it up when it starts the thread
        process.stderr_sink = leaves_signals_to_main_thread(sink)
    if os.environ.get(DIRECT_ENV) == "0" or not hasattr(socket, "socketpair"):
        return False

    node_process = process._NodeProcess
    try:
        source = inspect.getsource(node_process.start)
    except (OSError, TypeError):
        return False
    if not all(marker in source for marker in _EXPECTED_START) or not callable(getattr(process, "stderr_sink", None)):
        return False  # a jsii whose start-up we do not know: its own host it is
    node_process.start = _start  # type: ignore[method-assign]
    return True


def _start(self: Any) -> None:
    """jsii's `_NodeProcess.start`, with the kernel on a socket (the same environment, options and hooks)."""
    from jsii._kernel.providers import process

    environ = os.environ.copy()
    environ["JSII_AGENT"] = f"Python/{platform.python_version()}"
    ours, theirs = socket.socketpair()
    try:
        self._process = subprocess.Popen(
            [environ.get("JSII_NODE", "node"), "--max-old-space-size=4069", str(KERNEL_HOST)],
            stdin=theirs.fileno(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=environ,
        )
    except BaseException:
        ours.close()
        raise
    finally:
        theirs.close()  # the host and the kernel hold their copies
    # What jsii's `send`, `_next_message` and `stop` use: writing the requests, reading the answers.
    self._process.stdin = ours.makefile("wb")
    self._process.stdout = ours.makefile("rb")
    ours.close()  # the two files keep the socket open until both are closed
    # Blocking Ctrl-C here keeps it for the main thread (see `core.threads`).
    self.sink_thread = start_helper_thread(process.stderr_sink, self._process.stderr, name="process.stderr_sink")
    atexit.register(self.stop)
    self.handshake()
