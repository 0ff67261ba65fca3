"""Receipt-printer errors: the flow then shows the code on screen only and tells staff."""

from __future__ import annotations

from devices.errors import DeviceError, DeviceOffline, HardwareError, Recovery


class PrinterError(DeviceError):
    code = "printer.error"


class PrinterConfigError(PrinterError):
    """Unknown backend, missing target, or a backend whose Python dependency is not installed."""

    recovery = Recovery.MAINTENANCE
    code = "printer.config"


class PrinterOffline(PrinterError, DeviceOffline):
    """The port, file or socket cannot be opened or written (unplugged, powered off)."""

    code = "printer.offline"


class PrinterFault(PrinterError, HardwareError):
    """python-escpos refused the job (bad QR size, text it cannot encode…) or the printer reported a fault."""

    code = "printer.fault"
