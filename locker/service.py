"""The locker facade the flows use: reserve, open, wait for the door, settle after a crash.

Why it is shaped like this:
- every open is a row in ``unlock_tx`` committed before the pulse and advanced right after each
  observed outcome (``locker.transactions``), so a crash at any point leaves a row that says how
  far it got; ``start()`` settles those rows from the door sensors and sends no open at all;
- an open is never repeated. When the board's answer is lost the door sensor decides: seen open
  within ``door_open_confirm_s`` → it went out; otherwise the compartment goes to staff
  (``ambiguous``) and ``LockOutcomeUnknown`` is raised;
- one background thread polls the door sensors (a ``DoorWatcher`` it drives itself) and closes
  transactions when doors shut, expires reservations, and alerts staff about forced doors and
  doors left open. Flows never poll the bus themselves.

Listeners given to ``subscribe`` run on whichever thread made the change (the caller of ``open``
or the poller); a Kivy app hands them on with ``Clock.schedule_once``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from devices.cancel import CancelToken
from devices.errors import DeviceCancelled, DeviceError, Recovery
from devices.listeners import Listeners
from devices.lockerboard import (
    DoorEvent,
    DoorEventKind,
    DoorJammed,
    DoorState,
    DoorWatcher,
    LockerBus,
    LockerPortLost,
    LockOutcomeUnknown,
    LockRefused,
    wait_door_open,
)
from locker import compartments as comp
from locker import transactions as txlog
from locker.audit import AuditLog
from locker.compartments import (
    BoardNotAnswering,
    Compartment,
    CompartmentBusy,
    CompartmentNotAvailable,
    CompartmentSize,
    CompartmentState,
    LockerServiceError,
    NoCompartmentFree,
    OverrideNeedsReason,
    SpecLike,
    UnknownCompartment,
)
from locker.db import Database
from locker.outbox import Outbox
from locker.transactions import Purpose, TxState, UnlockTx

log = logging.getLogger(__name__)


class LockerEventKind(StrEnum):
    RESERVED = "reserved"
    RELEASED = "released"
    RESERVATION_EXPIRED = "reservation_expired"
    DOOR_OPENED = "door_opened"
    DOOR_CLOSED = "door_closed"  # a transaction finished: the compartment holds / is free now
    NOT_SENT = "not_sent"
    JAMMED = "jammed"
    AMBIGUOUS = "ambiguous"
    FORCED_OPEN = "forced_open"  # a door opened with no command
    LEFT_OPEN_REMINDER = "left_open_reminder"
    LEFT_OPEN_ALERT = "left_open_alert"
    OUT_OF_ORDER = "out_of_order"
    BACK_IN_SERVICE = "back_in_service"
    BOARD_SILENT = "board_silent"
    BOARD_BACK = "board_back"


@dataclass(frozen=True)
class LockerEvent:
    kind: LockerEventKind
    compartment_id: str | None
    case_code: str | None = None
    tx_id: int | None = None
    at: float = field(default_factory=time.time)


LockerListener = Callable[[LockerEvent], None]


@dataclass
class ReconcileReport:
    """What ``start()`` found and did. ``settled`` lets a flow settle its own cases (by case_code)."""

    settled: list[UnlockTx] = field(default_factory=list)  # finished now: settled_closed / not_sent
    still_open: list[UnlockTx] = field(default_factory=list)  # door open: watched, reminded, alerted
    ambiguous: list[UnlockTx] = field(default_factory=list)  # handed to staff (alert sent)
    open_without_tx: list[str] = field(default_factory=list)  # doors found open with no command
    silent_boards: list[int] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)


class _SensorWatcher(DoorWatcher):
    """A DoorWatcher that also keeps the door states read by the latest poll (for settling)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fresh: dict[int, dict[int, DoorState]] = {}

    def poll_once(self) -> list[DoorEvent]:
        self.fresh = {}
        return super().poll_once()

    def _compare(self, board: int, doors: dict[int, DoorState], now: float) -> list[DoorEvent]:
        self.fresh[board] = dict(doors)
        return super()._compare(board, doors, now)


class LockerService:
    def __init__(
        self,
        db: Database,
        bus: LockerBus,
        audit: AuditLog,
        outbox: Outbox | None,
        specs: Sequence[SpecLike],
        *,
        clock: Callable[[], float] = time.time,
        door_open_confirm_s: float = 3.0,
        left_open_reminder_s: float = 60,
        left_open_alert_s: float = 180,
        reservation_ttl_s: float = 300,
        poll_interval: float = 0.5,
    ) -> None:
        comp.check_specs(specs, list(bus.boards))
        self.db = db
        self.bus = bus
        self.audit = audit
        self.outbox = outbox
        self.specs = tuple(specs)
        self.clock = clock
        self.door_open_confirm_s = door_open_confirm_s
        self.left_open_reminder_s = left_open_reminder_s
        self.left_open_alert_s = left_open_alert_s
        self.reservation_ttl_s = reservation_ttl_s
        self.poll_interval = poll_interval
        self._in_flight: set[str] = set()  # compartments inside open(): the poller leaves them alone
        self._lock = threading.RLock()
        self._changed = threading.Condition()
        self._listeners: Listeners[LockerEvent] = Listeners()
        self._watcher = _SensorWatcher(
            bus, interval=poll_interval, confirm_within=door_open_confirm_s, left_open_after=left_open_alert_s
        )
        self._watcher.subscribe(self._on_door_event)
        self._stop = CancelToken()
        self._thread: threading.Thread | None = None
        # Test hook for crash tests: called with "intent_committed", "pulse_unrecorded",
        # "door_opened_recorded" at the step boundaries of open().
        self.crash_hook: Callable[[str], None] | None = None

    @classmethod
    def from_config(
        cls, db: Database, bus: LockerBus, audit: AuditLog, outbox: Outbox | None, cfg: Any, **kwargs: Any
    ) -> LockerService:
        """Build from ``kiosk.config.LockersConfig``."""
        return cls(
            db,
            bus,
            audit,
            outbox,
            cfg.compartments,
            door_open_confirm_s=cfg.door_open_confirm_s,
            left_open_reminder_s=cfg.left_open_reminder_s,
            left_open_alert_s=cfg.left_open_alert_s,
            reservation_ttl_s=cfg.reservation_ttl_s,
            **kwargs,
        )

    # -- life cycle -----------------------------------------------------------------------------
    def start(self) -> ReconcileReport:
        """Sync the configuration, settle unfinished transactions from the sensors, start polling.

        Sends no open command: nothing opens by itself after a restart or a power cut.
        """
        if self._thread is not None:
            raise LockerServiceError("the locker service is already started")
        report = ReconcileReport()
        report.retired = comp.sync_specs(self.db, self.specs, self.clock())
        self.bus.all_outputs_off()
        try:
            states = self.bus.all_door_states()
        except LockerPortLost as exc:
            log.error("locker bus unreachable at start-up: %s", exc)
            states = {}
        report.silent_boards = sorted(set(self.bus.boards) - set(states))
        for tx in txlog.unfinished(self.db):
            if tx.state is TxState.AMBIGUOUS:
                report.ambiguous.append(tx)  # already with staff (alerted when it happened)
                continue
            door = states.get(tx.board, {}).get(tx.lock) if tx.board in states else None
            settled = self._settle(tx, door, at_startup=True)
            if settled.state is TxState.AMBIGUOUS:
                report.ambiguous.append(settled)
            elif settled.state.in_progress:
                report.still_open.append(settled)
            else:
                report.settled.append(settled)
        busy = {t.compartment_id for t in txlog.unfinished(self.db)}
        for c in comp.load_all(self.db, include_retired=True):
            if c.id not in busy and states.get(c.board, {}).get(c.lock) is DoorState.OPEN:
                report.open_without_tx.append(c.id)
                self._forced_open(c, "found open at start-up with no unlock in progress")
        self._expire_reservations()
        self._stop = CancelToken()
        self._thread = threading.Thread(target=self._run, name="locker-service", daemon=True)
        self._thread.start()
        log.info(
            "lockers started: %d settled, %d still open, %d ambiguous, silent boards %s",
            len(report.settled),
            len(report.still_open),
            len(report.ambiguous),
            report.silent_boards,
        )
        return report

    def stop(self) -> None:
        self._stop.cancel()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._thread = None
        with self._changed:
            self._changed.notify_all()

    # -- queries --------------------------------------------------------------------------------
    def compartments(self) -> list[Compartment]:
        return comp.load_all(self.db)

    def compartment(self, compartment_id: str) -> Compartment:
        return comp.load(self.db, compartment_id)

    def free_counts(self) -> dict[CompartmentSize, int]:
        """Free compartments per size on boards that answer (what a resident can be given now)."""
        self._expire_reservations()
        return comp.free_counts(self.db, self.silent_boards())

    def silent_boards(self) -> set[int]:
        """Boards that did not answer their last request (the door poller asks each one every round)."""
        return set(self.bus.silent_boards)

    def board_status(self) -> dict[int, str]:
        """Per board: "answering" or "silent", for staff and the out-of-service decision."""
        silent = self.silent_boards()
        return {b: ("silent" if b in silent else "answering") for b in sorted(self.bus.boards)}

    def usable(self) -> list[Compartment]:
        """Compartments that can still serve anyone: configured, on a board that answers, in order."""
        silent = self.silent_boards()
        return [
            c for c in comp.load_all(self.db) if c.board not in silent and c.state is not CompartmentState.OUT_OF_ORDER
        ]

    def holding(self) -> list[Compartment]:
        """Compartments with (possibly) papers in: HOLDING, and out-of-order ones still naming a case."""
        return [
            c
            for c in comp.load_all(self.db, include_retired=True)
            if c.state is CompartmentState.HOLDING or (c.state is CompartmentState.OUT_OF_ORDER and c.case_code)
        ]

    def held_by_cases(self) -> dict[str, str]:
        """compartment id → case code of every compartment an open case says holds its papers."""
        return comp.held_by_cases(self.db)

    def needing_staff(self) -> list[Compartment]:
        return [c for c in comp.load_all(self.db, include_retired=True) if c.needs_staff]

    def unfinished(self) -> list[UnlockTx]:
        return txlog.unfinished(self.db)

    def transaction(self, tx_id: int) -> UnlockTx:
        tx = txlog.get(self.db, tx_id)
        if tx is None:
            raise LockerServiceError(f"no unlock transaction {tx_id}")
        return tx

    def history(self, *, compartment_id: str | None = None, case_code: str | None = None) -> list[UnlockTx]:
        return txlog.history(self.db, compartment_id=compartment_id, case_code=case_code)

    def subscribe(self, listener: LockerListener) -> Callable[[], None]:
        return self._listeners.add(listener)

    # -- reservations ---------------------------------------------------------------------------
    def reserve(
        self, size: CompartmentSize | str, *, case_code: str, purpose: Purpose | str = Purpose.DEPOSIT
    ) -> Compartment:
        """Reserve a free compartment of exactly ``size`` (the resident's choice) for ``case_code``.

        Asking again for the same case and size returns the same compartment with a fresh expiry.
        """
        try:
            size = CompartmentSize(size)
        except ValueError:
            raise LockerServiceError(f"unknown compartment size {size!r}") from None
        purpose = Purpose(purpose)
        self._expire_reservations()
        now = self.clock()
        until = now + self.reservation_ttl_s
        silent = comp.boards_sql(self.silent_boards())  # never promise a door whose board is silent
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM compartments WHERE state = 'reserved' AND case_code = ? AND size = ? AND retired = 0"
                f"{silent} ORDER BY id LIMIT 1",
                (case_code, size.value),
            ).fetchone()
            if row is None:
                row = conn.execute(
                    "SELECT * FROM compartments WHERE state = 'free' AND size = ? AND retired = 0"
                    f" AND id NOT IN ({_BUSY_SQL}) AND id NOT IN ({comp.HELD_BY_CASE_SQL}){silent}"
                    " ORDER BY id LIMIT 1",
                    (size.value,),
                ).fetchone()
            if row is None:
                counts = comp.free_counts(self.db, self.silent_boards())
                larger = {s: n for s, n in counts.items() if s.rank > size.rank and n > 0}
                raise NoCompartmentFree(size, larger)
            comp.set_state(
                conn,
                row["id"],
                CompartmentState.RESERVED,
                now,
                case_code=case_code,
                purpose=purpose.value,
                reserved_until=until,
            )
            self.audit.append(
                "system",
                "locker.reserve",
                case_code=case_code,
                detail={"compartment": row["id"], "size": size.value, "until": until},
            )
        self._publish(LockerEventKind.RESERVED, row["id"], case_code)
        return comp.load(self.db, row["id"])

    def release(self, compartment_id: str, *, actor: str) -> None:
        """Give a reservation back (the resident cancelled). A compartment with papers is refused."""
        c = comp.load(self.db, compartment_id)
        if c.state is CompartmentState.FREE:
            return
        if c.state is not CompartmentState.RESERVED:
            raise CompartmentNotAvailable(f"compartment {compartment_id} is {c.state.value}, not reserved")
        with self.db.transaction() as conn:
            comp.set_state(conn, compartment_id, CompartmentState.FREE, self.clock())
            self.audit.append(actor, "locker.release", case_code=c.case_code, detail={"compartment": compartment_id})
        self._publish(LockerEventKind.RELEASED, compartment_id, c.case_code)

    def _expire_reservations(self) -> None:
        now = self.clock()
        with self._lock:
            flying = set(self._in_flight)
        rows = self.db.query(
            "SELECT id, case_code FROM compartments WHERE state = 'reserved' AND reserved_until IS NOT NULL"
            f" AND reserved_until <= ? AND id NOT IN ({_BUSY_SQL})",
            (now,),
        )
        for r in rows:
            if r["id"] in flying:
                continue
            with self.db.transaction() as conn:
                cur = conn.execute(
                    "UPDATE compartments SET state = 'free', case_code = NULL, purpose = NULL, reserved_until = NULL,"
                    " updated_at = ? WHERE id = ? AND state = 'reserved' AND reserved_until <= ?",
                    (now, r["id"], now),
                )
                if cur.rowcount != 1:
                    continue
                self.audit.append(
                    "system", "locker.reservation_expired", case_code=r["case_code"], detail={"compartment": r["id"]}
                )
            self._publish(LockerEventKind.RESERVATION_EXPIRED, r["id"], r["case_code"])

    # -- opening --------------------------------------------------------------------------------
    def open(
        self,
        compartment_id: str,
        *,
        case_code: str | None,
        purpose: Purpose | str,
        actor: str,
        reason: str | None = None,
        cancel: CancelToken | None = None,
    ) -> UnlockTx:
        """Pulse the lock once and return when its sensor shows the door open.

        Raises ``DoorJammed`` (compartment now out of order, staff alerted: offer another one),
        ``LockOutcomeUnknown`` (ambiguous, compartment to staff), ``LockRefused``,
        ``DeviceCancelled`` (cancelled before the pulse: nothing was sent), ``CompartmentBusy``,
        ``CompartmentNotAvailable``, ``OverrideNeedsReason``.
        """
        purpose = Purpose(purpose)
        if purpose is Purpose.OVERRIDE and not (reason or "").strip():
            raise OverrideNeedsReason(f"opening compartment {compartment_id} as an override needs a reason")
        with self._lock:
            if compartment_id in self._in_flight:
                raise CompartmentBusy(f"compartment {compartment_id} is being opened right now")
            self._in_flight.add(compartment_id)
        try:
            return self._open(compartment_id, case_code, purpose, actor, reason, cancel)
        finally:
            with self._lock:
                self._in_flight.discard(compartment_id)
            self._notify()

    def _open(
        self,
        compartment_id: str,
        case_code: str | None,
        purpose: Purpose,
        actor: str,
        reason: str | None,
        cancel: CancelToken | None,
    ) -> UnlockTx:
        self._check_board_answers(comp.load(self.db, compartment_id))
        now = self.clock()
        with self.db.transaction() as conn:
            c = self._check_can_open(conn, compartment_id, case_code, purpose)
            tx_id = txlog.insert_intent(
                conn,
                compartment_id=c.id,
                board=c.board,
                lock=c.lock,
                case_code=case_code,
                purpose=purpose,
                actor=actor,
                reason=reason,
                now=now,
            )
            if purpose.fills:  # held for this case while its door is open (no expiry meanwhile)
                comp.set_state(conn, c.id, CompartmentState.RESERVED, now, case_code=case_code, purpose=purpose.value)
            self.audit.append(
                actor,
                "locker.override" if purpose is Purpose.OVERRIDE else "locker.open_intent",
                case_code=case_code,
                detail={"compartment": c.id, "tx": tx_id, "purpose": purpose.value, "reason": reason or ""},
            )
        self._step("intent_committed")
        try:
            self.bus.open_lock(c.board, c.lock, cancel=cancel)
        except DeviceCancelled:
            self._finish(tx_id, TxState.NOT_SENT, "cancelled before the pulse was sent", expect=(TxState.INTENT,))
            raise
        except LockRefused as exc:
            self._to_staff(tx_id, TxState.REFUSED, f"board refused the open: {exc.message}", alert="lock_refused")
            raise
        except (LockOutcomeUnknown, LockerPortLost) as exc:
            # The pulse may or may not have gone out: only the door sensor can tell.
            if self._door_seen_open(c, cancel=None):
                with self.db.transaction() as conn:
                    txlog.advance(conn, tx_id, TxState.PULSE_SENT, self.clock(), expect=(TxState.INTENT,))
                    txlog.advance(
                        conn,
                        tx_id,
                        TxState.DOOR_OPENED,
                        self.clock(),
                        result="board answer lost; door seen open",
                        expect=(TxState.PULSE_SENT,),
                    )
                self._step("door_opened_recorded")
                self._publish(LockerEventKind.DOOR_OPENED, c.id, case_code, tx_id)
                return self.transaction(tx_id)
            self._to_staff(
                tx_id,
                TxState.AMBIGUOUS,
                f"open answer lost and door not seen open: {exc.message}",
                alert="unlock_ambiguous",
            )
            if isinstance(exc, LockOutcomeUnknown):
                raise
            raise LockOutcomeUnknown(exc.message, board=c.board, lock=c.lock, device=self.bus.name) from exc
        self._step("pulse_unrecorded")
        self._write_step(tx_id, TxState.PULSE_SENT, expect=(TxState.INTENT,))
        try:
            wait_door_open(self.bus, c.board, c.lock, within=self.door_open_confirm_s, interval=self._confirm_poll)
        except DoorJammed:
            self._to_staff(tx_id, TxState.JAMMED, "lock pulsed but the door never opened (jammed)", alert="door_jammed")
            raise
        except DeviceError as exc:
            self._to_staff(
                tx_id,
                TxState.AMBIGUOUS,
                f"pulsed, then the door sensor could not be read: {exc.message}",
                alert="unlock_ambiguous",
            )
            raise LockOutcomeUnknown(
                f"compartment {c.id}: pulse acknowledged but the door sensor gives no answer",
                board=c.board,
                lock=c.lock,
                device=self.bus.name,
            ) from exc
        self._write_step(tx_id, TxState.DOOR_OPENED, expect=(TxState.PULSE_SENT,))
        self._step("door_opened_recorded")
        self._publish(LockerEventKind.DOOR_OPENED, c.id, case_code, tx_id)
        return self.transaction(tx_id)

    def _check_board_answers(self, c: Compartment) -> None:
        """Ask the board for its doors before writing the intent: a silent board gets no pulse.

        A pulse to a board without power cannot be confirmed by any sensor, so it would end as
        "outcome unknown" and take the compartment out of order for staff. Asking first (a status
        query is harmless) lets the resident be given a compartment on a board that answers.
        """
        try:
            self.bus.door_states(c.board)
        except LockerPortLost:
            raise
        except DeviceError as exc:
            raise BoardNotAnswering(
                f"compartment {c.id}: board {c.board} does not answer ({exc.message}); nothing was sent",
                device=self.bus.name,
            ) from exc

    @property
    def _confirm_poll(self) -> float:
        return max(0.02, min(self.poll_interval, self.door_open_confirm_s / 10))

    def _check_can_open(
        self, conn: sqlite3.Connection, compartment_id: str, case_code: str | None, purpose: Purpose
    ) -> Compartment:
        row = conn.execute("SELECT * FROM compartments WHERE id = ?", (compartment_id,)).fetchone()
        if row is None:
            raise UnknownCompartment(f"no compartment {compartment_id!r}")
        c = comp.row_to_compartment(row)
        if conn.execute(f"SELECT 1 FROM ({_BUSY_SQL}) WHERE compartment_id = ?", (c.id,)).fetchone():
            raise CompartmentBusy(f"compartment {c.id} has an unlock in progress (door open?)")
        if purpose is Purpose.OVERRIDE:
            return c
        if c.retired:
            raise CompartmentNotAvailable(f"compartment {c.id} is no longer configured")
        state = c.state
        held_for = conn.execute(
            "SELECT case_code FROM cases WHERE compartment_id = ? AND state IN ('committed', 'result_ready')"
            " ORDER BY id LIMIT 1",
            (c.id,),
        ).fetchone()
        if purpose.fills:
            mine = state is CompartmentState.RESERVED and (c.case_code == case_code or self._expired(c))
            if not (state is CompartmentState.FREE or mine):
                raise CompartmentNotAvailable(f"compartment {c.id} is {state.value}, cannot take {purpose.value}")
            if held_for is not None and held_for["case_code"] != case_code:
                raise CompartmentNotAvailable(
                    f"compartment {c.id} still holds the papers of case {held_for['case_code']} (not collected)"
                )
        elif purpose.empties:
            # A collection door shut without "collected" confirmed leaves the row free while the case
            # still names it: staff may open it again for that case.
            holds = state is CompartmentState.HOLDING and (case_code is None or c.case_code == case_code)
            # out of order (a jam, an unclear unlock) with this case's papers inside: staff may still
            # take them out; the compartment stays out of order until "check and return to service"
            holds = holds or (
                state is CompartmentState.OUT_OF_ORDER and case_code is not None and c.case_code == case_code
            )
            named = held_for is not None and (case_code is None or held_for["case_code"] == case_code)
            if not (holds or (state is CompartmentState.FREE and named)):
                raise CompartmentNotAvailable(f"compartment {c.id} does not hold that case ({state.value})")
        return c

    def _expired(self, c: Compartment) -> bool:
        return c.reserved_until is not None and c.reserved_until <= self.clock()

    def _door_seen_open(self, c: Compartment, cancel: CancelToken | None) -> bool:
        try:
            wait_door_open(
                self.bus, c.board, c.lock, within=self.door_open_confirm_s, interval=self._confirm_poll, cancel=cancel
            )
            return True
        except DeviceError:
            return False

    # -- waiting for the door to close -------------------------------------------------------------
    def wait_closed(
        self,
        tx: UnlockTx | int,
        *,
        timeout: float | None = None,
        cancel: CancelToken | None = None,
        on_reminder: Callable[[], None] | None = None,
    ) -> bool:
        """True once the door is seen closed (the compartment then holds / is free).

        ``on_reminder`` runs once after ``left_open_reminder_s``; staff are alerted after
        ``left_open_alert_s``. On timeout/cancel returns False: the transaction stays open and the
        poller closes it when the door shuts.
        """
        tx_id = tx if isinstance(tx, int) else tx.id
        end = None if timeout is None else time.monotonic() + timeout
        reminded = False
        while True:
            cur = self.transaction(tx_id)
            if cur.state in (TxState.DOOR_CLOSED, TxState.SETTLED_CLOSED):
                return True
            if not cur.state.in_progress:
                return False
            if cur.door_opened_at is not None:
                open_for = self.clock() - cur.door_opened_at
                if not reminded and open_for >= self.left_open_reminder_s:
                    reminded = True
                    self._publish(LockerEventKind.LEFT_OPEN_REMINDER, cur.compartment_id, cur.case_code, cur.id)
                    if on_reminder is not None:
                        on_reminder()
                if open_for >= self.left_open_alert_s:
                    self._alert_left_open(cur)
            if cancel is not None and cancel.cancelled:
                return False
            if self._thread is None:
                raise LockerServiceError("wait_closed needs the service started (nothing watches the doors)")
            wait = self.poll_interval
            if end is not None:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                wait = min(wait, left)
            with self._changed:
                self._changed.wait(wait)

    # -- staff ----------------------------------------------------------------------------------
    def set_out_of_order(self, compartment_id: str, *, reason: str, actor: str) -> None:
        """Take a compartment out of allocation; what it holds is remembered."""
        if not reason.strip():
            raise OverrideNeedsReason("taking a compartment out of order needs a reason")
        c = comp.load(self.db, compartment_id)
        with self.db.transaction() as conn:
            keep = c.state in (CompartmentState.HOLDING, CompartmentState.OUT_OF_ORDER)
            comp.set_state(
                conn,
                c.id,
                CompartmentState.OUT_OF_ORDER,
                self.clock(),
                case_code=c.case_code if keep else None,
                purpose=c.purpose if keep else None,
                note=reason,
                needs_staff=c.needs_staff,
            )
            self.audit.append(
                actor, "locker.out_of_order", case_code=c.case_code, detail={"compartment": c.id, "reason": reason}
            )
        self._publish(LockerEventKind.OUT_OF_ORDER, c.id, c.case_code)

    def back_in_service(
        self, compartment_id: str, *, actor: str, reason: str = "", holding: bool | None = None
    ) -> None:
        """Staff looked: the compartment is usable again, HOLDING when papers are inside.

        ``holding=None`` keeps what the record says (papers if it names a case). Ambiguous
        transactions of this compartment are marked ``resolved``.
        """
        c = comp.load(self.db, compartment_id)
        has_papers = bool(c.case_code) if holding is None else holding
        if has_papers and not c.case_code:
            raise CompartmentNotAvailable(f"compartment {c.id}: which case's papers? none is recorded")
        now = self.clock()
        with self.db.transaction() as conn:
            for tx in txlog.unfinished(self.db, c.id):
                if tx.state is TxState.AMBIGUOUS:
                    txlog.advance(conn, tx.id, TxState.RESOLVED, now, result=f"resolved by {actor}: {reason}")
            if has_papers:
                comp.set_state(
                    conn,
                    c.id,
                    CompartmentState.HOLDING,
                    now,
                    case_code=c.case_code,
                    purpose=c.purpose or Purpose.DEPOSIT.value,
                )
            else:
                comp.set_state(conn, c.id, CompartmentState.FREE, now)
            self.audit.append(
                actor,
                "locker.back_in_service",
                case_code=c.case_code,
                detail={"compartment": c.id, "reason": reason, "holding": has_papers},
            )
        self._publish(LockerEventKind.BACK_IN_SERVICE, c.id, c.case_code)

    def check_door(
        self, compartment_id: str, *, actor: str, timeout: float = 300.0, cancel: CancelToken | None = None
    ) -> UnlockTx:
        """Staff's "check": open the door (an audited override), return once it is seen shut again.

        Raises ``DoorJammed`` (still stuck: stays out of order, staff alerted again),
        ``LockOutcomeUnknown``, ``BoardNotAnswering``, or ``DoorNotShut`` when nobody closed it
        within ``timeout`` (the poller closes the transaction later; nothing is returned to service).
        """
        tx = self.open(
            compartment_id, case_code=None, purpose=Purpose.OVERRIDE, actor=actor, reason=CHECK_REASON, cancel=cancel
        )
        if not self.wait_closed(tx, timeout=timeout, cancel=cancel):
            raise DoorNotShut(f"compartment {compartment_id}: the door was not seen shut after the check")
        return self.transaction(tx.id)

    def check_and_return(
        self,
        compartment_id: str,
        *,
        actor: str,
        holding: bool | None = None,
        timeout: float = 300.0,
        cancel: CancelToken | None = None,
    ) -> Compartment:
        """Open the door, see it shut, then put the compartment back in service (both audited)."""
        tx = self.check_door(compartment_id, actor=actor, timeout=timeout, cancel=cancel)
        self.back_in_service(
            compartment_id, actor=actor, reason=f"checked: door opened and shut (tx {tx.id})", holding=holding
        )
        return self.compartment(compartment_id)

    # -- the poller -----------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.cancelled:
            try:
                self.tick()
            except Exception:  # door supervision must go on whatever one round hit
                log.exception("locker poll round failed")
            self._stop.wait(self.poll_interval)

    def tick(self) -> None:
        """One round: poll the sensors, settle transactions from them, expire reservations."""
        poll_at = self.clock()
        try:
            self._watcher.poll_once()
        except DeviceError as exc:
            log.warning("door poll: %s", exc)
        fresh = self._watcher.fresh
        with self._lock:
            flying = set(self._in_flight)
        for tx in txlog.unfinished(self.db):
            if tx.compartment_id in flying or not tx.state.in_progress or tx.board not in fresh:
                continue
            if poll_at <= (tx.door_opened_at or tx.pulse_sent_at or tx.created_at):
                continue  # those states were read before this step was written
            door = fresh[tx.board].get(tx.lock)
            settled = self._settle(tx, door, at_startup=False)
            opened = settled.door_opened_at
            if settled.state is TxState.DOOR_OPENED and opened and self.clock() - opened >= self.left_open_alert_s:
                self._alert_left_open(settled)
        self._expire_reservations()

    def _on_door_event(self, event: DoorEvent) -> None:
        try:
            self._handle_door_event(event)
        except Exception:  # a bug here must not stop door supervision
            log.exception("handling door event %s failed", event)

    def _handle_door_event(self, event: DoorEvent) -> None:
        if event.kind in (DoorEventKind.BOARD_SILENT, DoorEventKind.BOARD_BACK):
            kind = (
                LockerEventKind.BOARD_SILENT if event.kind is DoorEventKind.BOARD_SILENT else LockerEventKind.BOARD_BACK
            )
            self._publish(kind, None)
            return
        if event.lock is None:
            return
        c = comp.by_address(self.db, event.board, event.lock)
        with self._lock:
            flying = c is not None and c.id in self._in_flight
        if c is None or flying:
            return
        active = [t for t in txlog.unfinished(self.db, c.id) if t.state.in_progress]
        if event.kind is DoorEventKind.OPENED_UNEXPECTEDLY and not active:
            self._forced_open(c, "door opened with no open command")
        elif event.kind is DoorEventKind.JAMMED:
            for tx in active:
                if tx.state is TxState.PULSE_SENT:
                    self._to_staff(tx.id, TxState.JAMMED, "door never opened after the pulse", alert="door_jammed")
        elif event.kind is DoorEventKind.LEFT_OPEN and not active:
            self._alert(
                c.case_code,
                "door_left_open",
                f"Compartment {c.id} door left open",
                f"The door of compartment {c.id} has been open for over {self.left_open_alert_s:.0f} s "
                "with no unlock in progress.",
            )
            self._publish(LockerEventKind.LEFT_OPEN_ALERT, c.id, c.case_code)

    # -- settling one transaction from its door sensor ------------------------------------------------
    def _settle(self, tx: UnlockTx, door: DoorState | None, *, at_startup: bool) -> UnlockTx:
        if door is None:
            if at_startup:
                self._to_staff(
                    tx.id,
                    TxState.AMBIGUOUS,
                    f"found {tx.state.value} at start-up and board {tx.board} does not answer",
                    alert="unlock_ambiguous",
                )
            return self.transaction(tx.id)
        if door is DoorState.OPEN:
            if tx.state in (TxState.INTENT, TxState.PULSE_SENT):
                with self.db.transaction() as conn:
                    now = self.clock()
                    note = "door found open: the pulse went out" if tx.state is TxState.INTENT else ""
                    txlog.advance(conn, tx.id, TxState.PULSE_SENT, now, expect=(TxState.INTENT,))
                    txlog.advance(conn, tx.id, TxState.DOOR_OPENED, now, result=note, expect=(TxState.PULSE_SENT,))
                    self.audit.append(
                        "system",
                        "locker.settle",
                        case_code=tx.case_code,
                        detail={"tx": tx.id, "compartment": tx.compartment_id, "to": "door_opened"},
                    )
                self._notify()
                self._publish(LockerEventKind.DOOR_OPENED, tx.compartment_id, tx.case_code, tx.id)
            return self.transaction(tx.id)
        # door closed
        if tx.state is TxState.INTENT:
            # Killed between the intent and recording the pulse: the pulse may have gone out, the
            # door opened and been shut again while the kiosk was down (papers put in or taken
            # out). Nothing can tell, so staff settle it: the compartment is held for the case and
            # never freed or pulsed again by itself.
            self._to_staff(
                tx.id,
                TxState.AMBIGUOUS,
                "found unfinished after a restart with the door shut: the pulse may have gone out "
                f"({tx.purpose.value}); check the compartment",
                alert="unlock_ambiguous",
            )
            return self.transaction(tx.id)
        final = TxState.SETTLED_CLOSED if at_startup else TxState.DOOR_CLOSED
        note = "closed while the kiosk was down" if at_startup else ""
        self._close(tx, final, note)
        return self.transaction(tx.id)

    def _close(self, tx: UnlockTx, final: TxState, note: str) -> None:
        now = self.clock()
        with self.db.transaction() as conn:
            if not txlog.advance(
                conn, tx.id, final, now, result=note, expect=(TxState.PULSE_SENT, TxState.DOOR_OPENED)
            ):
                return
            c = comp.row_to_compartment(
                conn.execute("SELECT * FROM compartments WHERE id = ?", (tx.compartment_id,)).fetchone()
            )
            if c.state is CompartmentState.OUT_OF_ORDER and tx.purpose.empties:
                comp.set_state(  # papers taken out; the door itself still waits for staff's check
                    conn, c.id, CompartmentState.OUT_OF_ORDER, now, note=c.note, needs_staff=c.needs_staff
                )
            elif c.state is not CompartmentState.OUT_OF_ORDER:
                if tx.purpose.fills:
                    comp.set_state(
                        conn, c.id, CompartmentState.HOLDING, now, case_code=tx.case_code, purpose=tx.purpose.value
                    )
                elif tx.purpose.empties:
                    comp.set_state(conn, c.id, CompartmentState.FREE, now)
            self.audit.append(
                "system",
                "locker.door_closed",
                case_code=tx.case_code,
                detail={"tx": tx.id, "compartment": c.id, "state": final.value},
            )
        self._notify()
        self._publish(LockerEventKind.DOOR_CLOSED, tx.compartment_id, tx.case_code, tx.id)

    # -- writing steps --------------------------------------------------------------------------------
    def _write_step(self, tx_id: int, to: TxState, *, expect: tuple[TxState, ...]) -> None:
        with self.db.transaction() as conn:
            txlog.advance(conn, tx_id, to, self.clock(), expect=expect)
        self._notify()

    def _finish(self, tx_id: int, to: TxState, result: str, *, expect: tuple[TxState, ...]) -> None:
        tx = self.transaction(tx_id)
        now = self.clock()
        with self.db.transaction() as conn:
            if not txlog.advance(conn, tx_id, to, now, result=result, expect=expect):
                return
            if tx.purpose.fills:  # the reservation goes on (with a fresh expiry): try again with a new intent
                conn.execute(
                    "UPDATE compartments SET reserved_until = ?, updated_at = ? WHERE id = ? AND state = 'reserved'",
                    (now + self.reservation_ttl_s, now, tx.compartment_id),
                )
            self.audit.append(
                "system",
                f"locker.{to.value}",
                case_code=tx.case_code,
                detail={"tx": tx_id, "compartment": tx.compartment_id, "result": result},
            )
        self._notify()
        self._publish(LockerEventKind.NOT_SENT, tx.compartment_id, tx.case_code, tx_id)

    def _to_staff(self, tx_id: int, to: TxState, result: str, *, alert: str) -> None:
        """Jammed / refused / ambiguous: the compartment leaves allocation and staff are told."""
        tx = self.transaction(tx_id)
        now = self.clock()
        with self.db.transaction() as conn:
            if not txlog.advance(
                conn, tx_id, to, now, result=result, expect=(TxState.INTENT, TxState.PULSE_SENT, TxState.DOOR_OPENED)
            ):
                return
            c = comp.row_to_compartment(
                conn.execute("SELECT * FROM compartments WHERE id = ?", (tx.compartment_id,)).fetchone()
            )
            if to is TxState.AMBIGUOUS:
                # Papers may be inside (or may have been taken): keep naming the case for staff.
                case, purpose = (tx.case_code or c.case_code), (tx.purpose.value if tx.purpose.fills else c.purpose)
            elif c.state is CompartmentState.HOLDING:
                case, purpose = c.case_code, c.purpose  # the door never opened: the papers are still in
            else:
                case, purpose = None, None
            comp.set_state(
                conn,
                c.id,
                CompartmentState.OUT_OF_ORDER,
                now,
                case_code=case,
                purpose=purpose,
                note=result,
                needs_staff=True,
            )
            self.audit.append(
                "system",
                f"locker.{to.value}",
                case_code=tx.case_code,
                detail={"tx": tx_id, "compartment": c.id, "result": result},
            )
            self._alert(
                tx.case_code,
                alert,
                f"Compartment {c.id}: {to.value.replace('_', ' ')}",
                f"Compartment {c.id} (board {c.board}, lock {c.lock}) needs a check: {result}. "
                f"It is out of order until staff put it back in service.",
            )
        self._notify()
        kind = {TxState.JAMMED: LockerEventKind.JAMMED, TxState.AMBIGUOUS: LockerEventKind.AMBIGUOUS}.get(
            to, LockerEventKind.OUT_OF_ORDER
        )
        self._publish(kind, tx.compartment_id, tx.case_code, tx_id)

    def _forced_open(self, c: Compartment, what: str) -> None:
        with self.db.transaction():
            self.audit.append(
                "system", "locker.forced_open", case_code=c.case_code, detail={"compartment": c.id, "what": what}
            )
            self._alert(
                c.case_code,
                "door_forced",
                f"Compartment {c.id} opened without a command",
                f"Compartment {c.id} (board {c.board}, lock {c.lock}, {c.state.value}): {what}.",
            )
        self._publish(LockerEventKind.FORCED_OPEN, c.id, c.case_code)

    def _alert_left_open(self, tx: UnlockTx) -> None:
        with self.db.transaction() as conn:
            if not txlog.claim_left_open_alert(conn, tx.id, self.clock()):
                return
            self._alert(
                tx.case_code,
                "door_left_open",
                f"Compartment {tx.compartment_id} door left open",
                f"The door of compartment {tx.compartment_id} has been open for over "
                f"{self.left_open_alert_s:.0f} s ({tx.purpose.value}).",
            )
        self._publish(LockerEventKind.LEFT_OPEN_ALERT, tx.compartment_id, tx.case_code, tx.id)

    def _alert(self, case_code: str | None, kind: str, title: str, body: str) -> None:
        if self.outbox is None:
            log.warning("staff alert not queued (no outbox): %s", title)
            return
        self.outbox.enqueue(f"locker.{kind}", title, body, case_code)

    # -- plumbing ---------------------------------------------------------------------------------------
    def _step(self, name: str) -> None:
        if self.crash_hook is not None:
            self.crash_hook(name)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _publish(
        self, kind: LockerEventKind, compartment_id: str | None, case_code: str | None = None, tx_id: int | None = None
    ) -> None:
        event = LockerEvent(kind, compartment_id, case_code, tx_id, self.clock())
        for listener in self._listeners:
            try:
                listener(event)
            except Exception:
                log.exception("locker listener failed on %s", event)


CHECK_REASON = "check and return to service"


class DoorNotShut(LockerServiceError):
    """A staff check opened the door but nobody shut it: the compartment is not returned to service."""

    recovery = Recovery.USER
    code = "lockers.check_not_shut"


_BUSY_SQL = "SELECT compartment_id FROM unlock_tx WHERE state IN ('intent', 'pulse_sent', 'door_opened')"

__all__ = [
    "CompartmentBusy",
    "LockerEvent",
    "LockerEventKind",
    "LockerService",
    "NoCompartmentFree",
    "ReconcileReport",
]
