"""One serial port, opened on demand, read with deadlines and cancellation.

Drivers frame their own protocol on top of ``read_exact``/``read_until``; this class turns every
pyserial failure into ``DeviceOffline`` so an unplugged USB adapter or a stopped simulator is one
clear error, and a reopen after it works. The port is never opened in a constructor.
"""

from __future__ import annotations

import contextlib
import logging
import os
import termios
import threading

import serial

from devices.cancel import CancelToken, Deadline
from devices.errors import DeviceOffline

log = logging.getLogger(__name__)

# Short reads let a waiting command notice a cancel or its deadline quickly.
_POLL_SECONDS = 0.02


class SerialLink:
    """A pyserial port with open/close/reopen, exact reads and one-command-at-a-time locking."""

    def __init__(self, port: str, baudrate: int, *, device: str, rs485: bool = False) -> None:
        self.port = port
        self.baudrate = baudrate
        self.device = device
        self.rs485 = rs485
        self._serial: serial.Serial | None = None
        # Held by a driver for a whole request/answer exchange, so two threads never interleave.
        self.lock = threading.RLock()

    @property
    def is_open(self) -> bool:
        return self._serial is not None and self._serial.is_open

    def open(self) -> None:
        if self.is_open:
            return
        try:
            # serial_for_url also takes loop://, socket:// and spy:// for debugging (PROTOCOLS.md 5).
            self._serial = serial.serial_for_url(
                self.port, baudrate=self.baudrate, bytesize=8, parity="N", stopbits=1,
                timeout=_POLL_SECONDS, write_timeout=2.0, exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            self._serial = None
            errno = exc.args[0] if exc.args and isinstance(exc.args[0], int) else getattr(exc, "errno", None)
            why = os.strerror(errno) if isinstance(errno, int) else str(exc)
            raise DeviceOffline(f"cannot open {self.port}: {why}", device=self.device) from exc
        log.info("%s: opened %s at %d baud", self.device, self.port, self.baudrate)

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                ser.close()

    def _port(self) -> serial.Serial:
        if not self.is_open:
            raise DeviceOffline(f"{self.port} is not open", device=self.device)
        assert self._serial is not None
        return self._serial

    def _lost(self, exc: Exception) -> DeviceOffline:
        self.close()
        return DeviceOffline(f"lost {self.port}: {exc}", device=self.device)

    def discard_input(self) -> None:
        """Drop stale bytes (a late answer to a timed-out command) before a new request."""
        try:
            self._port().reset_input_buffer()
        except (serial.SerialException, OSError, termios.error) as exc:  # tcflush on a vanished pty
            raise self._lost(exc) from exc

    def write(self, data: bytes) -> None:
        try:
            port = self._port()
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError, termios.error) as exc:  # tcdrain on a vanished pty
            raise self._lost(exc) from exc

    def read_exact(self, n: int, deadline: Deadline, cancel: CancelToken | None = None) -> bytes:
        """Read exactly ``n`` bytes or raise DeviceTimeout / DeviceCancelled / DeviceOffline."""
        buf = bytearray()
        port = self._port()
        while len(buf) < n:
            deadline.check(cancel)
            try:
                chunk = port.read(n - len(buf))
            except (serial.SerialException, OSError, termios.error) as exc:
                raise self._lost(exc) from exc
            buf += chunk
        return bytes(buf)

    def read_until_byte(self, first: bytes, deadline: Deadline, cancel: CancelToken | None = None) -> int:
        """Skip noise until one of the bytes in ``first`` arrives; returns that byte's value."""
        port = self._port()
        while True:
            deadline.check(cancel)
            try:
                b = port.read(1)
            except (serial.SerialException, OSError) as exc:
                raise self._lost(exc) from exc
            if b and b[0] in first:
                return b[0]
