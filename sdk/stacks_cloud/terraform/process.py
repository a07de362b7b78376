"""Run a CLI (terraform) safely: its own process group, output to a log file that is followed, typed results.

- The child gets its own session (process group): Ctrl-C in the terminal does not reach it directly.
- When the run is cancelled (the CLI got SIGINT or SIGTERM), the child is left to finish: terraform's
  own graceful stop makes the AWS provider cancel the API calls in flight, which leaves resources
  created in the cloud but not in the state, or tainted (measured against moto: a Lambda function and
  a DynamoDB table created but unrecorded, the assets bucket tainted). Only `force_interrupt()` (the
  CLI's second Ctrl-C) sends it SIGINT, exactly once, as terraform expects.
- Its output goes to a log file, not a pipe, which this process follows: if the CLI itself is killed
  (SIGKILL), terraform is not killed by a broken pipe in the middle of writing state; it finishes,
  and its log stays for the next command to report.
- A timeout sends SIGINT, then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_LINES = 40
FOLLOW_INTERVAL = 0.1
"""Seconds between reads of the log file while the process runs."""
KILL_GRACE = 60.0
"""Seconds a timed-out process has, after SIGINT, before SIGKILL."""


@dataclass(frozen=True)
class ProcessResult:
    exit_code: int | None
    """None when the process was stopped by the timeout."""
    tail: str
    """The last lines of its output."""
    output: str
    log_file: Path | None = None

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


class CancelledAfterExit(asyncio.CancelledError):
    """The run was cancelled and its child was left to finish: `result` says how it ended."""

    def __init__(self, result: ProcessResult) -> None:
        super().__init__()
        self.result = result


class _Escalation:
    """Whether the user asked to interrupt running children now (the second Ctrl-C), process-wide."""

    forced = False


_ESCALATION = _Escalation()


def force_interrupt() -> None:
    """Send SIGINT, once, to every child whose run was cancelled and that is still running (now and later)."""
    _ESCALATION.forced = True


def reset_interrupt() -> None:
    """Forget a forced interrupt (a new command starts)."""
    _ESCALATION.forced = False


ProcessObserver = Callable[[int, bool], None]
"""`observer(pid, running)`: called when a child starts (True) and when it ended (False)."""


async def run_streaming(
    command: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    on_line: Callable[[str], None] | None = None,
    log_file: Path | None = None,
    observer: ProcessObserver | None = None,
) -> ProcessResult:
    """Run `command` in `cwd`; every output line goes to `on_line` as it is written.

    Output (stdout and stderr together) is written to `log_file` (a temporary one beside `cwd` when not
    given) and followed from there. Cancelling the awaiting task lets the child finish (SIGINT only
    after `force_interrupt()`), then re-raises `CancelledError`.
    """
    log_path = log_file or cwd / f".{Path(command[0]).name}-{os.getpid()}-{id(command)}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as sink:
        offset = sink.tell()
        process = await asyncio.create_subprocess_exec(
            *command,
            cwd=cwd,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,  # its own process group: the terminal's Ctrl-C is ours to forward
            umask=0o077,  # what terraform writes (local state, plans, backups) is the user's alone: 0600
        )
    if observer is not None:
        observer(process.pid, True)
    follower = _Follower(log_path, offset, on_line)
    exit_code: int | None
    try:
        exit_code = await _wait_following(process, follower, timeout)
    except asyncio.CancelledError:
        await _wait_uncancellable(process, follower)
        finished = CancelledAfterExit(
            ProcessResult(process.returncode, "\n".join(follower.tail), "\n".join(follower.lines), log_file)
        )
        raise finished from None
    finally:
        follower.read()
        if observer is not None:
            observer(process.pid, False)
        if log_file is None:
            with contextlib.suppress(OSError):
                log_path.unlink()
    return ProcessResult(exit_code, "\n".join(follower.tail), "\n".join(follower.lines), log_file)


class _Follower:
    """Reads whole lines appended to a file since `offset`."""

    def __init__(self, path: Path, offset: int, on_line: Callable[[str], None] | None) -> None:
        self.path = path
        self.offset = offset
        self.on_line = on_line
        self.partial = b""
        self.lines: list[str] = []
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    def read(self) -> None:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                chunk = handle.read()
        except OSError:
            return
        self.offset += len(chunk)
        data = self.partial + chunk
        *complete, self.partial = data.split(b"\n")
        for raw in complete:
            line = raw.decode(errors="replace").rstrip("\r")
            self.lines.append(line)
            self.tail.append(line)
            if self.on_line is not None:
                self.on_line(line)

    def flush_partial(self) -> None:
        if self.partial:
            self.partial += b"\n"
            self.read()


async def _wait_following(process: asyncio.subprocess.Process, follower: _Follower, timeout: float) -> int | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    waiter = asyncio.ensure_future(process.wait())
    try:
        while not waiter.done():
            await asyncio.wait({waiter}, timeout=FOLLOW_INTERVAL)
            follower.read()
            if loop.time() > deadline and not waiter.done():
                _interrupt(process)
                try:
                    await asyncio.wait_for(asyncio.shield(waiter), timeout=KILL_GRACE)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    await waiter
                follower.read()
                follower.flush_partial()
                return None
        follower.read()
        follower.flush_partial()
        return waiter.result()
    finally:
        if not waiter.done():
            waiter.cancel()


def _interrupt(process: asyncio.subprocess.Process) -> None:
    """SIGINT to the child's process group, once: terraform stops gracefully and releases its lock."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGINT)


async def _wait_uncancellable(process: asyncio.subprocess.Process, follower: _Follower) -> None:
    """Wait for the child to exit, following its output, whatever else is cancelled meanwhile; interrupt it
    (once) if the user forces it."""
    interrupted = False
    while process.returncode is None:
        if _ESCALATION.forced and not interrupted:
            _interrupt(process)
            interrupted = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(FOLLOW_INTERVAL)
        follower.read()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            if process.returncode is None:
                await asyncio.wait_for(asyncio.shield(process.wait()), timeout=FOLLOW_INTERVAL)
    follower.read()
    follower.flush_partial()
