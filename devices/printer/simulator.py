"""A receipt printer that writes the ESC/POS bytes of each job to a file, like python-escpos's ``Dummy``.

The driver talks to it through the same ``Escpos`` command layer as to a real printer, so the bytes
in the file are exactly what a printer would get. Jobs are appended one after another, each ended
by the cut command (``GS V``); ``jobs()`` splits them again for tests and the simulator panel.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from escpos.escpos import Escpos

from devices.printer.errors import PrinterOffline

CUT_PREFIX = b"\x1dV"


class FileSinkPrinter(Escpos):
    """An ``Escpos`` backend collecting a job in memory and appending it to ``path`` on ``close()``."""

    def __init__(self, path: str | Path, sim: ReceiptPrinterSimulator | None = None, **kwargs: Any) -> None:
        Escpos.__init__(self, **kwargs)
        self.path = Path(path)
        self.sim = sim
        self._buf: list[bytes] = []

    @staticmethod
    def is_usable() -> bool:
        return True

    def open(self, raise_not_found: bool = True) -> None:
        if self.sim is not None and self.sim.offline:
            self.device = None
            raise PrinterOffline("simulated printer is switched off", device="printer")
        self.device = self  # anything truthy: python-escpos opens lazily through ``device``
        self._buf = []

    def _raw(self, msg: bytes) -> None:
        self._buf.append(bytes(msg))

    def close(self) -> None:
        if not getattr(self, "_buf", None):
            return
        data = b"".join(self._buf)
        self._buf = []
        if self.sim is not None:
            self.sim.receive(data)
        else:
            with open(self.path, "ab") as fh:
                fh.write(data)


class ReceiptPrinterSimulator:
    """The far end: a file of received jobs plus panel actions (switch off, clear)."""

    name = "printer"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.offline = False
        self._lock = threading.Lock()

    def start(self) -> ReceiptPrinterSimulator:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch()
        return self

    def stop(self) -> None:
        pass

    @property
    def port(self) -> str:
        return str(self.path)

    def receive(self, data: bytes) -> None:
        with self._lock, open(self.path, "ab") as fh:
            fh.write(data)
            fh.flush()

    def printer(self) -> FileSinkPrinter:
        return FileSinkPrinter(self.path, self)

    def jobs(self) -> list[bytes]:
        """Every job received so far, each ending with its cut command."""
        data = self.path.read_bytes() if self.path.exists() else b""
        return split_jobs(data)

    # -- the control surface of the other simulators ---------------------------------------------
    def ctl_offline(self, on: bool = True) -> dict[str, Any]:
        """Switch the printer off (on=True) or on again: jobs then fail as with a pulled cable."""
        self.offline = bool(on)
        return self.ctl_state()

    def ctl_clear(self) -> dict[str, Any]:
        """Forget the printed jobs (empty the output file)."""
        with self._lock:
            self.path.write_bytes(b"")
        return self.ctl_state()

    def ctl_state(self) -> dict[str, Any]:
        """Output file, number of jobs, switched off or not."""
        return {"path": str(self.path), "jobs": len(self.jobs()), "offline": self.offline}

    def actions(self) -> dict[str, str]:
        return {
            n[4:]: (getattr(self, n).__doc__ or "").strip().splitlines()[0]
            for n in dir(self)
            if n.startswith("ctl_")
        }

    def control(self, action: str, **args: Any) -> Any:
        handler = getattr(self, f"ctl_{action}", None)
        if handler is None:
            raise KeyError(f"unknown action {action!r}; known: {sorted(self.actions())}")
        return handler(**args)


def split_jobs(data: bytes) -> list[bytes]:
    """Cut the byte stream after each ``GS V m [n]`` cut command."""
    jobs, start, i = [], 0, 0
    while True:
        i = data.find(CUT_PREFIX, i)
        if i < 0 or i + 2 >= len(data):
            break
        m = data[i + 2]
        end = i + 3 + (1 if m in (65, 66, 97, 98, 103, 104) else 0)
        jobs.append(data[start:end])
        start = i = end
    if start < len(data) and data[start:].strip(b"\n"):
        jobs.append(data[start:])
    return jobs
