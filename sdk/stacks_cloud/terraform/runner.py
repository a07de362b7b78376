"""Run terraform non-interactively with a timeout, streaming output, failing with a typed error."""

from __future__ import annotations

import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from stacks_cloud.core.errors import CloudProviderError
from stacks_cloud.core.threads import start_helper_thread

STDERR_TAIL_LINES = 30


class TerraformError(CloudProviderError):
    """A terraform command failed or timed out; carries the command, exit code and stderr tail."""

    def __init__(self, command: Sequence[str], exit_code: int | None, stderr_tail: str, *, stack: str | None = None):
        self.command = list(command)
        reason = "timed out" if exit_code is None else "failed"
        super().__init__(
            f"`{' '.join(command)}` {reason}",
            provider="terraform",
            stack=stack,
            exit_code=exit_code,
            stderr_tail=stderr_tail,
        )


def run_terraform(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float = 600.0,
    on_line: Callable[[str], None] | None = None,
    stack: str | None = None,
    ok_exit_codes: tuple[int, ...] = (0,),
) -> str:
    """Run `terraform <args>` in `cwd`; return stdout. Each output line goes to `on_line` as it arrives.

    Raises `TerraformError` on a timeout or an exit code outside `ok_exit_codes` (e.g. `validate
    -json` exits 1 for an invalid configuration while still printing the diagnostics).
    """
    command = ["terraform", *args]
    process = subprocess.Popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )
    stdout_lines: list[str] = []
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)

    def pump(stream: object, sink: Callable[[str], None]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink(line.rstrip("\n"))
            if on_line is not None:
                on_line(line.rstrip("\n"))

    readers = [  # they leave Ctrl-C to the thread that waits below (see `core.threads`)
        start_helper_thread(pump, process.stdout, stdout_lines.append),
        start_helper_thread(pump, process.stderr, stderr_tail.append),
    ]
    try:
        exit_code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        exit_code = None
    for reader in readers:
        reader.join()
    if exit_code not in ok_exit_codes:
        raise TerraformError(command, exit_code, "\n".join(stderr_tail), stack=stack)
    return "\n".join(stdout_lines)
