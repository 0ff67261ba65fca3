"""ESC/POS receipt printer (python-escpos backends) and its file-writing simulator."""

from devices.printer.driver import KINDS, ReceiptPrinter, chinese_text
from devices.printer.errors import PrinterConfigError, PrinterError, PrinterFault, PrinterOffline
from devices.printer.simulator import FileSinkPrinter, ReceiptPrinterSimulator, split_jobs

__all__ = [
    "KINDS",
    "FileSinkPrinter",
    "PrinterConfigError",
    "PrinterError",
    "PrinterFault",
    "PrinterOffline",
    "ReceiptPrinter",
    "ReceiptPrinterSimulator",
    "chinese_text",
    "split_jobs",
]
