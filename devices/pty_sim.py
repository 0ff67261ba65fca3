"""Base of every serial simulator: a device at the far end of a real pseudo-terminal.

The driver opens the pty's slave path exactly as it would open ``/dev/ttyUSB0``; the simulator
reads and writes the master side with the device's exact bytes. With pacing on, bytes take the
time they would take on the wire at the configured baud rate in both directions, so timings in
simulator mode are those of real hardware; unit tests switch pacing off.

Subclasses implement ``on_bytes`` (framing and answers) and expose test/panel actions as methods
named ``ctl_<action>``, reachable through ``control()`` from the simulator panel or ``kiosk sim``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pty
import select
import threading
import time
import tty
from typing import Any

from devices.sim_actions import SimulatorActions
from devices.wire_time import wire_seconds

log = logging.getLogger(__name__)

_CHUNK = 64  # bytes written per paced step: fine enough that arrival time tracks the wire


class PtySimulator(SimulatorActions):
    """A simulated serial device serving one pty until ``stop()``."""

    name = "device"

    def __init__(self, *, baudrate: int, pacing: bool = True, link: str | None = None) -> None:
        self.baudrate = baudrate
        self.pacing = pacing
        self.link = link
        self.unplugged = False  # when True the device is silent: input dropped, nothing answered
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_name = ""
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self.received = bytearray()  # every byte the host sent, for tests that check the wire

    # -- life cycle -------------------------------------------------------------------------
    @property
    def port(self) -> str:
        """The path a driver opens: the link when one was asked for, else the pty slave."""
        return self.link or self._slave_name

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> PtySimulator:
        if self.running:
            return self
        self._master, self._slave = pty.openpty()
        # Raw mode before the driver opens the port: no echo, no CR/LF mangling, all 256 values.
        tty.setraw(self._slave)
        self._slave_name = os.ttyname(self._slave)
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)
            os.makedirs(os.path.dirname(os.path.abspath(self.link)), exist_ok=True)
            os.symlink(self._slave_name, self.link)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        log.info("%s simulator on %s", self.name, self.port)
        return self

    def stop(self) -> None:
        """Stop serving and close the pty: a driver using it sees the device vanish."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)

    def __enter__(self) -> PtySimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- wire -------------------------------------------------------------------------------
    def _serve(self) -> None:
        assert self._master is not None
        master = self._master
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except OSError:
                # EIO while no process holds the slave open; keep serving until stopped.
                time.sleep(0.05)
                continue
            if not data:
                continue
            self.received += data
            if self.unplugged:
                continue
            if self.pacing:
                time.sleep(wire_seconds(len(data), self.baudrate))
            try:
                self.on_bytes(data)
            except Exception:  # a simulator bug must not kill the port silently
                log.exception("%s simulator failed on %s", self.name, data.hex(" "))

    def send(self, data: bytes) -> None:
        """Write bytes to the host, paced at the baud rate when pacing is on."""
        if self.unplugged or self._master is None:
            return
        with self._write_lock:
            if not self.pacing:
                self._write_all(data)
                return
            start = time.monotonic()
            for i in range(0, len(data), _CHUNK):
                chunk = data[i : i + _CHUNK]
                due = start + wire_seconds(i + len(chunk), self.baudrate)
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self._write_all(chunk)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view and self._master is not None:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                time.sleep(0.001)
                continue
            except OSError:
                return
            view = view[n:]

    def on_bytes(self, data: bytes) -> None:
        """Handle bytes from the host; subclasses buffer, frame and answer with ``send``."""
        raise NotImplementedError

    # -- control (simulator panel, ``kiosk sim``, tests) -------------------------------------
    def ctl_unplug(self) -> dict[str, Any]:
        """Go silent as if the cable were pulled (the port stays, nothing answers)."""
        self.unplugged = True
        return {"unplugged": True}

    def ctl_plug(self) -> dict[str, Any]:
        """Answer again after ``unplug``."""
        self.unplugged = False
        return {"unplugged": False}

    def ctl_state(self) -> dict[str, Any]:
        """What the simulator holds now (subclasses add their own fields)."""
        return {"port": self.port, "unplugged": self.unplugged}
