"""Worker processes die with the app that started them.

The face worker and the document worker run in processes of their own. When the app is killed
(SIGKILL, a crash, systemd's watchdog) nothing tells them: a document worker (about 150 MB) and
multiprocessing's resource tracker (which lives until the last process holding its pipe exits)
stayed for minutes after each kill, and a restart piled up new ones.

Why a watching thread and not only ``PR_SET_PDEATHSIG``: Linux sends the parent-death signal when
the *thread* that created the child ends, not the process, and the app starts its workers from
short-lived threads (the face worker's start-up thread, whichever thread first submits a page to
the process pool). So the worker watches its parent's pid instead (re-parenting to init or a
subreaper changes ``getppid``); the check is a system call every half second.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["die_with_parent"]


def die_with_parent(parent_pid: int | None, *, interval: float = 0.5) -> None:
    """In a worker process: exit at once when ``parent_pid`` is no longer our parent.

    ``None`` (no parent known) does nothing. ``os._exit``: no clean-up handlers, as after SIGKILL —
    the app that could receive anything from us is gone.
    """
    if parent_pid is None:
        return
    if os.getppid() != parent_pid:  # the app died before we got here
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()
