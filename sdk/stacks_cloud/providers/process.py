"""Run a CLI as an asyncio subprocess: stream its lines, enforce a timeout, keep the tail for errors."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_LINES = 40


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None
    """None when the process was stopped by the timeout."""
    tail: str
    """The last lines of stdout and stderr together, in arrival order."""
    output: str

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


async def run_streaming(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    on_line: Callable[[str], None] | None = None,
) -> ProcessResult:
    """Run `command`; every line goes to `on_line`. On timeout: SIGINT (terraform then stops cleanly and
    releases its state lock), SIGKILL 30 s later."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    lines: list[str] = []

    async def pump(stream: asyncio.StreamReader | None) -> None:
        if stream is None:
            return
        while raw := await stream.readline():
            line = raw.decode(errors="replace").rstrip("\n")
            tail.append(line)
            lines.append(line)
            if on_line is not None:
                on_line(line)

    pumps = asyncio.gather(pump(process.stdout), pump(process.stderr))
    exit_code: int | None
    try:
        exit_code = await asyncio.wait_for(process.wait(), timeout=timeout)
    except TimeoutError:
        exit_code = None
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGINT)
        await process.wait()
        raise
    await pumps
    return ProcessResult(exit_code, "\n".join(tail), "\n".join(lines))
