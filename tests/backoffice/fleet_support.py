"""A kiosk for the fleet tests: its real SQLite store and audit chain, real status trackers, its
credential for the live back office, and the real heartbeat sender talking HTTP to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devices.status import DeviceStatus, StatusTracker
from kiosk.config import BackofficeConfig
from kiosk.sync.credential import new_credential, save_credential
from kiosk.sync.heartbeat import HeartbeatSender, KioskFacts
from locker.compartments import sync_specs
from locker.store import Store

DEVICES = ("idcard", "face_camera", "document_camera", "fingerprint", "printer", "lockers")


@dataclass(frozen=True)
class Spec:
    id: str
    size: str
    board: int
    lock: int


@dataclass
class FleetKiosk:
    kiosk_id: str
    store: Store
    trackers: dict[str, StatusTracker]
    sender: HeartbeatSender
    facts: KioskFacts

    def beat(self) -> Any:
        answer = self.sender.send_once()
        assert answer is not None, self.sender.status
        return answer

    def set_device(self, name: str, status: DeviceStatus, detail: str = "") -> None:
        self.trackers[name].set(status, detail)

    def set_compartment(self, cid: str, state: str) -> None:
        self.store.db.execute("UPDATE compartments SET state = ? WHERE id = ?", (state, cid))


@contextmanager
def fleet_kiosk(root: Path, url: str, kiosk_id: str, token: str, *, interval_s: float = 30.0,
                compartments: int = 4) -> Iterator[FleetKiosk]:
    root.mkdir(parents=True, exist_ok=True)
    store = Store.open(root / "data", root / "keys" / "data.key", create_key=True)
    sync_specs(store.db, [Spec(f"A{i + 1:02d}", "small", 0, i) for i in range(compartments)], time.time())
    store.audit.append("system", "kiosk.start", detail={})
    cred_file = root / "keys" / "backoffice.credential"
    save_credential(cred_file, new_credential(kiosk_id, token, kiosk_id, "七都", url))
    trackers = {n: StatusTracker(n, DeviceStatus.ONLINE) for n in DEVICES}
    facts = KioskFacts(store, kiosk_id=lambda: kiosk_id, trackers=lambda: trackers, data_dir=root / "data")
    cfg = BackofficeConfig(enabled=True, url=url, heartbeat_interval_s=interval_s, timeout_s=10)
    sender = HeartbeatSender(facts, cfg, credential_file=cred_file, simulator=True)
    try:
        yield FleetKiosk(kiosk_id, store, trackers, sender, facts)
    finally:
        sender.stop()
        store.close()


