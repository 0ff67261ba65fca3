"""Named step boundaries where the crash test kills the process (``KIOSK_FLOW_CRASH_AT=<name>``).

Production never sets the variable; the check is one dictionary look-up per boundary. Flows call
``reached(name)`` right after a step's outcome is durable and before the next act, which is where
a power cut hurts most.
"""

from __future__ import annotations

import os
import signal

ENV = "KIOSK_FLOW_CRASH_AT"
seen: list[str] = []


def reached(name: str) -> None:
    seen.append(name)
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
