"""Workers left behind: the app is SIGKILLed with its face and document workers running.

Fault injected from outside: a process that starts the kiosk's ``FaceWorker`` and
``DocumentWorker`` exactly as the runtime does (background priority, models loaded, a page
worker spawned) is killed with SIGKILL. Checked: the face worker, the document worker and
multiprocessing's resource tracker are gone within seconds (before: they stayed for minutes and
piled up with every restart).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from flow_support import ROOT

APP = """
import multiprocessing.resource_tracker as rt, sys, time
sys.path.insert(0, {root!r})
from devices.document.worker import DocumentWorker
from devices.face.worker import FaceWorker
docs = DocumentWorker(background=True).start()
docs.probe()
face = FaceWorker(background=True)
face.start()
face.probe()
pids = [face._proc.pid, *docs._pool._processes, rt._resource_tracker._pid]
print(" ".join(str(p) for p in pids), flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie waits only for its reaper: it holds no memory


def test_killing_the_app_takes_its_workers_and_the_resource_tracker_with_it() -> None:
    app = subprocess.Popen(
        [sys.executable, "-c", APP.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True, cwd=ROOT
    )
    try:
        assert app.stdout is not None
        line = app.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert len(pids) == 3 and all(alive(p) for p in pids), line
        os.kill(app.pid, signal.SIGKILL)
        app.wait(10)
        end = time.monotonic() + 15
        while any(alive(p) for p in pids) and time.monotonic() < end:
            time.sleep(0.1)
        left = [p for p in pids if alive(p)]
        assert not left, f"still running after the app was killed: {left}"
    finally:
        if app.poll() is None:
            app.kill()
            app.wait(10)
