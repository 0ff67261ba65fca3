"""ESC/POS receipt printer through python-escpos: one backend per connection kind, jobs as callables.

python-escpos already has a backend per connection (``Serial``, ``Network``, ``Usb``, ``File``) and
the command layer (text, QR, cut); this driver only adds what the kiosk needs around it: the
status tracker, typed errors, ``is_usable()`` (is the backend's Python dependency installed),
opening per job (a thermal printer that was switched off and on again must just work on the next
receipt), and Chinese text, which python-escpos's code-page encoder cannot do: the printer is
put in its GB18030 Chinese mode (``FS &``) and the bytes are sent raw.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.exceptions import Error as EscposError

from devices.printer.errors import PrinterConfigError, PrinterFault, PrinterOffline
from devices.printer.simulator import FileSinkPrinter, ReceiptPrinterSimulator
from devices.status import DeviceStatus, StatusTracker

log = logging.getLogger(__name__)

KINDS = ("serial", "network", "usb", "file", "simulator")
FS_CHINESE_ON = b"\x1c&"
FS_CHINESE_OFF = b"\x1c."


def _backend_class(kind: str) -> type[Escpos]:
    from escpos import printer as p

    classes: dict[str, type[Escpos]] = {"serial": p.Serial, "network": p.Network, "usb": p.Usb, "file": p.File}
    if kind == "simulator":
        return FileSinkPrinter
    if kind not in classes:
        raise PrinterConfigError(f"printer kind {kind!r} is not one of {', '.join(KINDS)}", device="printer")
    return classes[kind]


class ReceiptPrinter:
    """One receipt printer; ``print_job(render)`` opens, renders, cuts and closes."""

    def __init__(
        self,
        kind: str,
        target: str,
        *,
        baudrate: int = 9600,
        timeout: float = 5.0,
        profile: str | None = None,
        name: str = "printer",
        simulator: ReceiptPrinterSimulator | None = None,
    ) -> None:
        self.kind = kind
        self.target = target
        self.baudrate = baudrate
        self.timeout = timeout
        self.profile = profile
        self.name = name
        self.simulator = simulator
        self.status = StatusTracker(name)
        self.jobs_printed = 0
        self._backend_cls = _backend_class(kind)
        self._lock = threading.Lock()

    def is_usable(self) -> bool:
        """True when the backend can work here (python-escpos's check of its optional dependency)."""
        try:
            return bool(self._backend_cls.is_usable())
        except Exception:  # a backend's own check must not break the kiosk
            return False

    def _make(self) -> Escpos:
        if not self.is_usable():
            raise PrinterConfigError(
                f"printer backend {self.kind!r} is not usable (its Python dependency is missing)", device=self.name
            )
        kw: dict[str, Any] = {"profile": self.profile} if self.profile else {}
        if self.kind == "simulator":
            if self.simulator is not None:
                return FileSinkPrinter(self.target, self.simulator, **kw)
            return FileSinkPrinter(self.target, **kw)
        if self.kind == "serial":
            return self._backend_cls(devfile=self.target, baudrate=self.baudrate, timeout=self.timeout, **kw)
        if self.kind == "network":
            host, _, port = self.target.partition(":")
            return self._backend_cls(host=host, port=int(port or 9100), timeout=self.timeout, **kw)
        if self.kind == "usb":
            vendor, _, product = self.target.partition(":")
            try:
                ids = int(vendor, 16), int(product, 16)
            except ValueError:
                raise PrinterConfigError(f"usb printer target must be VID:PID in hex, got {self.target!r}") from None
            return self._backend_cls(*ids, timeout=int(self.timeout * 1000), **kw)
        return self._backend_cls(devfile=self.target, **kw)

    def open(self) -> None:
        """Check once that a job could be sent (nothing stays open between jobs)."""
        self.print_job(None)

    def close(self) -> None:
        self.status.set(DeviceStatus.OFFLINE, "closed")

    def probe(self) -> str:
        self.print_job(None)
        return f"ESC/POS {self.kind} printer at {self.target}, {self.jobs_printed} jobs printed"

    def print_job(self, render: Callable[[Escpos], None] | None) -> None:
        """Open the connection, run ``render`` on the command layer, cut, close.

        ``render`` None only opens and closes (probe). Every python-escpos or OS failure comes out as
        a ``PrinterError`` subclass; the status follows (OFFLINE on a lost connection).
        """
        with self._lock:
            self.status.set(DeviceStatus.BUSY, "printing" if render else "probing")
            printer: Escpos | None = None
            try:
                printer = self._make()
                printer.open()
                if render is not None:
                    printer.hw("INIT")
                    render(printer)
                    printer.cut()
            except (PrinterConfigError, PrinterOffline) as exc:
                self.status.set(DeviceStatus.OFFLINE, exc.message)
                raise
            except (DeviceNotFoundError, OSError) as exc:
                self.status.set(DeviceStatus.OFFLINE, str(exc))
                raise PrinterOffline(f"printer not reachable: {exc}", device=self.name) from exc
            except EscposError as exc:
                self.status.set(DeviceStatus.HARDWARE_ERROR, str(exc))
                raise PrinterFault(f"printer refused the job: {exc}", device=self.name) from exc
            finally:
                if printer is not None:
                    try:
                        printer.close()
                    except OSError as exc:
                        self.status.set(DeviceStatus.OFFLINE, str(exc))
                        raise PrinterOffline(f"printer lost while sending: {exc}", device=self.name) from exc
            if render is not None:
                self.jobs_printed += 1
            self.status.set(DeviceStatus.ONLINE, f"{self.kind} {self.target}")


def chinese_text(printer: Escpos, text: str) -> None:
    """Print a line that may hold Chinese: GB18030 bytes in the printer's Chinese mode."""
    printer._raw(FS_CHINESE_ON + text.encode("gb18030", errors="replace") + b"\n" + FS_CHINESE_OFF)
