"""Everything the running kiosk owns, built from the configuration: store, devices, lockers, flows.

``KioskRuntime(cfg).start()`` opens the store, the alert outbox, every configured device, the
locker service (reconcile, then the flows' crash recovery), the service guide, the flows and the
entrance door, and returns with the app's ``KioskHost`` ready; ``close()`` stops and wipes it all.

Why devices sit in ``DeviceSlot``s: a device that is down at start must not stop the kiosk, and one
that comes back must be used again. Each slot gives the app one ``StatusTracker`` that never
changes (drivers may replace theirs when they reopen) and a supervisor thread reopens lost devices
and, while nobody is at the screen, checks the idle ones with a probe, so an unplugged sensor
takes the kiosk out of service *before* a resident starts, not in the middle of a deposit.
Nothing here runs on the Kivy thread.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from devices.cancel import CancelToken
from devices.errors import DeviceError, KioskError
from devices.status import DeviceStatus, StatusChange, StatusTracker
from kiosk.config import CameraConfig, KioskConfig, PcscConfig

log = logging.getLogger(__name__)

DEMO_BADGE = "04A1B2C3"
DEMO_PIN = "123456"
DEMO_STAFF_NAME = "演示工作人员 Demo staff"
SIMULATOR_MARK = ".simulator-state"
RESIDENT_DEVICES = ("idcard", "face_camera", "fingerprint", "document_camera", "locker")
DEFAULT_SCHEDULE = ("mon-fri 17:30-08:30", "sat-sun 00:00-24:00", "mon 00:00-08:30")


def _setting(section: Any, name: str, default: Any) -> Any:
    """A config value the lead is still adding: read it with a default until it lands."""
    return default if section is None else getattr(section, name, default)


class DeviceSlot:
    """One device kept usable: a stable status for the app, reopened by the supervisor when lost.

    ``connect`` opens the device and talks to it (returns a one-line description); ``check`` is
    the idle health probe (None: the device watches itself, e.g. a camera grabber or the locker
    service's door poller); ``probe`` is staff's "test devices" for a working device (default:
    ``check``); ``disconnect`` releases it before a reconnect and at the end.
    """

    def __init__(
        self,
        name: str,
        connect: Callable[[], str],
        *,
        driver_status: Callable[[], StatusTracker | None],
        check: Callable[[], str] | None = None,
        probe: Callable[[], str] | None = None,
        reset: Callable[[], None] | None = None,
        disconnect: Callable[[], None] | None = None,
        mirror: bool = False,
    ) -> None:
        self.name = name
        self.connect_fn = connect
        self.check_fn = check
        self.probe_fn = probe or check
        self.reset_fn = reset
        self.disconnect_fn = disconnect
        self.mirror = mirror  # the driver heals itself (a CardWatcher): always show its status
        self.driver_status = driver_status
        self.tracker = StatusTracker(name, DeviceStatus.OFFLINE)
        self.healthy = False
        self.attempts = 0
        self._watched: StatusTracker | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._lock = threading.Lock()

    def _follow(self) -> None:
        tracker = self.driver_status()
        if tracker is self._watched:
            return
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._watched = tracker
        self._unsubscribe = tracker.subscribe(self._driver_changed) if tracker is not None else None

    def follow(self) -> None:
        """Show the driver's own status from now on (for devices that reconnect by themselves)."""
        self._follow()
        tracker = self._watched
        if tracker is not None:
            self.healthy = tracker.status.usable
            self.tracker.set(tracker.status, tracker.detail)

    def _driver_changed(self, change: StatusChange) -> None:
        if self.mirror:
            self.healthy = change.new.usable
            if not (change.new.usable and self.tracker.status.usable):
                self.tracker.set(change.new, change.detail)
            return
        if not self.healthy:
            return  # while reconnecting the slot says OFFLINE until the device has answered
        if change.new.usable and self.tracker.status.usable:
            return  # busy ↔ online at every command: nothing the app needs to hear about
        if not change.new.usable:
            self.healthy = False
        self.tracker.set(change.new, change.detail)

    def connect(self) -> bool:
        """Open (again) and talk to the device; True when it answered."""
        with self._lock:
            self.attempts += 1
            if self.reset_fn is not None and self.attempts > 1:
                with contextlib.suppress(Exception):
                    self.reset_fn()
            try:
                detail = self.connect_fn()
            except KioskError as exc:
                self.healthy = False
                if self.attempts == 1 or self.tracker.detail != exc.message:
                    log.warning("%s not available: %s", self.name, exc)
                self.tracker.set(DeviceStatus.OFFLINE, exc.message)
                return False
            except Exception as exc:  # a driver bug must not stop the supervisor
                log.exception("%s: opening failed unexpectedly", self.name)
                self.healthy = False
                self.tracker.set(DeviceStatus.OFFLINE, f"unexpected error: {exc!r}")
                return False
            self._follow()
            self.healthy = True
            log.info("%s online: %s", self.name, detail)
            self.tracker.set(DeviceStatus.ONLINE, detail)
            return True

    def health_check(self) -> None:
        """Probe an idle device; a silent one goes OFFLINE (and is reconnected next round)."""
        if self.check_fn is None or not self.healthy:
            return
        self._probe(self.check_fn, "idle check")

    def _probe(self, fn: Callable[[], str], what: str) -> str:
        """Run a probe; a failure takes the device OFFLINE. Returns its answer or the error."""
        try:
            return str(fn())
        except DeviceError as exc:
            self.healthy = False
            log.warning("%s failed its %s: %s", self.name, what, exc)
            self.tracker.set(DeviceStatus.OFFLINE, exc.message)
            return exc.message
        except Exception as exc:
            log.exception("%s: %s failed unexpectedly", self.name, what)
            self.healthy = False
            self.tracker.set(DeviceStatus.OFFLINE, f"unexpected error: {exc!r}")
            return f"unexpected error: {exc!r}"

    def test(self) -> str:
        """Staff's "test devices": reopen a lost device, probe a working one; one line about it.

        The tracker shows the outcome (OFFLINE when the device did not answer).
        """
        if self.mirror:
            self.follow()
            return self.tracker.detail
        if not self.healthy:
            self.connect()
            return self.tracker.detail
        if self.probe_fn is None:
            return self.tracker.detail
        return self._probe(self.probe_fn, "device test")

    def close(self) -> None:
        self.healthy = False
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.disconnect_fn is not None:
            with contextlib.suppress(Exception):
                self.disconnect_fn()
        self.tracker.set(DeviceStatus.OFFLINE, "stopped")


def check_slots(slots: Mapping[str, DeviceSlot], cancel: CancelToken | None = None) -> dict[str, str]:
    """Test every device side by side (one silent device costs one time-out, not one each).

    Returns one line per device tested; a cancel stops waiting (the probes finish on their own).
    """
    results: dict[str, str] = {}

    def run(slot: DeviceSlot) -> None:
        results[slot.name] = slot.test()

    threads = [threading.Thread(target=run, args=(s,), name=f"test-{s.name}", daemon=True) for s in slots.values()]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive() and not (cancel is not None and cancel.cancelled):
            t.join(0.1)
    return {name: results[name] for name in slots if name in results}


class CameraSlot:
    """A camera grabber made when its source is known (a simulator writes its URL when it starts)."""

    def __init__(self, cfg: KioskConfig, dev: CameraConfig) -> None:
        self.cfg, self.dev = cfg, dev
        self.camera: Any = None

    def connect(self) -> str:
        from devices.camera import Camera
        from kiosk.wiring import _camera_source

        source = _camera_source(self.cfg, self.dev)
        if self.camera is not None and self.camera.source == source and self.camera.running:
            return str(self.camera.probe(timeout=2.0))
        self.disconnect()
        camera = Camera(
            source,
            name=self.dev.name,
            width=self.dev.width,
            height=self.dev.height,
            fourcc=self.dev.fourcc,
            reconnect_seconds=0.5,
            reconnect_max_seconds=3.0,
        )
        camera.start()
        self.camera = camera
        return str(camera.probe(timeout=3.0))

    def disconnect(self) -> None:
        camera, self.camera = self.camera, None
        if camera is not None:
            camera.stop()

    def status(self) -> StatusTracker | None:
        return None if self.camera is None else self.camera.status

    def latest(self) -> np.ndarray | None:
        camera = self.camera
        frame = None if camera is None else camera.latest(max_age=2.0)
        return None if frame is None else np.asarray(frame.image)


class SlotFrames:
    """A flow's ``FrameSource`` over a camera slot: new frames only, at once an error when it is down."""

    def __init__(self, slot: CameraSlot, timeout: float = 3.0) -> None:
        self.slot = slot
        self.timeout = timeout
        self._seq: int | None = None

    def next_frame(self, cancel: CancelToken | None = None) -> tuple[np.ndarray, float]:
        from devices.camera import CameraUnavailable

        camera = self.slot.camera
        if camera is None:
            raise CameraUnavailable("camera not connected", device=self.slot.dev.name)
        frame = camera.wait_frame(self._seq, self.timeout, cancel)
        self._seq = frame.seq
        return np.array(frame.image), frame.timestamp

    def latest(self) -> np.ndarray | None:
        return self.slot.latest()


class KioskRuntime:
    """Builds and owns the whole kiosk at run time (see the module doc)."""

    def __init__(self, cfg: KioskConfig, *, supervise_interval: float = 2.0, tick_interval: float = 0.5) -> None:
        self.cfg = cfg
        self.supervise_interval = supervise_interval
        self.tick_interval = tick_interval
        self.slots: dict[str, DeviceSlot] = {}
        self.cameras: dict[str, CameraSlot] = {}
        self.drivers: dict[str, Any] = {}
        self.watchers: list[Any] = []
        self.store: Any = None
        self.outbox: Any = None
        self.resident_outbox: Any = None
        self.outbox_worker: Any = None
        self.delivery: Any = None  # kiosk/sync: committed cases to the back office
        self.lockers: Any = None
        self.lockers_started = False
        self.recovery: Any = None
        self.fingerprints: Any = None
        self.face_worker: Any = None
        self.document_worker: Any = None
        self.staff_accounts: Any = None
        self.door_entry: Any = None
        self.schedule: Any = None  # flows.door_schedule.AfterHoursSchedule, built at start
        self.host: Any = None
        self.deposit: Any = None
        self.results: Any = None
        self.staff: Any = None
        self.sessions: Any = None
        self.demo_staff_seeded = False
        self.device_alerts: Any = None
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._closers: list[Callable[[], None]] = []
        # What besides a device keeps residents away: a database that lost rows (see locker.integrity)
        self.health: dict[str, StatusTracker] = {
            "store": StatusTracker("store", DeviceStatus.ONLINE),
            "compartments": StatusTracker("compartments", DeviceStatus.ONLINE),  # any usable door left?
            "disk": StatusTracker("disk", DeviceStatus.ONLINE),  # [store] min_free_mb on the data partition
        }
        self.disk: Any = None
        self.integrity: Any = None

    # -- reading -------------------------------------------------------------------------------
    def trackers(self) -> dict[str, StatusTracker]:
        """One stable StatusTracker per device, for the app's out-of-service switch.

        Besides the devices: ``store`` (the database checked against its audit anchor at start).
        """
        return {name: slot.tracker for name, slot in self.slots.items()} | self.health

    def check_devices(self, cancel: CancelToken | None = None) -> dict[str, str]:
        """Staff's "test devices" in maintenance mode: probe every device now, reopen the lost ones."""
        return check_slots(self.slots, cancel)

    def required_devices(self) -> tuple[str, ...]:
        """What takes the touchscreen out of service: ``[ui] required_devices`` or the residents' devices."""
        required = _setting(self.cfg.ui, "required_devices", None)
        names = tuple(required) if required is not None else RESIDENT_DEVICES
        return tuple(n for n in names if n in self.slots) + tuple(self.health)

    # -- life cycle -------------------------------------------------------------------------------
    def start(self) -> KioskRuntime:
        """Build and start everything; on a failure whatever was started is stopped again."""
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> KioskRuntime:
        from flows.deposit import DepositFlow
        from flows.fingerprints import FingerprintDirectory
        from flows.guide import DEFAULT_GUIDE_PATH, load_guide
        from flows.kiosk_session import SessionHolder
        from flows.receipt import ReceiptIssuer
        from flows.results import ResultPickupFlow
        from flows.staff_pickup import StaffPickupFlow
        from kiosk.host import KioskHost
        from locker.audit import check_at_start as check_audit_at_start
        from locker.outbox import Outbox, OutboxWorker
        from locker.staff import StaffAccounts
        from locker.store import Store

        cfg = self.cfg
        flows_cfg = getattr(cfg, "flows", None)
        from kiosk.config import defaulted_ports

        for note in defaulted_ports(cfg):  # a default port is named, never silent
            log.warning("configuration: %s", note)
        from locker.integrity import inspect_files
        from locker.store import DB_NAME

        facts = inspect_files(Path(cfg.store.data_dir) / DB_NAME)  # before opening creates it
        self.store = Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=cfg.store.create_key)
        self._closers.append(self.store.close)
        self._check_store_integrity(facts)
        self.outbox = Outbox(self.store.db, list(cfg.alerts.urls))
        self._alert_store_integrity()
        from locker.diskspace import DiskSpace

        self.disk = DiskSpace(
            cfg.store.data_dir, cfg.store.min_free_mb, tracker=self.health["disk"], alerts=self.outbox
        )
        self.disk.check()
        check_audit_at_start(self.store.audit, self.outbox)
        self.outbox_worker = OutboxWorker(self.outbox)
        self.outbox_worker.start()
        self._closers.append(self.outbox_worker.stop)
        resident_urls = list(_setting(cfg.alerts, "resident_urls", ()) or ())
        self.resident_outbox = Outbox(self.store.db, resident_urls) if resident_urls else None
        self.staff_accounts = StaffAccounts(
            self.store.db, self.store.audit, cipher=self.store.cipher, alerts=self.outbox
        )
        if cfg.simulator.enabled:
            self._seed_demo_staff()
        elif self.staff_accounts.exists(DEMO_BADGE):
            raise KioskError(
                f"the demo staff account (badge {DEMO_BADGE}) exists in {cfg.store.data_dir}, but this is hardware "
                f"mode: anyone who read the README could log in; remove it first with "
                f"`kiosk staff revoke {DEMO_BADGE}` (or use a fresh state folder)"
            )

        self._build_devices()
        self._start_face_worker()
        self._start_document_worker()

        guide_file = _setting(flows_cfg, "guide_file", None) or DEFAULT_GUIDE_PATH
        guide = load_guide(guide_file)
        if cfg.backoffice.enabled:
            guide = self._start_delivery(guide, guide_file)
        self.fingerprints = FingerprintDirectory(
            Path(cfg.store.data_dir) / "fingerprint-pages.sqlite3",
            lambda id_number: str(self.store.cipher.mac("fingerprint-page", id_number)),
            first_page=int(_setting(flows_cfg, "fingerprint_first_page", 0)),
            pages=int(_setting(flows_cfg, "fingerprint_pages", 300)),
        )
        self._closers.append(self.fingerprints.close)
        timeouts = dict(_setting(flows_cfg, "timeouts", {}) or {})
        self.sessions = SessionHolder()
        face_sessions = self._face_session if self.face_worker is not None else None
        self.deposit = DepositFlow(
            reader=self.drivers["idcard"],
            face_frames=SlotFrames(self.cameras["face_camera"]),
            fingerprint=self.drivers["fingerprint"],
            document_frames=SlotFrames(self.cameras["document_camera"]),
            lockers=self.lockers,
            submissions=self.store.submissions,
            guide=guide,
            fingerprints=self.fingerprints,
            receipts=ReceiptIssuer(self.drivers.get("printer"),
                                   track_base_url=_track_base_url(cfg)),
            resident=self._resident_steps(),
            alerts=self.outbox,
            sessions=self.sessions,
            kiosk_name=cfg.name,
            face_sessions=face_sessions,
            documents=self.document_worker,
            max_face_tries=int(_setting(flows_cfg, "max_face_tries", 3)),
            max_finger_tries=int(_setting(flows_cfg, "max_finger_tries", 3)),
            max_door_attempts=int(_setting(flows_cfg, "max_door_attempts", 3)),
            finger_timeout=float(_setting(flows_cfg, "finger_timeout_s", 20.0)),
            door_settle_timeout=float(_setting(flows_cfg, "door_settle_timeout_s", 600.0)),
            preflight=self.deposit_preflight,
            timeouts={k: v for k, v in timeouts.items() if k in DepositFlow.default_timeouts},
        )
        self.results = ResultPickupFlow(
            reader=self.drivers["idcard"],
            face_frames=SlotFrames(self.cameras["face_camera"]),
            fingerprint=self.drivers["fingerprint"],
            lockers=self.lockers,
            submissions=self.store.submissions,
            sessions=self.sessions,
            face_sessions=face_sessions,
            max_tries=int(_setting(flows_cfg, "max_face_tries", 3)),
            finger_timeout=float(_setting(flows_cfg, "finger_timeout_s", 20.0)),
            timeouts={k: v for k, v in timeouts.items() if k in ResultPickupFlow.default_timeouts},
            resident=self._resident_steps(),
        )
        self.staff = StaffPickupFlow(
            staff=self.staff_accounts,
            lockers=self.lockers,
            submissions=self.store.submissions,
            resident_alerts=self.resident_outbox,
            device_statuses=self.trackers,
            check_devices=self.check_devices,
            audit=self.store.audit,
            staff_alerts=self.outbox,
            timeouts={k: v for k, v in timeouts.items() if k in StaffPickupFlow.default_timeouts},
        )
        frame_sizes = {name: (c.dev.width, c.dev.height) for name, c in self.cameras.items()}
        self.host = KioskHost(
            self.deposit,
            self.results,
            self.staff,
            guide=guide,
            cameras={name: c.latest for name, c in self.cameras.items()},
            frame_sizes=frame_sizes,
            tick_interval=self.tick_interval,
        )
        self.host.start()
        self._closers.append(self.host.stop)
        self._start_device_alerts()
        self._show_staffed_hours()
        self._start_badge_readers()
        self._supervisor = threading.Thread(target=self._supervise, name="device-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def close(self) -> None:
        """Stop every thread, end any session (wipe), release every device; idempotent."""
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(10)
            self._supervisor = None
        for watcher in self.watchers:
            with contextlib.suppress(Exception):
                watcher.stop()
        self.watchers.clear()
        for flow in (self.deposit, self.results, self.staff):
            if flow is not None and flow.active:
                with contextlib.suppress(Exception):
                    flow.end("shutdown")
        if self.sessions is not None:
            self.sessions.end()
        if self.lockers is not None and self.lockers_started:
            with contextlib.suppress(Exception):
                self.lockers.stop()
            self.lockers_started = False
        if self.face_worker is not None:
            with contextlib.suppress(Exception):
                self.face_worker.stop()
        for slot in self.slots.values():
            slot.close()
        while self._closers:
            closer = self._closers.pop()
            try:
                closer()
            except Exception:
                log.exception("closing the runtime: %s failed", getattr(closer, "__qualname__", closer))

    def __enter__(self) -> KioskRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building -------------------------------------------------------------------------------
    def _seed_demo_staff(self) -> None:
        """The README's demo account, only in a state folder that has only ever run on simulators.

        The folder is marked (``SIMULATOR_MARK``) when simulator mode first opens it empty; a
        folder that held data before, or that hardware mode used, never gets the account. Its PIN
        is in the README, so it is never logged.
        """
        mark = Path(self.cfg.store.data_dir) / SIMULATOR_MARK
        if not mark.exists():
            fresh = not self.staff_accounts.list_staff() and self.store.db.query_one("SELECT 1 FROM cases") is None
            if not fresh:
                return
            mark.write_text("this state folder was made by simulator mode; hardware mode refuses the demo account\n")
        if self.staff_accounts.list_staff():
            return
        self.staff_accounts.add_staff(DEMO_BADGE, DEMO_STAFF_NAME, DEMO_PIN)
        self.demo_staff_seeded = True
        log.warning("simulator mode: added the demo staff account (badge and PIN in the README)")

    def _build_devices(self) -> None:
        from kiosk.wiring import make_door_relay, make_driver
        from locker.service import LockerService

        cfg = self.cfg
        enabled = {name for name, dev in cfg.devices.items() if dev.enabled}
        for name in ("idcard", "fingerprint"):
            driver = make_driver(cfg, name)
            self.drivers[name] = driver
            self.slots[name] = DeviceSlot(
                name,
                self._opener(driver),
                driver_status=lambda d=driver: d.status,
                check=driver.probe,
                reset=driver.close,
                disconnect=driver.close,
            )
        bus = make_driver(cfg, "locker")
        self.drivers["locker"] = bus
        self.lockers = LockerService.from_config(self.store.db, bus, self.store.audit, self.outbox, cfg.lockers)
        self.follow_lockers()
        self.slots["locker"] = DeviceSlot(
            "locker", self._open_lockers, driver_status=lambda: bus.status, probe=bus.probe, disconnect=bus.close
        )
        for name in ("face_camera", "document_camera"):
            camera_cfg = cfg.devices[name]
            assert isinstance(camera_cfg, CameraConfig)
            cam = CameraSlot(cfg, camera_cfg)
            self.cameras[name] = cam
            self.slots[name] = DeviceSlot(
                name, cam.connect, driver_status=cam.status, probe=cam.connect, disconnect=cam.disconnect
            )
        printer = self._make_printer()
        if printer is not None:
            self.drivers["printer"] = printer
            self.slots["printer"] = DeviceSlot(
                "printer", printer.probe, driver_status=lambda: printer.status, check=None, probe=printer.probe
            )
        relay_cfg = cfg.devices.get("door_relay")
        if relay_cfg is not None and "door_relay" in enabled:
            shared = getattr(relay_cfg, "kind", "") == "locker_channel"
            relay = make_door_relay(cfg, relay_cfg, bus=bus if shared else None)  # type: ignore[arg-type]
            self.drivers["door_relay"] = relay
            if not shared:
                self.slots["door_relay"] = DeviceSlot(
                    "door_relay",
                    self._opener(relay),
                    driver_status=lambda: relay.status,
                    probe=getattr(relay, "probe", None),
                    reset=relay.close,
                    disconnect=relay.close,
                )
        for name in ("staff_reader", "door_reader"):
            dev = cfg.devices.get(name)
            if isinstance(dev, PcscConfig) and name in enabled:
                from devices.pcsc import PcscReader

                reader = PcscReader(dev.reader, device=name)
                self.drivers[name] = reader
                slot = DeviceSlot(name, lambda: "watching", driver_status=lambda r=reader: r.status, mirror=True)
                slot.follow()
                self.slots[name] = slot
        for slot in self.slots.values():
            if not slot.mirror:
                slot.connect()

    @staticmethod
    def _opener(driver: Any) -> Callable[[], str]:
        def connect() -> str:
            driver.open()
            return str(driver.probe())

        return connect

    def _open_lockers(self) -> str:
        """Open the bus; the first time it answers, reconcile and start the locker service, then recover."""
        from flows.recovery import recover_flows

        bus = self.drivers["locker"]
        if self.lockers_started:
            bus.close()
        bus.open()
        detail = str(bus.probe())
        if not self.lockers_started:
            report = self.lockers.start()
            self.lockers_started = True
            log.info("locker reconcile: %s", report)
            self.recovery = recover_flows(self.lockers, self.store.submissions, self.outbox)
            self._compartments_health()
        return detail

    def follow_lockers(self) -> None:
        """Recompute the ``compartments`` status at every locker event (board silent/back, out of order…)."""
        self.lockers.subscribe(lambda _event: self._compartments_health())

    def _compartments_health(self) -> None:
        """Per board, answering or silent; out of service only when no usable compartment is left.

        One dead board must not stop the kiosk while another board still has doors to give out
        (the locker service allocates only on boards that answer); with none left, the app shows
        out of service instead of sending a resident through a deposit with nowhere to put it.
        """
        if not self.lockers_started:
            return
        try:
            boards = self.lockers.board_status()
            usable = self.lockers.usable()
        except KioskError as exc:
            log.error("compartment status not known: %s", exc)
            return
        detail = ", ".join(f"board {b} {state}" for b, state in boards.items()) + f"; {len(usable)} usable"
        tracker = self.health["compartments"]
        if usable:
            tracker.set(DeviceStatus.ONLINE, detail)
        else:
            tracker.set(DeviceStatus.HARDWARE_ERROR, "no usable compartment: " + detail)

    def _make_printer(self) -> Any:
        dev = self.cfg.devices.get("printer")
        if dev is None or not getattr(dev, "enabled", True):
            return None
        from kiosk.wiring import make_driver

        return make_driver(self.cfg, "printer")

    def _resident_steps(self) -> Any:
        return _resident_steps_for(self.cfg, self.store)

    def _start_delivery(self, guide: Any, guide_file: Any) -> Any:
        """The back-office delivery worker over the store's durable queue (see kiosk/sync/worker.py),
        the heartbeat and the pulls (kiosk/sync/heartbeat.py, pull.py); returns the guide to run."""
        from kiosk.sync.credential import credential_path
        from kiosk.sync.heartbeat import start_fleet
        from kiosk.sync.worker import DeliveryWorker

        cfg = self.cfg
        self.delivery = DeliveryWorker(self.store, guide, cfg.backoffice, credential_file=credential_path(cfg),
                                       simulator=cfg.simulator.enabled, alerts=self.outbox).start()
        self._closers.append(self.delivery.stop)
        return start_fleet(self, guide, Path(guide_file))

    def _start_document_worker(self) -> None:
        """Page scans and PDFs run in their own process at background priority (see its module doc)."""
        from devices.document.worker import DocumentWorker

        self.document_worker = DocumentWorker(background=True).start()
        self._closers.append(self.document_worker.stop)

        def warm_up() -> None:  # import OpenCV and friends in the worker before the first resident
            try:
                log.info("document worker ready: %s", self.document_worker.probe())
            except KioskError as exc:
                log.error("document worker did not start: %s (retried at the first scan)", exc)

        threading.Thread(target=warm_up, name="document-worker-start", daemon=True).start()

    def _start_face_worker(self) -> None:
        """The face check runs in its own process (dlib holds the GIL); models load in the background.

        At ``[face] worker_nice`` (0 by default, not SCHED_IDLE like the document work): a resident
        waits for the decision, and a busy loop at normal priority would starve an idle worker."""
        try:
            from devices.face.worker import FaceWorker
        except ImportError:  # pragma: no cover - the worker module is part of the repo
            log.warning("no face worker: the face check runs in-process")
            return
        self.face_worker = FaceWorker(priority=_setting(getattr(self.cfg, "face", None), "worker_nice", 0))

        def start() -> None:
            try:
                self.face_worker.start()
            except KioskError as exc:
                log.error("face worker did not start: %s (retried at the first face check)", exc)

        threading.Thread(target=start, name="face-worker-start", daemon=True).start()

    def _face_session(self, photo: np.ndarray, config: Any) -> Any:
        self.face_worker.ensure_running()
        return self.face_worker.open_session(photo, config)

    def _show_staffed_hours(self) -> None:
        """The door schedule (public holidays, 调休, local closures) and, on the idle screen, when staff are back."""
        import datetime as dt

        from flows.door_schedule import IDLE_HORIZON_DAYS, AfterHoursSchedule

        door_cfg = getattr(self.cfg, "door_entry", None)
        self.schedule = AfterHoursSchedule(_setting(door_cfg, "schedule", DEFAULT_SCHEDULE),
                                           closures=_setting(door_cfg, "closures", ()),
                                           workdays=_setting(door_cfg, "workdays", ()))
        now = dt.datetime.now()
        problem = self.schedule.coverage_problem(now.date())
        if problem:
            log.warning("door schedule: %s", problem)
        periods = self.schedule.after_hours_periods(now, days=IDLE_HORIZON_DAYS)
        self.host.idle_view.params["after_hours"] = [(a.isoformat(), b.isoformat()) for a, b in periods]

    def _start_badge_readers(self) -> None:
        from devices.pcsc import CardWatcher

        staff_reader = self.drivers.get("staff_reader")
        if staff_reader is not None:
            self.watchers.append(CardWatcher(staff_reader, self.host.badge_tapped).start())
        door_reader = self.drivers.get("door_reader")
        relay = self.drivers.get("door_relay")
        if door_reader is not None and relay is not None:
            from flows.door_entry import DoorEntry, load_deny_list

            door_cfg = getattr(self.cfg, "door_entry", None)
            schedule = self.schedule
            deny_file = _setting(door_cfg, "deny_file", None)
            relay_cfg = self.cfg.devices["door_relay"]
            self.door_entry = DoorEntry(
                relay,
                self.store.audit,
                schedule,
                deny=load_deny_list(deny_file) if deny_file else (),
                open_seconds=float(getattr(relay_cfg, "open_seconds", 5.0)),
            )
            self.watchers.append(CardWatcher(door_reader, self._door_tapped).start())

    def _door_tapped(self, uid: str) -> None:
        try:
            self.door_entry.card_tapped(uid)
        except KioskError as exc:
            log.error("door entry failed: %s", exc)

    # -- the database at start ----------------------------------------------------------------
    def _check_store_integrity(self, facts: Any) -> None:
        """Compare the database with its audit anchor and run quick_check before anything writes.

        Rows missing (a deleted, 0-byte or cut database, a lost write-ahead log) or a damaged file:
        the kiosk serves no resident (``store`` is down: out of service) and the log names the backup
        to restore. A sound database is backed up (the newest few are kept) for the next time.
        """
        from locker.integrity import backup_database, check_store

        report = check_store(self.store.audit, facts)
        self.integrity = report
        if not report.serve:
            log.error("%s", report.summary())
            self.health["store"].set(DeviceStatus.HARDWARE_ERROR, report.summary())
            return
        for warning in report.warnings:
            log.warning("database check: %s", warning)
        try:
            backup_database(self.store.db.path)
        except (OSError, sqlite3.Error) as exc:
            log.error("database backup failed: %s", exc)

    def _alert_store_integrity(self) -> None:
        report = self.integrity
        if report is None or report.serve:
            return
        self.outbox.enqueue(
            "store.integrity",
            "数据库缺失记录，自助服务已暂停 Database lost records: kiosk out of service",
            report.summary(),
        )

    # -- supervision ----------------------------------------------------------------------------
    def _daily_backup(self) -> None:
        """A fresh database backup once a day (never of a database that failed its start-up check).

        Daily rather than only at start: a kiosk runs for weeks, and a backup is both what staff
        restore after a loss and a copy of data the retention purge has since removed — so the
        newest few are kept, none much older than a few days.
        """
        import time

        from locker.integrity import BACKUP_DIR, backup_database, newest_backup

        if self.store is None or not self.health["store"].status.usable:
            return
        newest = newest_backup(self.store.db.path.parent / BACKUP_DIR)
        try:
            if newest is not None and time.time() - newest.stat().st_mtime < 86400:
                return
            backup_database(self.store.db.path)
        except (OSError, sqlite3.Error) as exc:
            log.error("database backup failed: %s", exc)

    def deposit_preflight(self) -> str | None:
        """Asked as a deposit starts: what makes it impossible now (measured now, not last round)."""
        if not self.health["store"].status.usable:
            return "store"
        if self.disk is not None and not self.disk.check():
            return "disk"
        return None

    def _supervise(self) -> None:
        while not self._stop.wait(self.supervise_interval):
            if self.disk is not None:
                self.disk.check()  # the out-of-service screen follows the "disk" status
            self._daily_backup()
            idle = self.sessions is not None and self.sessions.current is None
            for slot in list(self.slots.values()):
                if self._stop.is_set():
                    return
                if slot.mirror:
                    continue  # their CardWatchers reconnect by themselves
                if not slot.healthy:
                    # also during a session: a reader plugged back in mid-deposit is picked up
                    # (its exchanges are serialised by the port's lock; a lost port fails fast)
                    slot.connect()
                elif idle:
                    slot.health_check()
            self._after_round(idle)

    def _start_device_alerts(self) -> None:
        """Staff alerts for required devices down for N minutes, and systemd's STATUS= (issue 12)."""
        from kiosk.device_alerts import DeviceDownAlerts
        from kiosk.sdnotify import Notifier

        minutes = float(_setting(self.cfg.alerts, "device_down_minutes", 5.0))
        self.device_alerts = DeviceDownAlerts(
            self.trackers,
            self.required_devices,
            self.outbox,
            after_s=minutes * 60,
            activity=self._activity,
            notifier=Notifier(),
            kiosk_name=self.cfg.name,
        )

    def _activity(self) -> str:
        current = self.sessions.current if self.sessions is not None else None
        return "idle" if current is None else f"{current.flow} in progress"

    def _after_round(self, idle: bool) -> None:
        """After each supervisor round: device alerts and STATUS=, then (idle) purged fingerprint pages."""
        try:
            if self.device_alerts is not None:
                self.device_alerts.check()
            fp = self.slots.get("fingerprint")
            if idle and self.fingerprints is not None and fp is not None and fp.healthy:
                self.fingerprints.wipe_pending(self.drivers["fingerprint"])
        except KioskError as exc:
            log.warning("supervisor: %s", exc)
        except Exception:  # the supervisor must keep running
            log.exception("supervisor: after-round work failed")

    def supervise_once(self) -> None:
        """One supervisor round now (tests, and the app after a simulator was plugged back)."""
        for slot in list(self.slots.values()):
            if slot.mirror:
                continue
            if not slot.healthy:
                slot.connect()
            elif self.sessions is None or self.sessions.current is None:
                slot.health_check()
        self._after_round(self.sessions is None or self.sessions.current is None)


__all__ = ["DEMO_BADGE", "DEMO_PIN", "CameraSlot", "DeviceSlot", "KioskRuntime", "SlotFrames", "check_slots"]


def _track_base_url(cfg: Any) -> str:
    """The progress page the receipts' QR codes point at: only with a back office to answer it."""
    bo = getattr(cfg, "backoffice", None)
    return str(bo.track_base_url) if bo is not None and getattr(bo, "enabled", False) else ""


def _resident_steps_for(cfg: Any, store: Any) -> Any:
    """With a back office: the pickup code goes with each case (its "result ready" text message), and
    the phone and rating steps run when [backoffice] phone_step / rating_step say so."""
    from flows.resident_steps import ResidentSteps
    from locker.resident import ResidentStore

    bo = getattr(cfg, "backoffice", None)
    if bo is None or not getattr(bo, "enabled", False):
        return None
    return ResidentSteps(ResidentStore(store.db, store.submissions.cipher), ask_phone=bool(bo.phone_step),
                         ask_rating=bool(bo.rating_step))
