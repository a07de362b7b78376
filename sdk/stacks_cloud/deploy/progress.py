"""Live per-stack progress: one redrawn line per stack on a terminal, plain prefixed lines elsewhere (CI)."""

from __future__ import annotations

import re
import shutil
import sys
import threading
from typing import TextIO

from stacks_cloud.core.secrets import redact_text

_NOISE = re.compile(r"^\s*$|^\S+\s+(Stacks deploying|Stacks done)")
_STATUS = re.compile(r"(Creating|Modifying|Destroying|Reading|Still \w+|Apply complete|Destroy complete|Error|Plan:)")


class Progress:
    """A `sink(stack, line)` for `Cloud.deploy(on_line=...)`.

    `live=None` decides by the stream: a terminal gets the live display unless `CI` is set.
    """

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None, ci: bool = False) -> None:
        self.stream = stream or sys.stderr
        self.live = (self.stream.isatty() and not ci) if live is None else live
        self.lines: dict[str, str] = {}
        self._drawn = 0
        self._lock = threading.Lock()

    def __call__(self, stack: str, line: str) -> None:
        line = redact_text(line)
        with self._lock:
            if not self.live:
                if not _NOISE.search(line):
                    print(f"[{stack}] {line}", file=self.stream, flush=True)
                return
            if stack not in self.lines or _STATUS.search(line):
                self.lines[stack] = line.strip()
                self._redraw()

    def _redraw(self) -> None:
        width = shutil.get_terminal_size((100, 20)).columns
        if self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F")  # back to the first line of the block
        for stack, line in self.lines.items():
            self.stream.write("\x1b[2K" + f"{stack}: {line}"[: width - 1] + "\n")
        self._drawn = len(self.lines)
        self.stream.flush()
