"""Background priority for vision work: only the worker thread that asks is lowered, never the
Kivy thread; where SCHED_IDLE is refused it falls back to nice 19."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from devices.cpu_priority import background_thread_work, make_this_thread_background, this_thread_policy


def in_thread(work: Callable[[], object]) -> object:
    out: list[object] = []
    t = threading.Thread(target=lambda: out.append(work()))
    t.start()
    t.join(5)
    return out[0]


def test_a_worker_thread_goes_to_sched_idle_and_the_calling_thread_keeps_its_priority() -> None:
    before = this_thread_policy()
    assert in_thread(lambda: (make_this_thread_background(), this_thread_policy())) == ("SCHED_IDLE", "SCHED_IDLE")
    assert this_thread_policy() == before != "SCHED_IDLE"


def test_a_block_of_background_work_inside_a_worker_thread() -> None:
    def work() -> tuple[str, str]:
        with background_thread_work() as applied:
            inside = this_thread_policy()
        return applied, inside

    assert in_thread(work) == ("SCHED_IDLE", "SCHED_IDLE")


def test_where_sched_idle_is_refused_the_thread_gets_nice_19(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise PermissionError("operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse)
    assert in_thread(lambda: (make_this_thread_background(), os.getpriority(os.PRIO_PROCESS, 0))) == ("nice 19", 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) != 19
