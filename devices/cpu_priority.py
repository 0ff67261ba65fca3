"""Background CPU priority for the vision work, so the touchscreen keeps its frames.

Why: a kiosk PC has two to four cores, and where the screen is drawn in software (llvmpipe) one
1080 × 1920 frame needs all of them for tens of milliseconds. A face check or a 5 MP page scan
that runs at the same ordinary priority takes a core away exactly then, and the preview stutters
(measured in ``bench/bench_ui.py``: 1.6× the p99 frame interval with nice 0 or 5, 1.1× with this).
Linux's ``SCHED_IDLE`` policy is stronger than nice 19: a normal task waking up preempts an idle
one at once, so the screen's threads never wait behind vision work, and the vision work still gets
every cycle the screen leaves, which on a kiosk is most of them.

On Linux the policy and the nice value belong to a *thread*, so ``make_this_thread_background``
changes only the calling thread (and threads it starts later), never the Kivy thread that called
into the flow. Where ``SCHED_IDLE`` is missing (another OS, a seccomp filter) it falls back to
nice 19, and where even that is refused it leaves the priority alone: the work is still correct,
only less polite, and the returned text says which happened for the log.
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
