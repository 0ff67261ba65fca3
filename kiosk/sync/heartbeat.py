"""The heartbeat: every ``heartbeat_interval_s`` the kiosk tells the back office how it is.

What it carries (``contract.Heartbeat``): each device's status and since when, compartments free /
occupied / out of order, originals waiting and the oldest, the delivery outbox's depth and oldest
item, software version and free disk, and the head of the audit chain (seq, hash).

Why the audit head leaves the kiosk: anyone who can write the kiosk's disk (and holds its key)
can rewrite the whole chain consistently, and no check on the kiosk alone can see it. The back
office keeps every head it was sent and, in its answer, names earlier seqs whose hashes the kiosk
must send with the next heartbeat (``audit_proofs``). A rewritten, cut or replaced chain cannot
answer with the hashes it reported before. The challenge is kept in ``sync_state`` so a restart
still answers it.

A heartbeat is never queued: a missed one is simply missed (the back office counts silence), and
the kiosk never waits for the back office to do anything else.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import contract
from kiosk import __version__
from kiosk.config import BackofficeConfig
from kiosk.sync.credential import load_credential
from kiosk.sync.errors import NotEnrolled, SyncError
from kiosk.sync.queue import DeliveryQueue
from kiosk.sync.rounds import Rounds
from locker.audit import GENESIS

log = logging.getLogger(__name__)

CHALLENGE = "heartbeat_challenge"


class DeviceSince:
    """Since when each device has had its current status (the trackers know only the status)."""

    def __init__(self, clock: Callable[[], float] = time.time, on_change: Callable[[], None] | None = None) -> None:
        self.clock = clock
        self.on_change = on_change
        self._seen: dict[str, tuple[str, float]] = {}
        self._followed: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _changed(self, name: str, change: Any) -> None:
        with self._lock:
            self._seen[name] = (change.new.value, float(getattr(change, "at", self.clock())))
        if self.on_change is not None:
            self.on_change()

    def reports(self, trackers: dict[str, Any]) -> tuple[contract.DeviceReport, ...]:
        out = []
        for name, tracker in sorted(trackers.items()):
            if self._followed.get(name) is not tracker and hasattr(tracker, "subscribe"):
                tracker.subscribe(lambda change, n=name: self._changed(n, change))
                self._followed[name] = tracker
            status = tracker.status.value
            with self._lock:
                seen = self._seen.get(name)
                if seen is None or seen[0] != status:
                    seen = (status, self.clock())
                    self._seen[name] = seen
            out.append(contract.DeviceReport(name[:40], status, (tracker.detail or "")[:300], seen[1]))
        return tuple(out)


class KioskFacts:
    """Reads what a heartbeat says from the kiosk's store and runtime (read-only, cheap queries)."""

    def __init__(self, store: Any, *, kiosk_id: Callable[[], str], trackers: Callable[[], dict[str, Any]],
                 data_dir: Path, silent_boards: Callable[[], set[int]] = set, interval_s: float = 30.0,
                 versions: Callable[[], dict[str, Any]] | None = None, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.kiosk_id = kiosk_id
        self.trackers = trackers
        self.data_dir = data_dir
        self.silent_boards = silent_boards
        self.interval_s = interval_s
        self.versions = versions or (lambda: {})
        self.clock = clock
        self.since = DeviceSince(clock)
        self.queue = DeliveryQueue(store.db, store.cipher, clock=clock)

    def compartments(self) -> contract.CompartmentCounts:
        silent = self.silent_boards()
        free = occupied = broken = total = 0
        ids: list[str] = []
        for r in self.store.db.query("SELECT id, board, state FROM compartments WHERE retired = 0 ORDER BY id"):
            total += 1
            if r["state"] == "out_of_order" or (r["board"] in silent and r["state"] == "free"):
                broken += 1
                ids.append(r["id"])
            elif r["state"] == "free":
                free += 1
            else:
                occupied += 1
        return contract.CompartmentCounts(free, occupied, broken, total, tuple(ids))

    def audit_head(self) -> tuple[int, str]:
        row = self.store.db.query_one("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        return (int(row["seq"]), str(row["hash"])) if row else (0, GENESIS)

    def proofs(self, seqs: list[int]) -> tuple[contract.AuditProof, ...]:
        out = []
        for seq in seqs[:20]:
            row = self.store.db.query_one("SELECT hash FROM audit_log WHERE seq = ?", (int(seq),))
            out.append(contract.AuditProof(int(seq), str(row["hash"]) if row else None))
        return tuple(out)

    def heartbeat(self, challenge: list[int]) -> contract.Heartbeat:
        db = self.store.db
        waiting = db.query_one("SELECT count(*) AS n, min(committed_at) AS t FROM cases WHERE state = 'committed'")
        outbox = self.queue.summary()
        seq, h = self.audit_head()
        try:
            disk = shutil.disk_usage(self.data_dir)
            free_b, total_b = disk.free, disk.total
        except OSError:
            free_b = total_b = 0
        v = self.versions()
        return contract.Heartbeat(
            kiosk_id=self.kiosk_id(), sent_at=self.clock(), interval_s=max(1.0, self.interval_s),
            software_version=__version__, disk_free_bytes=free_b, disk_total_bytes=total_b,
            devices=self.since.reports(self.trackers()), compartments=self.compartments(),
            originals_waiting=int(waiting["n"] or 0) if waiting else 0,
            oldest_original_at=float(waiting["t"]) if waiting and waiting["t"] is not None else None,
            outbox_depth=outbox.pending, oldest_undelivered_at=outbox.oldest_pending_at,
            outbox_last_error=(outbox.last_error or None) and outbox.last_error[:2000],
            audit_seq=seq, audit_hash=h, audit_proofs=self.proofs(challenge),
            guide_version=int(v.get("guide_version", 1)), guide_refused=dict(v.get("guide_refused", {})),
            staff_version=int(v.get("staff_version", 0)),
        )


class HeartbeatSender(Rounds):
    """Sends a heartbeat every ``interval_s`` on its own thread; ``send_once`` is one beat."""

    THREAD_NAME = "backoffice-heartbeat"

    def __init__(self, facts: KioskFacts, cfg: BackofficeConfig, *, credential_file: Path, simulator: bool,
                 on_answer: Callable[[contract.HeartbeatAnswer], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.facts = facts
        self.cfg = cfg
        self.credential_file = credential_file
        self.simulator = simulator
        self.on_answer = on_answer
        self.clock = clock
        self.interval_s = max(1.0, cfg.heartbeat_interval_s)
        facts.interval_s = self.interval_s
        facts.since.on_change = self.wake  # a device changed: beat now rather than at the next interval
        self.status = "starting"
        self.last_answer: contract.HeartbeatAnswer | None = None

    def round(self) -> contract.HeartbeatAnswer | None:
        return self.send_once()

    def round_wait(self, took: float) -> float:
        return max(0.5, self.interval_s - took)

    def _challenge(self) -> list[int]:
        value = self.facts.queue.state(CHALLENGE, [])
        return [int(s) for s in value] if isinstance(value, list) else []

    def send_once(self) -> contract.HeartbeatAnswer | None:
        try:
            cred = load_credential(self.credential_file)
        except NotEnrolled as exc:
            if self.status != "not enrolled":
                log.warning("heartbeat: %s", exc)
            self.status = "not enrolled"
            return None
        client = self.client_for(cred, min(self.cfg.timeout_s, 15.0))
        hb = self.facts.heartbeat(self._challenge())
        try:
            _, raw = client.request("POST", "/fleet/heartbeat", contract.dumps(hb))
            answer = contract.HeartbeatAnswer.from_json(json.loads(raw.decode("utf-8")))
        except (SyncError, contract.ContractError, ValueError) as exc:
            message = getattr(exc, "message", str(exc))
            if not self.status.startswith("failed"):
                log.warning("heartbeat not taken by the back office: %s", message)
            self.status = f"failed: {message}"
            return None
        self.facts.queue.set_state(CHALLENGE, list(answer.audit_challenge))
        if self.status != "ok":
            log.info("heartbeat taken by the back office")
        self.status = "ok"
        self.last_answer = answer
        if self.on_answer is not None:
            try:
                self.on_answer(answer)
            except Exception:
                log.exception("heartbeat answer handler failed")
        return answer


def start_fleet(runtime: Any, guide: Any, guide_file: Path) -> Any:
    """Start the heartbeat and the pull threads of a running kiosk; returns the guide to run.

    The guide returned is the last version pulled from the back office (else ``guide``). A new one
    pulled later is handed to the flows in one assignment, only while no resident is mid-deposit.
    """
    from kiosk.sync.credential import credential_path
    from kiosk.sync.pull import Puller, current_guide

    cfg = runtime.cfg
    cred_file = credential_path(cfg)
    guide_dir = Path(cfg.state_dir) / "guide"
    pulled, version = current_guide(guide_dir, guide_file)
    if version != 1:
        guide = pulled
        if getattr(runtime, "delivery", None) is not None:
            runtime.delivery.guide = guide

    def switch(new_guide: Any, new_version: int) -> bool:
        deposit = getattr(runtime, "deposit", None)
        if deposit is not None and deposit.active:
            log.info("guide v%d waits: a resident is mid-deposit", new_version)
            return False
        if deposit is not None:
            deposit.guide = new_guide
        if getattr(runtime, "delivery", None) is not None:
            runtime.delivery.guide = new_guide
        return True

    def silent_boards() -> set[int]:
        lockers = getattr(runtime, "lockers", None)
        return set(lockers.silent_boards()) if lockers is not None and runtime.lockers_started else set()

    def kiosk_id() -> str:
        return load_credential(cred_file).kiosk_id

    puller = Puller(runtime.store, cfg.backoffice, credential_file=cred_file, simulator=cfg.simulator.enabled,
                    guide_dir=guide_dir, guide_version=version, on_guide=switch)
    facts = KioskFacts(runtime.store, kiosk_id=kiosk_id, trackers=runtime.trackers, data_dir=Path(cfg.store.data_dir),
                       silent_boards=silent_boards, versions=puller.versions)
    sender = HeartbeatSender(facts, cfg.backoffice, credential_file=cred_file, simulator=cfg.simulator.enabled,
                             on_answer=puller.on_heartbeat)
    def hook_staff_screen() -> None:
        staff = getattr(runtime, "staff", None)
        if staff is None or getattr(staff, "_backoffice_results", False) or not hasattr(staff, "results_due"):
            return
        local = staff.results_due
        staff.results_due = lambda: puller.staff_results_due(local())
        staff._backoffice_results = True

    puller.on_round = hook_staff_screen
    runtime.puller, runtime.heartbeat = puller.start(), sender.start()
    runtime._closers.append(puller.stop)
    runtime._closers.append(sender.stop)
    return guide
