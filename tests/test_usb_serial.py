"""udev rule proposals for the kiosk's serial adapters."""

from __future__ import annotations

from devices.usb_serial import SerialAdapter, proposal, udev_rule

FTDI = SerialAdapter("/dev/ttyUSB0", 0x0403, 0x6001, "A50285BI", "1-1.2:1.0", "FT232R USB UART")
CH340 = SerialAdapter("/dev/ttyUSB1", 0x1A86, 0x7523, None, "1-1.3:1.0", "USB Serial")


def test_adapter_with_serial_number_is_matched_by_it() -> None:
    rule = udev_rule(FTDI, "kiosk-idcard")
    assert rule == ('SUBSYSTEM=="tty", ATTRS{idVendor}=="0403", ATTRS{idProduct}=="6001", '
                    'ATTRS{serial}=="A50285BI", SYMLINK+="kiosk-idcard", GROUP="dialout", MODE="0660"')


def test_adapter_without_serial_number_is_matched_by_usb_port() -> None:
    rule = udev_rule(CH340, "kiosk-locker")
    assert 'KERNELS=="1-1.3:1.0"' in rule and "keep it in that port" in rule
    assert 'ATTRS{serial}' not in rule


def test_proposal_names_adapters_in_order() -> None:
    text = proposal([FTDI, CH340], ["kiosk-idcard", "kiosk-locker"])
    assert text.index("kiosk-idcard") < text.index("kiosk-locker")

