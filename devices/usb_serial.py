"""Finding the kiosk's USB serial adapters and naming them stably with udev rules.

ttyUSB numbers change with plug order, so the kiosk opens /dev/kiosk-idcard and friends. An adapter
with a serial number is matched by vendor/product/serial; many cheap CH340 adapters have none, and
are matched by the USB port they sit in instead (which then must not change).
"""

from __future__ import annotations

from dataclasses import dataclass

from serial.tools import list_ports


@dataclass(frozen=True)
class SerialAdapter:
    device: str  # /dev/ttyUSB0
    vid: int | None
    pid: int | None
    serial_number: str | None
    location: str | None  # USB port path as the kernel names the interface, e.g. "1-1.2:1.0"
    description: str

    @property
    def is_usb(self) -> bool:
        return self.vid is not None and self.pid is not None


def list_adapters() -> list[SerialAdapter]:
    """Serial adapters attached now (USB ones first)."""
    found = [
        SerialAdapter(p.device, p.vid, p.pid, p.serial_number or None, p.location or None,
                      p.description or p.product or "")
        for p in list_ports.comports()
    ]
    return sorted(found, key=lambda a: (not a.is_usb, a.device))


def udev_rule(adapter: SerialAdapter, name: str) -> str:
    """One udev rule line giving the adapter the stable name /dev/<name>.

    Matches by serial number when the adapter has one, else by USB port (with a comment saying so).
    """
    tail = f'SYMLINK+="{name}", GROUP="dialout", MODE="0660"'
    if not adapter.is_usb:
        return f"# {adapter.device} is not a USB adapter: use its fixed name {adapter.device} in the config"
    ids = f'SUBSYSTEM=="tty", ATTRS{{idVendor}}=="{adapter.vid:04x}", ATTRS{{idProduct}}=="{adapter.pid:04x}"'
    if adapter.serial_number:
        return f'{ids}, ATTRS{{serial}}=="{adapter.serial_number}", {tail}'
    if adapter.location:
        return (f"# no serial number: matched by USB port {adapter.location}; keep it in that port\n"
                f'{ids}, KERNELS=="{adapter.location}", {tail}')
    return f"# {adapter.device} has neither a serial number nor a USB port path; name it by hand"


def proposal(adapters: list[SerialAdapter], names: list[str]) -> str:
    """A rules file text naming the given adapters in order (kiosk-idcard, kiosk-fingerprint, …)."""
    lines = ["# /etc/udev/rules.d/99-kiosk.rules — proposed by `kiosk devices identify`",
             "# Check which adapter is which (unplug one, run again) before installing."]
    for adapter, name in zip(adapters, names, strict=False):
        lines.append(f"# {adapter.device}: {adapter.description}")
        lines.append(udev_rule(adapter, name))
    return "\n".join(lines) + "\n"
