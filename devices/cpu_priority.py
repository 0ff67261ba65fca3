"""CPU priority for the vision work: background for work nobody waits for, normal for a resident.

Why two kinds: a kiosk PC has two to four cores, and where the screen is drawn in software
(llvmpipe) one 1080 × 1920 frame needs all of them for tens of milliseconds. Work that nobody is
waiting for (the page outline loop, page scans and PDFs while the resident turns the next page)
runs at Linux's ``SCHED_IDLE``, stronger than nice 19: a normal task waking up preempts an idle
one at once, so the screen's threads never wait behind it, and it still gets every cycle the
screen leaves (measured in ``bench/bench_ui.py``: 1.6× the p99 frame interval with the scans at
nice 0 or 5 on a thread of the app, 1.1× with this).

The face check is different: a resident stands in front of the camera and waits for it. At
``SCHED_IDLE`` any program at normal priority that keeps a core busy (an update unpacking, a log
rotation, a runaway process) starves it: beside a busy loop on each of 2 cores no decision came
within 20 s, and beside one busy loop while other programs also ran it took 10.6 s (median); at
nice 0 the card holder was accepted in 0.81 s (median) beside one or two busy loops
(BENCHMARKS.md, "Face check"). It needs about 0.4 s of CPU per decision and is blocked on its pipe
between checks, so it runs at a configured nice value (``[face] worker_nice``, 0 by default) and
``SCHED_IDLE`` stays selectable (``worker_nice = "idle"``): ``set_process_priority``. What that
costs the face screen, measured in five runs on a machine busy with other programs: the preview's
p99 frame interval with the worker at nice 0 was 1.06-1.48× the one with the worker at
``SCHED_IDLE`` in the same run. So the worker is one thread (OpenCV's pool off: its share of a
frame is under a millisecond), and the kiosk's unit starts the app at ``Nice=-5``, so the screen
outranks the face worker and every other program (0.95-1.20× in three runs; nice values weigh CPU
shares, they are no strict order like ``SCHED_IDLE``); the worker lowers itself to its setting,
which needs no privilege.

On Linux the policy and the nice value belong to a *thread*, so ``make_this_thread_background``
changes only the calling thread (and threads it starts later), never the Kivy thread that called
into the flow; the process-wide functions walk ``/proc/self/task``. Where ``SCHED_IDLE`` is
missing (another OS, a seccomp filter) background falls back to nice 19. A change the kernel
refuses (raising priority needs ``CAP_SYS_NICE`` or a ``RLIMIT_NICE``, systemd's ``LimitNICE=``)
leaves the priority as it was and is logged, never raised: the work is still correct, only less
polite or less prompt, and the returned text says what was applied, for the log.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

log = logging.getLogger(__name__)

BACKGROUND_NICE = 19


def make_this_thread_background() -> str:
    """Lower the calling thread to background priority; returns what was applied (for the log)."""
    policy = getattr(os, "SCHED_IDLE", None)
    if policy is not None and hasattr(os, "sched_setscheduler"):
        try:
            os.sched_setscheduler(0, policy, os.sched_param(0))
            return "SCHED_IDLE"
        except OSError as exc:
            log.debug("SCHED_IDLE refused (%s); trying nice %d", exc, BACKGROUND_NICE)
    try:
        now = os.getpriority(os.PRIO_PROCESS, 0)  # Linux: the calling thread's nice value
        os.setpriority(os.PRIO_PROCESS, 0, max(now, BACKGROUND_NICE))
        return f"nice {max(now, BACKGROUND_NICE)}"
    except (OSError, AttributeError) as exc:
        log.warning("could not lower the priority of background work (%s); it runs at normal priority", exc)
        return "normal"


def make_this_process_background() -> str:
    """Lower every thread this process already has (a worker process's main thread calls it).

    Why not just the calling thread: importing numpy starts OpenBLAS's thread pool before the
    worker's code runs, and those threads would keep the ordinary priority. Threads started later
    inherit from whichever thread starts them, all of which are lowered here.
    """
    applied = make_this_thread_background()
    policy = getattr(os, "SCHED_IDLE", None)
    task_dir = f"/proc/{os.getpid()}/task"
    if applied != "SCHED_IDLE" or policy is None or not os.path.isdir(task_dir):
        return applied
    for tid in os.listdir(task_dir):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            os.sched_setscheduler(int(tid), policy, os.sched_param(0))
    return applied


IDLE = "idle"  # the setting that selects SCHED_IDLE in ``set_process_priority``


def parse_priority(value: object, where: str = "priority") -> int | str:
    """A priority setting from a config file: a nice value -20..19, or "idle" (SCHED_IDLE).

    Raises ValueError with a message naming ``where``; bool is refused (TOML ``true`` is no nice value).
    """
    if isinstance(value, str) and value.strip().lower() == IDLE:
        return IDLE
    if isinstance(value, int) and not isinstance(value, bool) and -20 <= value <= 19:
        return value
    raise ValueError(f"{where}: {value!r}; give a nice value from -20 to 19 (0 = normal) or \"idle\" (SCHED_IDLE)")


def set_process_priority(setting: int | str) -> str:
    """Put every thread of this process at ``setting`` (a nice value, or ``"idle"``); returns what
    applies afterwards to the calling thread (e.g. ``nice 0``), for the log.

    A worker process's main thread calls it first thing: threads started later inherit it. A nice
    value also sets the ordinary policy (a worker spawned from a lowered thread inherits
    ``SCHED_IDLE``). Raising the priority above what the process has needs ``CAP_SYS_NICE`` or a
    ``RLIMIT_NICE`` that allows it; a refusal is logged as a warning and the thread keeps what it had.
    """
    if setting == IDLE:
        return make_this_process_background()
    nice = int(setting)
    task_dir = f"/proc/{os.getpid()}/task"
    tids = [int(t) for t in os.listdir(task_dir)] if os.path.isdir(task_dir) else [0]
    refused: list[str] = []
    for tid in tids:
        try:
            if hasattr(os, "sched_setscheduler") and os.sched_getscheduler(tid) != os.SCHED_OTHER:
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))
            if os.getpriority(os.PRIO_PROCESS, tid) != nice:
                os.setpriority(os.PRIO_PROCESS, tid, nice)
        except ProcessLookupError:  # a thread that ended meanwhile
            continue
        except (OSError, AttributeError) as exc:
            refused.append(f"thread {tid}: {exc}")
    applied = this_thread_policy()
    if refused:
        log.warning(
            "priority nice %d refused (%s); running at %s (raising priority needs CAP_SYS_NICE or LimitNICE=)",
            nice, "; ".join(refused[:2]), applied,
        )
    return applied


def this_thread_policy() -> str:
    """The calling thread's scheduling, e.g. ``SCHED_IDLE`` or ``nice 0`` (for logs and tests)."""
    with contextlib.suppress(AttributeError, OSError):
        if os.sched_getscheduler(0) == getattr(os, "SCHED_IDLE", object()):
            return "SCHED_IDLE"
    try:
        return f"nice {os.getpriority(os.PRIO_PROCESS, 0)}"
    except (OSError, AttributeError):
        return "unknown"


@contextlib.contextmanager
def background_thread_work() -> Iterator[str]:
    """Run a block at background priority on the calling *worker* thread, then restore it.

    Linux does not let an unprivileged thread raise its priority back, so the block must run on a
    thread that ends afterwards (the flows' one-shot worker threads) or under root/CAP_SYS_NICE;
    a failed restore is logged, never raised, because the work itself is done.
    """
    before_policy = None
    with contextlib.suppress(AttributeError, OSError):
        before_policy = os.sched_getscheduler(0), os.sched_getparam(0)
    before_nice = None
    with contextlib.suppress(AttributeError, OSError):
        before_nice = os.getpriority(os.PRIO_PROCESS, 0)
    applied = make_this_thread_background()
    try:
        yield applied
    finally:
        try:
            if before_policy is not None and applied == "SCHED_IDLE":
                os.sched_setscheduler(0, before_policy[0], before_policy[1])
            if before_nice is not None:
                os.setpriority(os.PRIO_PROCESS, 0, before_nice)
        except OSError as exc:
            log.debug("background priority not restored on this worker thread (%s)", exc)
