"""Helper threads leave Ctrl-C to the main thread, so a blocking call there is interrupted at once."""

from __future__ import annotations

import signal

from stacks_cloud.core.threads import MAIN_THREAD_SIGNALS, start_helper_thread


def test_a_helper_thread_blocks_ctrl_c_and_its_creator_keeps_its_mask() -> None:
    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    seen: list[set[int | signal.Signals]] = []
    thread = start_helper_thread(lambda: seen.append(signal.pthread_sigmask(signal.SIG_BLOCK, [])), name="probe")
    thread.join(timeout=10)
    assert thread.daemon
    assert thread.name == "probe"
    assert seen[0] >= MAIN_THREAD_SIGNALS
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
