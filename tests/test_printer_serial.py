"""The receipt printer driver over a real pty to the serial ESC/POS printer simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.printer import PrinterOffline, ReceiptPrinter, chinese_text
from devices.printer.serial_sim import SerialPrinterSimulator
from devices.status import DeviceStatus


def test_a_receipt_reaches_the_printer_byte_for_byte(tmp_path: Path) -> None:
    with SerialPrinterSimulator(tmp_path / "out.bin", pacing=False) as sim:
        printer = ReceiptPrinter("serial", sim.port)
        printer.print_job(lambda p: p.text("CASE K7M4Q2XP\n"))
        printer.print_job(lambda p: p.text("CASE H3N8R5TW\n"))
        jobs = sim.wait_jobs(2)
    assert len(jobs) == 2
    assert jobs[0].startswith(b"\x1b@") and b"CASE K7M4Q2XP" in jobs[0] and jobs[0].endswith(jobs[0][-3:])
    assert b"\x1dV" in jobs[1] and b"H3N8R5TW" in jobs[1]
    assert printer.status.status is not DeviceStatus.OFFLINE


def test_chinese_text_goes_out_as_gb18030(tmp_path: Path) -> None:
    with SerialPrinterSimulator(tmp_path / "out.bin", pacing=False) as sim:
        printer = ReceiptPrinter("serial", sim.port)
        printer.print_job(lambda p: chinese_text(p, "取件码"))
        sim.wait_jobs(1)
        data = sim.output.read_bytes()
    assert "取件码".encode("gb18030") in data


def test_a_missing_printer_is_offline_with_a_clear_error(tmp_path: Path) -> None:
    printer = ReceiptPrinter("serial", str(tmp_path / "no-such-port"))
    with pytest.raises(PrinterOffline):
        printer.print_job(lambda p: p.text("x"))
    assert printer.status.status is DeviceStatus.OFFLINE
