"""Helper threads that leave Ctrl-C to the main thread.

The OS hands a signal sent to the process (Ctrl-C reaches the terminal's whole process group) to any
one of its threads that does not block it. Python runs its handler in the main thread, but when the
signal lands on a helper thread, a blocking call in the main thread (a sleep, a read, a lock) is not
interrupted: `KeyboardInterrupt` waits until that call returns. A config that sleeps or a hook that
waits on the network then ignores Ctrl-C for as long as it blocks.

Threads started here block SIGINT and SIGTERM from their first instruction (a new thread inherits
its creator's signal mask), so those signals always go to a thread that handles them at once. A
process started from such a thread would inherit the blocked signals too: start none there.
"""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

MAIN_THREAD_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
"""The signals helper threads never take."""


def start_helper_thread(target: Callable[..., object], *args: Any, name: str | None = None) -> threading.Thread:
    """Start `target(*args)` on a daemon thread that blocks `MAIN_THREAD_SIGNALS`; return the thread."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    if not hasattr(signal, "pthread_sigmask"):  # Windows: console Ctrl-C goes to the main thread anyway
        thread.start()
        return thread
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_THREAD_SIGNALS)
    try:
        thread.start()  # the new thread starts with the mask blocked above
    finally:
        # A signal that arrived meanwhile was held for the process; it is delivered now, here.
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread


def leaves_signals_to_main_thread(target: Callable[P, R]) -> Callable[P, R]:
    """`target`, blocking `MAIN_THREAD_SIGNALS` in its thread before it runs: for a helper thread that code
    we do not own starts (`start_helper_thread` is better where we start it: it leaves no moment unblocked).
    Called on the main thread, it runs `target` as it is."""
    if getattr(target, "leaves_signals_to_main_thread", False) or not hasattr(signal, "pthread_sigmask"):
        return target  # wrapped already, or Windows (see `start_helper_thread`)

    @functools.wraps(target)
    def leaving_signals(*args: P.args, **kwargs: P.kwargs) -> R:
        if threading.current_thread() is not threading.main_thread():
            signal.pthread_sigmask(signal.SIG_BLOCK, MAIN_THREAD_SIGNALS)
        return target(*args, **kwargs)

    leaving_signals.leaves_signals_to_main_thread = True  # type: ignore[attr-defined]
    return leaving_signals
