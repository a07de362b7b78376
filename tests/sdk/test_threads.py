"""Helper threads leave Ctrl-C to the main thread, so a blocking call there is interrupted at once."""

from __future__ import annotations

import signal
import threading

from stacks_cloud.core.threads import MAIN_THREAD_SIGNALS, leaves_signals_to_main_thread, start_helper_thread


def test_a_helper_thread_blocks_ctrl_c_and_its_creator_keeps_its_mask() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    seen: list[set[int | signal.Signals]] = []
    thread = start_helper_thread(lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])), name="probe")
    thread.join(timeout=10)
    assert thread.daemon
    assert thread.name == "probe"
    assert seen[0] >= MAIN_THREAD_SIGNALS
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before


def test_a_wrapped_target_blocks_ctrl_c_in_the_thread_that_runs_it_not_in_the_main_thread() -> None:
    def sink(into: list[set[int | signal.Signals]]) -> str:
        into.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return "ran"

    wrapped = leaves_signals_to_main_thread(sink)
    assert leaves_signals_to_main_thread(wrapped) is wrapped  # wrapping twice changes nothing
    seen: list[set[int | signal.Signals]] = []
    thread = threading.Thread(target=wrapped, args=(seen,))  # as code we do not own starts it
    thread.start()
    thread.join(timeout=10)
    assert seen[0] >= MAIN_THREAD_SIGNALS
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    assert wrapped(seen) == "ran"  # on the main thread: run as it is
    assert seen[1] == before
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
