"""Builds drivers and simulators from the configuration.

This is the only place that knows which class serves which configured device. Simulator mode
changes the port (a pty link, a vpcd reader, an MJPEG URL) the same driver opens; it never picks
another driver.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from devices.errors import ConfigError, DeviceOffline
from devices.status import StatusTracker
from kiosk.config import (
    CameraConfig,
    DoorRelayConfig,
    FingerprintConfig,
    IdCardConfig,
    KioskConfig,
    LockerConfig,
    PcscConfig,
    PrinterConfig,
)

log = logging.getLogger(__name__)

# vpcd's reader slots: "Virtual PCD 00 00" takes virtual cards on TCP 35963, "00 01" on 35964.
VPCD_BASE_PORT = 35963


class ManagedDevice(Protocol):
    """What `kiosk devices check` and the app's device supervisor need of every driver."""

    status: StatusTracker

    def open(self) -> None: ...

    def close(self) -> None: ...

    def probe(self) -> str: ...


class Simulator(Protocol):
    name: str

    def start(self) -> Any: ...

    def stop(self) -> None: ...

    def control(self, action: str, **args: Any) -> Any: ...

    def actions(self) -> dict[str, str]: ...


def camera_url_file(cfg: KioskConfig, name: str) -> Path:
    """Where a running camera simulator writes its stream URL (its port is picked at start)."""
    return cfg.simulator.run_dir / f"{name}.url"


def _camera_source(cfg: KioskConfig, dev: CameraConfig) -> int | str:
    if dev.simulated:
        try:
            return camera_url_file(cfg, dev.name).read_text().strip()
        except OSError as exc:
            raise DeviceOffline(f"no {dev.name} simulator is running (start it with `kiosk sim all`)",
                                device=dev.name) from exc
    return int(dev.source) if dev.source.isdigit() else dev.source


class CameraDevice:
    """Adapts the camera grabber (start/stop, frames) to open/close/probe."""

    def __init__(self, cfg: KioskConfig, dev: CameraConfig) -> None:
        from devices.camera import Camera

        self._cfg, self._dev = cfg, dev
        self._camera_cls = Camera
        self.camera: Any = None
        self.status = StatusTracker(dev.name)

    def open(self) -> None:
        source = _camera_source(self._cfg, self._dev)
        self.camera = self._camera_cls(source, name=self._dev.name, width=self._dev.width,
                                       height=self._dev.height, fourcc=self._dev.fourcc)
        self.status = self.camera.status
        self.camera.start()

    def close(self) -> None:
        if self.camera is not None:
            self.camera.stop()

    def probe(self) -> str:
        if self.camera is None:
            self.open()
        return str(self.camera.probe())


def make_driver(cfg: KioskConfig, name: str) -> ManagedDevice:
    """The driver for one configured device, not yet opened."""
    dev = cfg.devices[name]
    if isinstance(dev, IdCardConfig):
        from devices.idcard import IdCardReader
        from devices.idcard.wlt import SimulatorPhotoDecoder, VendorWltDecoder

        decoder: Any = None
        if dev.wlt_decoder:
            decoder = VendorWltDecoder(dev.wlt_decoder)
        elif dev.simulated:
            decoder = SimulatorPhotoDecoder()
        return IdCardReader(cfg.port_of(dev), dev.baudrate, timeout=dev.timeout, wlt_decoder=decoder)
    if isinstance(dev, FingerprintConfig):
        from devices.fingerprint import FingerprintSensor

        return FingerprintSensor(cfg.port_of(dev), dev.baudrate, address=dev.address, password=dev.password,
                                 timeout=dev.timeout)
    if isinstance(dev, LockerConfig):
        from devices.lockerboard import LockerBus

        return LockerBus(cfg.port_of(dev), dev.baudrate, boards={b.address: b.protocol for b in dev.boards},
                         pulse_ms=dev.pulse_ms, gap_ms=dev.gap_ms, timeout=dev.timeout)
    if isinstance(dev, DoorRelayConfig):
        return make_door_relay(cfg, dev)
    if isinstance(dev, PcscConfig):
        from devices.pcsc import PcscReader

        return PcscReader(dev.reader, device=name)
    if isinstance(dev, CameraConfig):
        return CameraDevice(cfg, dev)
    if isinstance(dev, PrinterConfig):
        from devices.printer import ReceiptPrinter

        # Simulated: the serial ESC/POS printer simulator's pty, whatever the real printer's kind.
        kind, target = ("serial", cfg.port_of(dev)) if dev.simulated else (dev.kind, dev.target)
        return ReceiptPrinter(kind, target, baudrate=dev.baudrate, timeout=dev.timeout, profile=dev.profile or None)
    raise ConfigError(f"no driver for device {name!r}")


class RelayOnOwnBus:
    """A board-channel relay checked on its own (``kiosk devices check``): it opens the bus it sits on.

    In the app the relay shares the locker bus the locker service already opened, and this wrapper
    is not used.
    """

    def __init__(self, relay: Any, bus: Any) -> None:
        self.relay, self.bus = relay, bus
        self.status = relay.status

    def open(self) -> None:
        self.bus.open()

    def close(self) -> None:
        self.bus.close()

    def probe(self) -> str:
        self.bus.probe()
        return str(self.relay.probe())


def make_door_relay(cfg: KioskConfig, dev: DoorRelayConfig, bus: Any = None) -> Any:
    """The entrance relay: a lock output of a locker board (sharing its bus) or a relay board of its own."""
    if dev.kind == "locker_channel":
        from devices.relay import BoardChannelRelay

        if bus is None:
            own_bus = make_driver(cfg, "locker")
            return RelayOnOwnBus(BoardChannelRelay(own_bus, dev.board, dev.lock), own_bus)
        return BoardChannelRelay(bus, dev.board, dev.lock)
    from devices.relay import LcusRelay

    return LcusRelay(cfg.port_of(dev), dev.baudrate)


def make_simulator(cfg: KioskConfig, name: str, *, link: str | None = None, pacing: bool | None = None) -> Simulator:
    """A simulator for one device, at the place the driver will look for it in simulator mode."""
    dev = cfg.devices[name]
    pace = cfg.simulator.pacing if pacing is None else pacing
    if link is None:
        link = str(cfg.simulator.link(name))
    if isinstance(dev, IdCardConfig):
        from devices.idcard.simulator import IdCardSimulator

        return IdCardSimulator(baudrate=dev.baudrate, pacing=pace, link=link)
    if isinstance(dev, FingerprintConfig):
        from devices.fingerprint import FingerprintSimulator

        return FingerprintSimulator(baudrate=dev.baudrate, pacing=pace, link=link, address=dev.address,
                                    password=dev.password)
    if isinstance(dev, LockerConfig):
        from devices.lockerboard import LockerSimulator

        return LockerSimulator(baudrate=dev.baudrate, pacing=pace, link=link,
                               boards={b.address: b.protocol for b in dev.boards})
    if isinstance(dev, DoorRelayConfig):
        if dev.kind == "locker_channel":
            raise ConfigError("the door relay is a locker-board channel: it is simulated by the locker simulator")
        from devices.relay import RelaySimulator

        return RelaySimulator(baudrate=dev.baudrate, pacing=pace, link=link)
    if isinstance(dev, PcscConfig):
        from devices.pcsc import VirtualCardSimulator

        return VirtualCardSimulator(port=VPCD_BASE_PORT + _vpcd_slot(dev.reader), name=name)
    if isinstance(dev, CameraConfig):
        return CameraSimulatorAtUrlFile(cfg, dev)
    if isinstance(dev, PrinterConfig):
        from devices.printer.serial_sim import SerialPrinterSimulator

        return SerialPrinterSimulator(cfg.simulator.run_dir / "printer-output.bin", baudrate=dev.baudrate,
                                      pacing=pace, link=link)
    raise ConfigError(f"no simulator for device {name!r}")


def _vpcd_slot(reader: str) -> int:
    """vpcd's slot number from its reader name ("Virtual PCD 00 01" → 1)."""
    parts = reader.split()
    with contextlib.suppress(ValueError, IndexError):
        return int(parts[-1])
    return 0


class CameraSimulatorAtUrlFile:
    """A camera simulator that publishes its stream URL where the driver looks in simulator mode."""

    def __init__(self, cfg: KioskConfig, dev: CameraConfig) -> None:
        from devices.camera import CameraSimulator

        self.name = dev.name
        self._url_file = camera_url_file(cfg, dev.name)
        # The face camera starts on an empty room, the document camera on a page lying on the desk.
        scene = "document" if dev.name == "document_camera" else "nobody"
        self.sim = CameraSimulator(size=(dev.width, dev.height), name=dev.name, scene=scene)

    @property
    def port(self) -> str:
        return str(self.sim.url)

    def start(self) -> CameraSimulatorAtUrlFile:
        self.sim.start()
        self._url_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._url_file.with_suffix(".tmp")
        tmp.write_text(self.sim.url)
        tmp.replace(self._url_file)
        return self

    def stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._url_file.unlink()
        self.sim.stop()

    def control(self, action: str, **args: Any) -> Any:
        return self.sim.control(action, **args)

    def actions(self) -> dict[str, str]:
        return dict(self.sim.actions())


def simulated_devices(cfg: KioskConfig) -> list[str]:
    """Devices that get a simulator of their own in simulator mode (a relay on a locker board does not)."""
    out = []
    for name, dev in cfg.devices.items():
        if not (dev.enabled and dev.simulated):
            continue
        if isinstance(dev, DoorRelayConfig) and dev.kind == "locker_channel":
            continue
        out.append(name)
    return out


@dataclass
class CheckResult:
    device: str
    ok: bool
    status: str
    detail: str
    seconds: float


def check_device(cfg: KioskConfig, name: str) -> CheckResult:
    """Open, probe and close one device; any KioskError becomes a failed line, never a traceback."""
    from devices.errors import KioskError

    start = time.monotonic()
    dev = cfg.devices[name]
    if not dev.enabled:
        return CheckResult(name, True, "not_configured", "disabled in the configuration", 0.0)
    driver: ManagedDevice | None = None
    try:
        driver = make_driver(cfg, name)
        driver.open()
        detail = driver.probe()
        return CheckResult(name, True, str(driver.status.status), detail, time.monotonic() - start)
    except KioskError as exc:
        status = str(driver.status.status) if driver is not None else "offline"
        hint = ""
        if dev.simulated and isinstance(exc, DeviceOffline) and "kiosk sim" not in exc.message:
            hint = " (simulated: is `kiosk sim all` running?)"
        return CheckResult(name, False, status,
                           f"{exc.message}{hint} [{exc.code}; recovery: {exc.recovery.value}]",
                           time.monotonic() - start)
    except Exception as exc:  # a driver bug must still give a line naming the device, not a traceback
        log.exception("%s: check failed unexpectedly", name)
        return CheckResult(name, False, "offline", f"unexpected error: {exc!r}", time.monotonic() - start)
    finally:
        if driver is not None:
            with contextlib.suppress(Exception):
                driver.close()
