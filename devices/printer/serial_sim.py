"""A serial ESC/POS receipt printer at the far end of a pty, writing what it receives to a file.

The driver uses its ordinary ``serial`` backend on the pty path, so simulator mode changes only the
port: the bytes in the file are exactly what a real printer on /dev/kiosk-printer would get. It
answers the real-time status request DLE EOT n (``10 04 n``) with "online, no error" like common
80 mm printers, and goes silent when unplugged.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from devices.printer.simulator import CUT_PREFIX, split_jobs
from devices.pty_sim import PtySimulator

DLE_EOT = b"\x10\x04"
# Status bytes have bits 1 and 4 fixed to 1; all error bits clear means online, paper present.
STATUS_OK = 0x12


class SerialPrinterSimulator(PtySimulator):
    name = "printer"

    def __init__(self, output: str | Path, *, baudrate: int = 9600, pacing: bool = True,
                 link: str | None = None) -> None:
        super().__init__(baudrate=baudrate, pacing=pacing, link=link)
        self.output = Path(output)
        self._tail = b""
        self._file_lock = threading.Lock()

    def start(self) -> SerialPrinterSimulator:
        self.output.parent.mkdir(parents=True, exist_ok=True)
        self.output.touch()
        super().start()
        return self

    def on_bytes(self, data: bytes) -> None:
        with self._file_lock, open(self.output, "ab") as fh:
            fh.write(data)
        # A status request may straddle two reads: look at the joined tail.
        window = self._tail + data
        for _ in range(window.count(DLE_EOT)):
            self.send(bytes([STATUS_OK]))
        self._tail = window[-1:]

    def wait_jobs(self, count: int, timeout: float = 5.0) -> list[bytes]:
        """The jobs once ``count`` have arrived up to their cut (bytes cross the pty on the simulator's thread)."""
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs()
            if sum(CUT_PREFIX in j for j in jobs) >= count or time.monotonic() >= deadline:
                return jobs
            time.sleep(0.01)

    def jobs(self) -> list[bytes]:
        """Every job printed so far, each ending with its cut command."""
        return split_jobs(self.output.read_bytes() if self.output.exists() else b"")

    def ctl_state(self) -> dict[str, Any]:
        """Output file and how many receipts were printed."""
        return {**super().ctl_state(), "output": str(self.output), "jobs": len(self.jobs())}

    def ctl_clear(self) -> dict[str, Any]:
        """Throw the printed receipts away (empty the output file)."""
        with self._file_lock:
            self.output.write_bytes(b"")
        return self.ctl_state()
