"""The kiosk's one TOML configuration file, validated at start.

Every value is checked before any device is touched, and every problem is reported at once with
its dotted key and what would be valid ("devices.locker.baudrate: 12345 is not a standard baud
rate; use one of …"), because the person reading it is an installer technician at the kiosk, not
the developer. Simulation is per device and only changes where the port points.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.errors import ConfigError

STANDARD_BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
SERIAL_DEVICES = ("idcard", "fingerprint", "locker")
PCSC_DEVICES = ("staff_reader", "door_reader")
CAMERA_DEVICES = ("face_camera", "document_camera")
ALL_DEVICES = (*SERIAL_DEVICES, "door_relay", *PCSC_DEVICES, *CAMERA_DEVICES, "printer")
PRINTER_KINDS = ("serial", "network", "usb", "file")
LOCKER_PROTOCOLS = ("cu48",)
RELAY_KINDS = ("locker_channel", "relay_board")


@dataclass(frozen=True)
class DeviceConfig:
    """What every device section has."""

    name: str
    enabled: bool
    simulated: bool


@dataclass(frozen=True)
class SerialConfig(DeviceConfig):
    port: str
    baudrate: int
    timeout: float


@dataclass(frozen=True)
class IdCardConfig(SerialConfig):
    wlt_decoder: str  # path of the vendor's WLT photo library; "" = none configured


@dataclass(frozen=True)
class FingerprintConfig(SerialConfig):
    address: int
    password: int


@dataclass(frozen=True)
class BoardConfig:
    address: int
    protocol: str


@dataclass(frozen=True)
class LockerConfig(SerialConfig):
    pulse_ms: int
    gap_ms: int
    boards: tuple[BoardConfig, ...]


@dataclass(frozen=True)
class DoorRelayConfig(DeviceConfig):
    kind: str
    open_seconds: float
    board: int  # for kind = locker_channel
    lock: int
    port: str  # for kind = relay_board
    baudrate: int


@dataclass(frozen=True)
class PcscConfig(DeviceConfig):
    reader: str  # a part of the PC/SC reader name


@dataclass(frozen=True)
class CameraConfig(DeviceConfig):
    source: str  # a device index ("0"), a /dev/video path or a URL
    width: int
    height: int
    fourcc: str


@dataclass(frozen=True)
class PrinterConfig(DeviceConfig):
    kind: str  # serial (a port), network (host:port), usb (VID:PID), file (a device file)
    target: str
    baudrate: int
    timeout: float
    profile: str  # python-escpos printer profile name; "" = default

    @property
    def port(self) -> str:
        return self.target


@dataclass(frozen=True)
class SimulatorConfig:
    enabled: bool
    pacing: bool
    run_dir: Path

    @property
    def control_socket(self) -> Path:
        return self.run_dir / "control.sock"

    def link(self, device: str) -> Path:
        return self.run_dir / device


@dataclass(frozen=True)
class StoreConfig:
    data_dir: Path  # database, audit anchor, encrypted scans
    key_file: Path  # outside data_dir: a copy of the data alone reveals nothing
    create_key: bool  # make the key on first start (a restored kiosk must get its old key back instead)
    retention_days: float  # personal data of a collected case is deleted this long after collection
    min_free_mb: int  # below this the kiosk stops taking new deposits (doctor shows red)
    uncollected_days: float = 90.0  # a deposit staff never collected is purged this long after it (0: never)
    uncollected_warn_days: float = 7.0  # staff are alerted this many days before that purge


COMPARTMENT_SIZES = ("small", "medium", "large")


@dataclass(frozen=True)
class CompartmentSpec:
    id: str  # printed on the door, e.g. "A03"
    size: str  # small / medium / large
    board: int
    lock: int


@dataclass(frozen=True)
class LockersConfig:
    compartments: tuple[CompartmentSpec, ...]
    reservation_ttl_s: float  # a compartment reserved for a resident who walked away frees itself
    door_open_confirm_s: float  # the sensor must show the door open this soon after the pulse, else jammed
    left_open_reminder_s: float  # door still open: remind the person at the kiosk
    left_open_alert_s: float  # still open: alert staff


@dataclass(frozen=True)
class UiConfig:
    orientation: str  # portrait (1080×1920) or landscape (1920×1080)
    idle_timeout: float  # seconds without a touch before the session is wiped
    idle_warning: float  # the "still there?" countdown before that
    language: str  # zh or en at the start of every session
    large_text: bool
    speech: bool  # chime and spoken prompts (espeak-ng when installed)
    preview_fps: float
    required_devices: tuple[str, ...] | None  # None: every enabled device takes the kiosk out of service
    touch_input: str  # "" = SDL's mouse/touch; else one Kivy provider, e.g. "mtdev,/dev/input/event3"
    screen_diagonal_in: float = 21.5  # the panel's diagonal: turns "15 mm" into pixels
    volume: int = 80  # spoken prompts, 0–100 (staff change it in maintenance mode)
    quiet_hours: str = "22:00-07:00"  # "" for none: prompts at quiet_volume then
    quiet_volume: int = 40


@dataclass(frozen=True)
class AlertsConfig:
    urls: tuple[str, ...]  # apprise URLs for staff: mailto://, dingtalk://, wecom://, json://…
    resident_urls: tuple[str, ...]  # where "your results are ready" goes (an SMS gateway), if anywhere
    device_down_minutes: float = 5.0  # a required device down this long raises a staff alert (and its return)


@dataclass(frozen=True)
class FlowsConfig:
    guide_file: Path  # the service guide (办事指南)
    max_face_tries: int
    max_finger_tries: int
    max_door_attempts: int  # jammed doors in a row before the resident is sent to staff
    finger_timeout_s: float
    door_settle_timeout_s: float  # after a cancel at an open door: how long to wait for it to shut
    fingerprint_first_page: int  # sensor pages the kiosk may use for residents' templates
    fingerprint_pages: int
    timeouts: dict[str, float]  # per-step time-outs ("card", "face", "guide", …) overriding the defaults


@dataclass(frozen=True)
class DoorEntryConfig:
    schedule: tuple[str, ...]  # when the door reader may open the door ("mon-fri 17:30-08:30")
    deny_file: Path  # one card UID per line
    closures: tuple[str, ...] = ()  # local closures: the door works all day ("2026-12-24", "2027-01-04..2027-01-05")
    workdays: tuple[str, ...] = ()  # make-up working days the holiday calendar does not know yet


@dataclass(frozen=True)
class BackofficeConfig:
    """Where committed cases go (kiosk/sync): the town's back office, over HTTPS with its own CA."""

    enabled: bool = False
    url: str = ""  # base URL, e.g. https://backoffice.qidu.example; http:// only in simulator mode
    ca_file: Path | None = None  # PEM of the back office's certificate or CA; None = the system's CAs
    credential_file: Path | None = None  # None = "backoffice.credential" beside the store's key file
    poll_interval_s: float = 5.0  # how often the outbox looks for work when nothing woke it
    retry_min_s: float = 5.0  # first wait after a failed delivery, doubling up to retry_max_s
    retry_max_s: float = 600.0
    refused_retry_s: float = 3600.0  # a refused package (4xx) or a revoked kiosk: try again this rarely
    timeout_s: float = 30.0  # one HTTP request
    heartbeat_interval_s: float = 30.0  # kiosk/sync/heartbeat.py: status to the fleet dashboard
    pull_interval_s: float = 30.0  # kiosk/sync/pull.py: staff accounts, guide, results (revocations reach
    # the kiosk within this long)
    public_url: str = ""  # the back office's address as residents' phones reach it (receipt QR code:
    # <public_url>/track/<case code>); "" = url
    phone_step: bool = True  # ask for a mobile number after the papers (the back office texts the resident)
    rating_step: bool = True  # 好差评 at the end of a deposit and of a result pickup

    @property
    def track_base_url(self) -> str:
        """Where the receipt's QR code points; "" (no back office) keeps the bare case code."""
        return self.public_url or self.url


@dataclass(frozen=True)
class FaceConfig:
    """[face]: how this kiosk runs the face check (its thresholds are ``FaceCheckConfig``'s defaults)."""

    # the face worker's CPU priority: a nice value (-20..19) or "idle" (SCHED_IDLE); a resident waits
    # for it, so normal by default (devices/cpu_priority.py, BENCHMARKS.md "Face check")
    worker_nice: int | str = 0


@dataclass(frozen=True)
class KioskConfig:
    path: Path
    name: str
    state_dir: Path
    simulator: SimulatorConfig
    store: StoreConfig
    alerts: AlertsConfig
    lockers: LockersConfig
    ui: UiConfig
    flows: FlowsConfig
    door_entry: DoorEntryConfig
    devices: dict[str, DeviceConfig] = field(default_factory=dict)
    backoffice: BackofficeConfig = field(default_factory=BackofficeConfig)
    help_phone: str = ""  # the centre's number shown when a resident calls for help ([kiosk] help_phone)
    face: FaceConfig = field(default_factory=FaceConfig)

    def device(self, name: str) -> DeviceConfig:
        return self.devices[name]

    def port_of(self, dev: SerialConfig | DoorRelayConfig | PrinterConfig) -> str:
        """Where the driver opens the device: the simulator's link in simulator mode."""
        return str(self.simulator.link(dev.name)) if dev.simulated else dev.port


class _Reader:
    """Pulls typed values out of a TOML table and collects every problem instead of stopping at one."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def get(self, table: dict[str, Any], key: str, where: str, kind: Any, default: Any = ...) -> Any:
        if key not in table:
            if default is ...:
                self.problems.append(f"{where}.{key}: missing")
                return kind()
            return default
        value = table[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = " or ".join(k.__name__ for k in kind) if isinstance(kind, tuple) else kind.__name__
            self.problems.append(f"{where}.{key}: expected {names}, got {value!r}")
            return default if default is not ... else kind()
        return value

    def check(self, ok: bool, message: str) -> None:
        if not ok:
            self.problems.append(message)

    def unknown_keys(self, table: dict[str, Any], where: str, known: set[str]) -> None:
        for key in sorted(set(table) - known):
            self.problems.append(f"{where}.{key}: unknown setting (known: {', '.join(sorted(known))})")


_COMMON = {"enabled", "simulated"}


def _serial(r: _Reader, t: dict[str, Any], name: str, sim: bool, default_baud: int) -> dict[str, Any]:
    where = f"devices.{name}"
    baud = r.get(t, "baudrate", where, int, default_baud)
    r.check(baud in STANDARD_BAUDS, f"{where}.baudrate: {baud} is not a standard baud rate; use one of "
            f"{', '.join(map(str, STANDARD_BAUDS))}")
    timeout = r.get(t, "timeout", where, float, 3.0)
    r.check(0 < timeout <= 60, f"{where}.timeout: {timeout} s is out of range (0–60 s)")
    port = r.get(t, "port", where, str, f"/dev/kiosk-{name}")
    r.check(bool(port), f"{where}.port: empty; give the serial port, e.g. /dev/kiosk-{name}")
    return {"name": name, "enabled": r.get(t, "enabled", where, bool, True),
            "simulated": r.get(t, "simulated", where, bool, sim), "port": port, "baudrate": baud,
            "timeout": timeout}


def _fingerprint_password(r: _Reader, file: str, state_dir: Path) -> int | None:
    """The sensor password from the systemd credential, else from ``password_file``; None: neither."""
    where = "devices.fingerprint.password_file"
    cred_dir = os.environ.get("CREDENTIALS_DIRECTORY")
    cred = Path(cred_dir) / "kiosk-fingerprint-password" if cred_dir else None
    if cred is not None and cred.exists():
        p = cred
    elif file:
        pp = Path(os.path.expanduser(file))
        p = pp if pp.is_absolute() else state_dir / pp
        try:
            mode = p.stat().st_mode & 0o077
        except OSError as exc:
            r.check(False, f"{where}: cannot read {p}: {exc.strerror}")
            return None
        r.check(mode == 0, f"{where}: {p} is readable by others; chmod 600 {p}")
    else:
        return None
    try:
        value = int(p.read_text().strip(), 0)
    except (OSError, ValueError):
        r.check(False, f"{where}: {p} must hold one number (decimal, or 0x… hex)")
        return None
    r.check(0 < value <= 0xFFFFFFFF, f"{where}: the password in {p} must be 1 to 0xFFFFFFFF (0 is the factory default)")
    return value


def parse_config(data: dict[str, Any], path: Path) -> KioskConfig:
    """Build a KioskConfig from parsed TOML; raises ConfigError listing every problem found."""
    r = _Reader()
    base = path.parent.parent if path.parent.name == "config" else path.parent
    r.unknown_keys(data, "(top level)", {"kiosk", "simulator", "store", "alerts", "lockers", "ui", "flows",
                                         "door_entry", "devices", "backoffice", "face"})
    k = data.get("kiosk", {})
    s = data.get("simulator", {})
    devs = data.get("devices", {})
    r.unknown_keys(k, "kiosk", {"name", "state_dir", "help_phone"})
    r.unknown_keys(s, "simulator", {"enabled", "pacing", "run_dir"})
    r.unknown_keys(devs, "devices", set(ALL_DEVICES))

    def resolve(p: str) -> Path:
        pp = Path(os.path.expanduser(p))
        return pp if pp.is_absolute() else base / pp

    sim = SimulatorConfig(
        enabled=r.get(s, "enabled", "simulator", bool, False),
        pacing=r.get(s, "pacing", "simulator", bool, True),
        run_dir=resolve(r.get(s, "run_dir", "simulator", str, "var/sim")),
    )
    devices: dict[str, DeviceConfig] = {}

    t = devs.get("idcard", {})
    r.unknown_keys(t, "devices.idcard", _COMMON | {"port", "baudrate", "timeout", "wlt_decoder"})
    common = _serial(r, t, "idcard", sim.enabled, 115200)
    devices["idcard"] = IdCardConfig(**common, wlt_decoder=r.get(t, "wlt_decoder", "devices.idcard", str, ""))

    t = devs.get("fingerprint", {})
    r.unknown_keys(t, "devices.fingerprint",
                   _COMMON | {"port", "baudrate", "timeout", "address", "password", "password_file"})
    common = _serial(r, t, "fingerprint", sim.enabled, 57600)
    r.check(common["baudrate"] % 9600 == 0, "devices.fingerprint.baudrate: the sensor takes multiples of 9600")
    address = r.get(t, "address", "devices.fingerprint", int, 0xFFFFFFFF)
    password = r.get(t, "password", "devices.fingerprint", int, 0)
    # The sensor's password is a secret like the data key: a file (mode 0600, outside the data) or
    # the systemd credential kiosk-fingerprint-password; the inline `password` is for simulators.
    password_file = r.get(t, "password_file", "devices.fingerprint", str, "")
    secret = _fingerprint_password(r, password_file, resolve(str(k.get("state_dir", "var"))))
    if secret is not None:
        password = secret
    for key, v in (("address", address), ("password", password)):
        r.check(0 <= v <= 0xFFFFFFFF, f"devices.fingerprint.{key}: {v} does not fit in 4 bytes")
    devices["fingerprint"] = FingerprintConfig(**common, address=address, password=password)

    t = devs.get("locker", {})
    r.unknown_keys(t, "devices.locker", _COMMON | {"port", "baudrate", "timeout", "pulse_ms", "gap_ms", "boards"})
    common = _serial(r, {"timeout": 0.5, **t}, "locker", sim.enabled, 9600)
    pulse = r.get(t, "pulse_ms", "devices.locker", int, 400)
    gap = r.get(t, "gap_ms", "devices.locker", int, 300)
    r.check(50 <= pulse <= 2000, f"devices.locker.pulse_ms: {pulse} out of range (50–2000 ms)")
    r.check(0 <= gap <= 5000, f"devices.locker.gap_ms: {gap} out of range (0–5000 ms)")
    boards: list[BoardConfig] = []
    for i, b in enumerate(t.get("boards", [{"address": 0, "protocol": "cu48"}])):
        where = f"devices.locker.boards[{i}]"
        if not isinstance(b, dict):
            r.problems.append(f"{where}: expected a table like {{ address = 0, protocol = \"cu48\" }}")
            continue
        addr = r.get(b, "address", where, int)
        proto = r.get(b, "protocol", where, str, "cu48")
        r.check(0 <= addr <= 255, f"{where}.address: {addr} out of range (0–255)")
        r.check(proto in LOCKER_PROTOCOLS, f"{where}.protocol: {proto!r} unknown; use one of {LOCKER_PROTOCOLS}")
        boards.append(BoardConfig(addr, proto))
    addrs = [b.address for b in boards]
    r.check(len(addrs) == len(set(addrs)), f"devices.locker.boards: duplicate board address in {addrs}")
    r.check(bool(boards), "devices.locker.boards: at least one board is needed")
    devices["locker"] = LockerConfig(**common, pulse_ms=pulse, gap_ms=gap, boards=tuple(boards))

    t = devs.get("door_relay", {})
    where = "devices.door_relay"
    r.unknown_keys(t, where, _COMMON | {"kind", "open_seconds", "board", "lock", "port", "baudrate"})
    kind = r.get(t, "kind", where, str, "locker_channel")
    r.check(kind in RELAY_KINDS, f"{where}.kind: {kind!r} unknown; use one of {RELAY_KINDS}")
    open_s = r.get(t, "open_seconds", where, float, 5.0)
    r.check(0.5 <= open_s <= 30, f"{where}.open_seconds: {open_s} out of range (0.5–30 s)")
    board = r.get(t, "board", where, int, 0)
    lock = r.get(t, "lock", where, int, 47)
    if kind == "locker_channel":
        r.check(board in addrs, f"{where}.board: {board} is not one of the locker boards {addrs}")
        r.check(0 <= lock <= 47, f"{where}.lock: {lock} out of range (0–47)")
    relay_baud = r.get(t, "baudrate", where, int, 9600)
    r.check(relay_baud in STANDARD_BAUDS, f"{where}.baudrate: {relay_baud} is not a standard baud rate")
    devices["door_relay"] = DoorRelayConfig(
        name="door_relay", enabled=r.get(t, "enabled", where, bool, True),
        simulated=r.get(t, "simulated", where, bool, sim.enabled), kind=kind, open_seconds=open_s,
        board=board, lock=lock, port=r.get(t, "port", where, str, "/dev/kiosk-relay"), baudrate=relay_baud,
    )

    for name, default_reader in (("staff_reader", "Virtual PCD 00 00"), ("door_reader", "Virtual PCD 00 01")):
        t = devs.get(name, {})
        where = f"devices.{name}"
        r.unknown_keys(t, where, _COMMON | {"reader"})
        simulated = r.get(t, "simulated", where, bool, sim.enabled)
        enabled = r.get(t, "enabled", where, bool, True)
        # vsmartcard's virtual readers listen on the network (any host could present a badge or a
        # door card): only simulator mode may fall back to them.
        # With none named in hardware mode the reader stays off, and `kiosk config check` says why.
        reader = r.get(t, "reader", where, str, default_reader if simulated else "")
        devices[name] = PcscConfig(name=name, enabled=enabled and bool(reader), simulated=simulated, reader=reader)

    t = devs.get("printer", {})
    where = "devices.printer"
    r.unknown_keys(t, where, _COMMON | {"kind", "target", "baudrate", "timeout", "profile"})
    pkind = r.get(t, "kind", where, str, "serial")
    r.check(pkind in PRINTER_KINDS, f"{where}.kind: {pkind!r} unknown; use one of {', '.join(PRINTER_KINDS)}")
    pbaud = r.get(t, "baudrate", where, int, 9600)
    r.check(pbaud in STANDARD_BAUDS, f"{where}.baudrate: {pbaud} is not a standard baud rate")
    printer_enabled = r.get(t, "enabled", where, bool, False)
    target = r.get(t, "target", where, str, "/dev/kiosk-printer")
    r.check(bool(target) or not printer_enabled, f"{where}.target: empty; give the port, host:port or VID:PID")
    devices["printer"] = PrinterConfig(name="printer", enabled=printer_enabled,
                                       simulated=r.get(t, "simulated", where, bool, sim.enabled), kind=pkind,
                                       target=target, baudrate=pbaud, timeout=r.get(t, "timeout", where, float, 5.0),
                                       profile=r.get(t, "profile", where, str, ""))

    for name, (w, h) in (("face_camera", (640, 480)), ("document_camera", (2592, 1944))):
        t = devs.get(name, {})
        where = f"devices.{name}"
        r.unknown_keys(t, where, _COMMON | {"source", "width", "height", "fourcc"})
        width = r.get(t, "width", where, int, w)
        height = r.get(t, "height", where, int, h)
        r.check(160 <= width <= 8192 and 120 <= height <= 8192, f"{where}: {width}×{height} is not a camera size")
        fourcc = r.get(t, "fourcc", where, str, "MJPG")
        r.check(len(fourcc) == 4, f"{where}.fourcc: {fourcc!r} must be 4 characters, e.g. MJPG or YUYV")
        devices[name] = CameraConfig(name=name, enabled=r.get(t, "enabled", where, bool, True),
                                     simulated=r.get(t, "simulated", where, bool, sim.enabled),
                                     source=str(r.get(t, "source", where, (str, int), "0")),
                                     width=width, height=height, fourcc=fourcc)

    state_dir = resolve(r.get(k, "state_dir", "kiosk", str, "var"))
    st = data.get("store", {})
    r.unknown_keys(st, "store", {"data_dir", "key_file", "create_key", "retention_days", "min_free_mb",
                                 "uncollected_days", "uncollected_warn_days"})

    def under_state(p: str) -> Path:
        pp = Path(os.path.expanduser(p))
        return pp if pp.is_absolute() else state_dir / pp

    store = StoreConfig(
        data_dir=under_state(r.get(st, "data_dir", "store", str, "data")),
        key_file=under_state(r.get(st, "key_file", "store", str, "keys/kiosk.key")),
        create_key=r.get(st, "create_key", "store", bool, True),
        retention_days=r.get(st, "retention_days", "store", float, 30.0),
        min_free_mb=r.get(st, "min_free_mb", "store", int, 500),
        uncollected_days=r.get(st, "uncollected_days", "store", float, 90.0),
        uncollected_warn_days=r.get(st, "uncollected_warn_days", "store", float, 7.0),
    )
    r.check(0 <= store.uncollected_days <= 3650,
            f"store.uncollected_days: {store.uncollected_days} out of range (0 = never, up to 3650)")
    r.check(0 <= store.uncollected_warn_days < max(store.uncollected_days, 1),
            f"store.uncollected_warn_days: {store.uncollected_warn_days} must be below uncollected_days")
    r.check(0 < store.retention_days <= 3650, f"store.retention_days: {store.retention_days} out of range (0–3650)")
    r.check(store.key_file.parent.resolve() != store.data_dir.resolve()
            and store.data_dir.resolve() not in store.key_file.resolve().parents,
            f"store.key_file: {store.key_file} lies inside store.data_dir; keep the key outside the data")
    al = data.get("alerts", {})
    r.unknown_keys(al, "alerts", {"urls", "resident_urls", "device_down_minutes"})
    device_down_minutes = r.get(al, "device_down_minutes", "alerts", float, 5.0)
    r.check(0 < device_down_minutes <= 1440, f"alerts.device_down_minutes: {device_down_minutes} out of range (0–1440)")
    urls = r.get(al, "urls", "alerts", list, [])
    resident_urls = r.get(al, "resident_urls", "alerts", list, [])
    for key, values in (("urls", urls), ("resident_urls", resident_urls)):
        for i, u in enumerate(values):
            r.check(isinstance(u, str) and "://" in u, f"alerts.{key}[{i}]: {u!r} is not an apprise URL (scheme://…)")
    lockers = _lockers(r, data.get("lockers", {}), devices["locker"])
    relay = devices["door_relay"]
    if relay.enabled and getattr(relay, "kind", "") == "locker_channel":
        for c in lockers.compartments:  # opening that compartment would open the building
            r.check((c.board, c.lock) != (relay.board, relay.lock),  # type: ignore[attr-defined]
                    f"lockers: compartment {c.id} is on board {c.board} lock {c.lock}, which drives the entrance "
                    "door (devices.door_relay); opening it would open the building: move the compartment or "
                    "the door relay to another lock")
    backoffice = _backoffice(r, data.get("backoffice", {}), resolve, sim.enabled)
    ui = _ui(r, data.get("ui", {}))
    flows = _flows(r, data.get("flows", {}), base, state_dir)
    door_entry = _door_entry(r, data.get("door_entry", {}), state_dir)
    cfg = KioskConfig(
        path=path,
        name=r.get(k, "name", "kiosk", str, "自助服务终端"),
        state_dir=state_dir,
        simulator=sim,
        store=store,
        alerts=AlertsConfig(tuple(u for u in urls if isinstance(u, str)),
                            tuple(u for u in resident_urls if isinstance(u, str)), device_down_minutes),
        lockers=lockers,
        ui=ui,
        flows=flows,
        door_entry=door_entry,
        devices=devices,
        backoffice=backoffice,
        help_phone=r.get(k, "help_phone", "kiosk", str, ""),
        face=_face(r, data.get("face", {})),
    )
    r.check(all(c.isdigit() or c in " -+()" for c in cfg.help_phone),
            f"kiosk.help_phone: {cfg.help_phone!r}; digits, spaces, + - ( ) only")
    if r.problems:
        raise ConfigError(f"{path}: {len(r.problems)} problem(s):\n  " + "\n  ".join(r.problems),
                          code="config.invalid")
    return cfg


def _face(r: _Reader, t: dict[str, Any]) -> FaceConfig:
    from devices.cpu_priority import parse_priority

    r.unknown_keys(t, "face", {"worker_nice"})
    try:
        return FaceConfig(worker_nice=parse_priority(t.get("worker_nice", 0), "face.worker_nice"))
    except ValueError as exc:
        r.problems.append(str(exc))
        return FaceConfig()


def _lockers(r: _Reader, t: dict[str, Any], bus: DeviceConfig) -> LockersConfig:
    """Compartments, either listed one by one or as banks ("A", board 0, locks 0–11, small → A01…A12)."""
    r.unknown_keys(t, "lockers", {"compartments", "banks", "reservation_ttl_s", "door_open_confirm_s",
                                  "left_open_reminder_s", "left_open_alert_s"})
    specs: list[CompartmentSpec] = []
    for i, c in enumerate(t.get("compartments", [])):
        where = f"lockers.compartments[{i}]"
        if not isinstance(c, dict):
            r.problems.append(f"{where}: expected a table like "
                              f"{{ id = \"A01\", size = \"small\", board = 0, lock = 0 }}")
            continue
        r.unknown_keys(c, where, {"id", "size", "board", "lock"})
        specs.append(CompartmentSpec(r.get(c, "id", where, str), r.get(c, "size", where, str),
                                     r.get(c, "board", where, int), r.get(c, "lock", where, int)))
    for i, b in enumerate(t.get("banks", [])):
        where = f"lockers.banks[{i}]"
        if not isinstance(b, dict):
            r.problems.append(f"{where}: expected a table like {{ prefix = \"A\", board = 0, first_lock = 0, "
                              f"count = 12, size = \"small\" }}")
            continue
        r.unknown_keys(b, where, {"prefix", "board", "first_lock", "count", "size"})
        prefix, board = r.get(b, "prefix", where, str), r.get(b, "board", where, int)
        first, count, size = r.get(b, "first_lock", where, int, 0), r.get(b, "count", where, int), \
            r.get(b, "size", where, str)
        r.check(0 < count <= 48, f"{where}.count: {count} out of range (1–48)")
        specs.extend(CompartmentSpec(f"{prefix}{n + 1:02d}", size, board, first + n) for n in range(max(count, 0)))
    boards = {b.address for b in getattr(bus, "boards", ())}
    seen_ids: set[str] = set()
    seen_locks: set[tuple[int, int]] = set()
    for c in specs:
        r.check(c.size in COMPARTMENT_SIZES, f"lockers: compartment {c.id}: size {c.size!r} unknown; use one of "
                f"{', '.join(COMPARTMENT_SIZES)}")
        r.check(c.board in boards, f"lockers: compartment {c.id}: board {c.board} is not in devices.locker.boards")
        r.check(0 <= c.lock <= 47, f"lockers: compartment {c.id}: lock {c.lock} out of range (0–47)")
        r.check(c.id not in seen_ids, f"lockers: compartment id {c.id} used twice")
        r.check((c.board, c.lock) not in seen_locks, f"lockers: board {c.board} lock {c.lock} used by two compartments")
        seen_ids.add(c.id)
        seen_locks.add((c.board, c.lock))
    cfg = LockersConfig(
        compartments=tuple(specs),
        reservation_ttl_s=r.get(t, "reservation_ttl_s", "lockers", float, 300.0),
        door_open_confirm_s=r.get(t, "door_open_confirm_s", "lockers", float, 3.0),
        left_open_reminder_s=r.get(t, "left_open_reminder_s", "lockers", float, 60.0),
        left_open_alert_s=r.get(t, "left_open_alert_s", "lockers", float, 180.0),
    )
    r.check(cfg.left_open_reminder_s < cfg.left_open_alert_s,
            "lockers.left_open_reminder_s must be shorter than lockers.left_open_alert_s")
    for key, low, high in (("reservation_ttl_s", 10, 86400), ("door_open_confirm_s", 0.2, 30),
                           ("left_open_reminder_s", 1, 86400), ("left_open_alert_s", 1, 86400)):
        value = getattr(cfg, key)
        r.check(low <= value <= high, f"lockers.{key}: {value} s out of range ({low}–{high} s); "
                "zero or negative would free compartments at once or call every door jammed")
    return cfg


def _backoffice(r: _Reader, t: dict[str, Any], resolve: Any, simulator: bool) -> BackofficeConfig:
    """The back office's URL and trust: personal data leaves the kiosk only over an authenticated channel."""
    where = "backoffice"
    r.unknown_keys(t, where, {"enabled", "url", "ca_file", "credential_file", "poll_interval_s", "retry_min_s",
                              "retry_max_s", "refused_retry_s", "timeout_s", "heartbeat_interval_s",
                              "pull_interval_s", "public_url", "phone_step", "rating_step"})
    url = r.get(t, "url", where, str, "").rstrip("/")
    public_url = r.get(t, "public_url", where, str, "").rstrip("/")
    r.check(not public_url or public_url.startswith(("https://", "http://")), f"{where}.public_url: "
            f"{public_url!r}; give the address residents' phones open, e.g. https://banshi.example.gov.cn")
    ca = r.get(t, "ca_file", where, str, "")
    cred = r.get(t, "credential_file", where, str, "")
    cfg = BackofficeConfig(
        enabled=r.get(t, "enabled", where, bool, False),
        url=url,
        ca_file=resolve(ca) if ca else None,
        credential_file=resolve(cred) if cred else None,
        poll_interval_s=r.get(t, "poll_interval_s", where, float, 5.0),
        retry_min_s=r.get(t, "retry_min_s", where, float, 5.0),
        retry_max_s=r.get(t, "retry_max_s", where, float, 600.0),
        refused_retry_s=r.get(t, "refused_retry_s", where, float, 3600.0),
        timeout_s=r.get(t, "timeout_s", where, float, 30.0),
        heartbeat_interval_s=r.get(t, "heartbeat_interval_s", where, float, 30.0),
        pull_interval_s=r.get(t, "pull_interval_s", where, float, 30.0),
        public_url=public_url,
        phone_step=r.get(t, "phone_step", where, bool, True),
        rating_step=r.get(t, "rating_step", where, bool, True),
    )
    for key in ("heartbeat_interval_s", "pull_interval_s"):
        r.check(1 <= getattr(cfg, key) <= 3600, f"{where}.{key}: {getattr(cfg, key)} s out of range (1–3600 s)")
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if cfg.enabled or url:
        r.check(scheme in ("https", "http"), f"{where}.url: {url!r}; give the back office's address, "
                "e.g. https://backoffice.example.gov.cn")
    if scheme == "http" and not simulator:
        r.problems.append(f"{where}.url: {url!r} is plain http://, which would send residents' personal data "
                          "unencrypted and to anyone who answers; use https:// with ca_file (http is allowed only "
                          "in simulator mode, [simulator] enabled = true)")
    if cfg.ca_file is not None:
        r.check(cfg.ca_file.is_file(), f"{where}.ca_file: {cfg.ca_file} does not exist; give the PEM file of the "
                "back office's certificate or of the CA that signed it")
    r.check(0.5 <= cfg.poll_interval_s <= 3600, f"{where}.poll_interval_s: {cfg.poll_interval_s} out of range "
            "(0.5–3600 s)")
    r.check(0.1 <= cfg.retry_min_s <= cfg.retry_max_s <= 86400, f"{where}.retry_min_s / retry_max_s: need "
            "0.1 ≤ min ≤ max ≤ 86400 s")
    r.check(1 <= cfg.refused_retry_s <= 7 * 86400, f"{where}.refused_retry_s: {cfg.refused_retry_s} out of "
            "range (1 s – 7 days)")
    r.check(1 <= cfg.timeout_s <= 600, f"{where}.timeout_s: {cfg.timeout_s} out of range (1–600 s)")
    return cfg


STEP_NAMES = ("card", "face", "face_retry", "fingerprint", "fingerprint_retry", "guide", "documents", "size",
              "door", "receipt", "pin", "pickups", "opening", "choose", "code")


def _flows(r: _Reader, t: dict[str, Any], base: Path, state_dir: Path) -> FlowsConfig:
    r.unknown_keys(t, "flows", {"guide_file", "max_face_tries", "max_finger_tries", "max_door_attempts",
                                "finger_timeout_s", "door_settle_timeout_s", "fingerprint_first_page",
                                "fingerprint_pages", "timeouts"})
    guide = r.get(t, "guide_file", "flows", str, "")
    guide_path = (Path(guide) if Path(guide).is_absolute() else base / guide) if guide else \
        Path(__file__).resolve().parent.parent / "assets" / "guide" / "services.toml"
    timeouts_raw = r.get(t, "timeouts", "flows", dict, {})
    timeouts: dict[str, float] = {}
    for step, value in timeouts_raw.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        ok = step in STEP_NAMES and number and 5 <= value <= 3600
        r.check(ok, f"flows.timeouts.{step}: {value!r}; steps are {', '.join(STEP_NAMES)}, values 5–3600 s")
        if ok:
            timeouts[step] = float(value)
    cfg = FlowsConfig(
        guide_file=guide_path,
        max_face_tries=r.get(t, "max_face_tries", "flows", int, 3),
        max_finger_tries=r.get(t, "max_finger_tries", "flows", int, 3),
        max_door_attempts=r.get(t, "max_door_attempts", "flows", int, 3),
        finger_timeout_s=r.get(t, "finger_timeout_s", "flows", float, 20.0),
        door_settle_timeout_s=r.get(t, "door_settle_timeout_s", "flows", float, 600.0),
        fingerprint_first_page=r.get(t, "fingerprint_first_page", "flows", int, 0),
        fingerprint_pages=r.get(t, "fingerprint_pages", "flows", int, 300),
        timeouts=timeouts,
    )
    for key in ("max_face_tries", "max_finger_tries", "max_door_attempts"):
        value = getattr(cfg, key)
        r.check(1 <= value <= 10, f"flows.{key}: {value} out of range (1–10)")
    r.check(1 <= cfg.finger_timeout_s <= 300, f"flows.finger_timeout_s: {cfg.finger_timeout_s} out of range (1–300 s)")
    r.check(10 <= cfg.door_settle_timeout_s <= 86400,
            f"flows.door_settle_timeout_s: {cfg.door_settle_timeout_s} out of range (10–86400 s)")
    r.check(cfg.fingerprint_pages >= 1 and cfg.fingerprint_first_page >= 0,
            "flows.fingerprint_first_page / fingerprint_pages: need first ≥ 0 and pages ≥ 1")
    r.check(guide_path.is_file(), f"flows.guide_file: {guide_path} does not exist")
    return cfg


def _door_entry(r: _Reader, t: dict[str, Any], state_dir: Path) -> DoorEntryConfig:
    r.unknown_keys(t, "door_entry", {"schedule", "deny_file", "closures", "workdays"})
    schedule = r.get(t, "schedule", "door_entry", list, ["mon-fri 17:30-08:30", "sat-sun 00:00-24:00",
                                                          "mon 00:00-08:30"])
    r.check(all(isinstance(x, str) for x in schedule), "door_entry.schedule: a list of rules like "
            "\"mon-fri 17:30-08:30\"")
    deny = r.get(t, "deny_file", "door_entry", str, "door-deny.txt")
    deny_path = Path(deny) if Path(deny).is_absolute() else state_dir / deny
    dates = {}
    for key in ("closures", "workdays"):
        items = r.get(t, key, "door_entry", list, [])
        r.check(all(isinstance(x, str) for x in items), f"door_entry.{key}: a list of dates like \"2026-12-24\" "
                "or ranges like \"2027-01-04..2027-01-05\"")
        dates[key] = tuple(str(x) for x in items)
    from flows.door_schedule import AfterHoursSchedule, DoorScheduleError

    if all(isinstance(x, str) for x in schedule):
        try:  # the rules and dates are checked here, so `kiosk config check` names a bad one
            AfterHoursSchedule(schedule, **dates)
        except DoorScheduleError as exc:
            r.check(False, str(exc))
    return DoorEntryConfig(tuple(str(x) for x in schedule), deny_path, **dates)


def _ui(r: _Reader, t: dict[str, Any]) -> UiConfig:
    r.unknown_keys(t, "ui", {"orientation", "idle_timeout", "idle_warning", "language", "large_text", "speech",
                             "preview_fps", "required_devices", "touch_input", "screen_diagonal_in", "volume",
                             "quiet_hours", "quiet_volume"})
    required = t.get("required_devices")
    if required is not None:
        ok = isinstance(required, list) and all(isinstance(d, str) and d in ALL_DEVICES for d in required)
        r.check(ok, f"ui.required_devices: {required!r}; give a list of device names from {', '.join(ALL_DEVICES)}")
    cfg = UiConfig(
        orientation=r.get(t, "orientation", "ui", str, "portrait"),
        idle_timeout=r.get(t, "idle_timeout", "ui", float, 90.0),
        idle_warning=r.get(t, "idle_warning", "ui", float, 15.0),
        language=r.get(t, "language", "ui", str, "zh"),
        large_text=r.get(t, "large_text", "ui", bool, False),
        speech=r.get(t, "speech", "ui", bool, True),
        preview_fps=r.get(t, "preview_fps", "ui", float, 15.0),
        required_devices=tuple(required) if isinstance(required, list) else None,
        touch_input=r.get(t, "touch_input", "ui", str, ""),
        screen_diagonal_in=r.get(t, "screen_diagonal_in", "ui", float, 21.5),
        volume=r.get(t, "volume", "ui", int, 80),
        quiet_hours=r.get(t, "quiet_hours", "ui", str, "22:00-07:00"),
        quiet_volume=r.get(t, "quiet_volume", "ui", int, 40),
    )
    r.check(7 <= cfg.screen_diagonal_in <= 100,
            f"ui.screen_diagonal_in: {cfg.screen_diagonal_in} out of range (7–100 inches)")
    for key in ("volume", "quiet_volume"):
        r.check(0 <= getattr(cfg, key) <= 100, f"ui.{key}: {getattr(cfg, key)} out of range (0–100)")
    r.check(_quiet_hours_ok(cfg.quiet_hours), f"ui.quiet_hours: {cfg.quiet_hours!r}; use \"HH:MM-HH:MM\" or \"\"")
    r.check(cfg.orientation in ("portrait", "landscape"), f"ui.orientation: {cfg.orientation!r}; use portrait or "
            "landscape")
    r.check(cfg.language in ("zh", "en"), f"ui.language: {cfg.language!r}; use zh or en")
    r.check(10 <= cfg.idle_timeout <= 900, f"ui.idle_timeout: {cfg.idle_timeout} out of range (10–900 s)")
    r.check(0 < cfg.idle_warning < cfg.idle_timeout, "ui.idle_warning: must be shorter than ui.idle_timeout")
    r.check(1 <= cfg.preview_fps <= 30, f"ui.preview_fps: {cfg.preview_fps} out of range (1–30)")
    return cfg


def _quiet_hours_ok(text: str) -> bool:
    from kiosk.speech import parse_quiet_hours

    try:
        parse_quiet_hours(text)
    except ValueError:
        return False
    return True


DEFAULT_PATHS = (Path("/etc/kiosk/kiosk.toml"),)


def default_config_path() -> Path:
    """KIOSK_CONFIG, else /etc/kiosk/kiosk.toml on an installed kiosk, else the simulator config."""
    env = os.environ.get("KIOSK_CONFIG")
    if env:
        return Path(env)
    for p in DEFAULT_PATHS:
        if p.exists():
            return p
    return Path(__file__).resolve().parent.parent / "config" / "kiosk.sim.toml"


def defaulted_ports(cfg: KioskConfig) -> list[str]:
    """Hardware devices whose port was left out of the file and fell back to ``/dev/kiosk-NAME``.

    Not an error (the installer's udev rules make exactly those links), but never silent: `kiosk
    config check` and the start-up log name each one, so a kiosk wired differently is found at once.
    """
    try:
        data = tomllib.loads(cfg.path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    tables = data.get("devices", {})
    out = []
    for name in SERIAL_DEVICES:
        dev = cfg.devices.get(name)
        if dev is None or not dev.enabled or dev.simulated or "port" in tables.get(name, {}):
            continue
        out.append(f"devices.{name}.port: not set, using {getattr(dev, 'port', '')} (the udev link "
                   "scripts/install.sh makes); set it if this kiosk's ports are named otherwise")
    return out


def load_config(path: Path | str | None = None) -> KioskConfig:
    p = Path(path) if path else default_config_path()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration {p}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from exc
    return parse_config(data, p.resolve())
