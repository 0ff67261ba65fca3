"""Staff at the kiosk: badge + PIN → pending pickups → open one or all → confirm collected.

Also the staff-only door actions: an override (open any compartment) needs a reason and is
audited by the locker service; putting a case's result papers into a compartment for the
resident (``flows.results.place_result``). Maintenance mode lists every device with its status
and runs a device test on a worker thread; entering it, each test and leaving it are audited.
A door that does not open (jammed, refused, outcome unknown) is reported by compartment and
reason, and its case stays pending.

The badge comes from a ``CardWatcher`` on the staff reader (the app wires ``badge_tapped``); the
PIN check is the locker layer's (scrypt, lock-out after 5 wrong tries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from devices.cancel import CancelToken
from devices.errors import KioskError
from flows import crashpoints
from flows.machine import IDLE, FlowMachine
from flows.ports import AlertPort, AuditPort, DeviceCheck, DeviceStatuses, LockerPort
from flows.results import place_result
from flows.view import Screen
from locker.staff import BadgeLocked, StaffAccounts, StaffMember, UnknownBadge, WrongPin
from locker.submissions import CaseState, SubmissionStore

log = logging.getLogger(__name__)

PIN = "pin"
PICKUPS = "pickups"
COMPARTMENTS = "compartments"
OPENING = "opening"
MAINTENANCE = "maintenance"
CHECK = "check"  # "check and return to service": the door is open, staff look inside and shut it
CHECKED = "checked"  # the door was shut; staff say whether an unsettled case's papers are inside
# Why staff open a compartment by hand; the key is what the audit log records.
OVERRIDE_REASONS = ("door_stuck", "cleaning", "resident_request")
# Compartment states as the staff screen colours them; "open" is a door being opened or standing
# open (an unfinished unlock), whatever the compartment's state.
TILE_STATE = {"free": "free", "reserved": "occupied", "holding": "occupied", "out_of_order": "disabled"}
TILE_OPEN = "open"
# Error families the staff screens have text for (every code of these is in the translation
# tables; tests/flow_keys.py collects them); anything else is shown as "staff.action_failed".
SHOWN_FAMILIES = ("locker", "lockers", "staff", "flow", "door")
PICKUP_ACTIONS = ("open", "open_all", "collected", "override", "maintenance", "result", "done", "cancel")
MAINTENANCE_ACTIONS = ("test_devices", "back", "cancel")
# Audit actions of maintenance mode (the locker service audits the doors itself).
AUDIT_MAINTENANCE_ENTERED = "kiosk.maintenance_entered"
AUDIT_DEVICE_TEST = "kiosk.device_test"
AUDIT_MAINTENANCE_LEFT = "kiosk.maintenance_left"
AUDIT_UNCONFIRMED = "kiosk.collect_unconfirmed"


def shown_key(code: str) -> str:
    """The message key staff see for an error code: the code itself when the screens have text for it."""
    return code if code.split(".", 1)[0] in SHOWN_FAMILIES else "staff.action_failed"


class StaffPickupFlow(FlowMachine):
    flow_name = "staff"
    default_timeouts: Mapping[str, float] = {
        PIN: 30.0,
        PICKUPS: 120.0,
        COMPARTMENTS: 120.0,
        OPENING: 60.0,
        MAINTENANCE: 300.0,
        CHECK: 180.0,
        CHECKED: 120.0,
    }

    def __init__(
        self,
        *,
        staff: StaffAccounts,
        lockers: LockerPort,
        submissions: SubmissionStore,
        resident_alerts: AlertPort | None = None,
        device_statuses: DeviceStatuses | None = None,
        check_devices: DeviceCheck | None = None,
        audit: AuditPort | None = None,
        staff_alerts: AlertPort | None = None,
        timeouts: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``device_statuses`` and ``check_devices`` make maintenance mode available (the runtime's
        trackers and device test); ``audit`` records what staff do there (default: the staff
        accounts' audit log)."""
        super().__init__(timeouts=timeouts, clock=clock)
        self.staff = staff
        self.lockers = lockers
        self.submissions = submissions
        self.resident_alerts = resident_alerts
        self.device_statuses = device_statuses
        self.check_devices = check_devices
        self.audit: AuditPort | None = audit if audit is not None else getattr(staff, "audit", None)
        self.staff_alerts = staff_alerts
        self.badge: str | None = None
        self.member: StaffMember | None = None
        self.opened: dict[str, str] = {}  # case_code → compartment opened for collection this session
        self.not_opened: dict[str, str] = {}  # case_code → why its door did not open this session

    # -- badge and PIN -------------------------------------------------------------------------------
    def badge_tapped(self, uid: str) -> None:
        """From the staff reader's CardWatcher (any thread)."""
        with self._lock:
            if self.state not in (IDLE, PIN):
                return
            self.badge, self.member, self.opened, self.not_opened = uid, None, {}, {}
            self.outcome = None
            self.enter(PIN, Screen.STAFF_PIN, "staff.enter_pin", actions=("pin", "cancel"))

    def on_action(self, state: str, action: str, data: dict[str, Any]) -> None:
        if state == PIN and action == "pin":
            self._check_pin(str(data.get("pin", "")))
        elif state == PICKUPS:
            self._pickups_action(action, data)
        elif state == COMPARTMENTS:
            self._compartments_action(action, data)
        elif state == MAINTENANCE:
            self._maintenance_action(action)
        elif state == CHECKED:
            self._checked_action(action, data)

    def _check_pin(self, pin: str) -> None:
        assert self.badge is not None
        try:
            self.member = self.staff.verify(self.badge, pin)
        except WrongPin as exc:
            self.enter(
                PIN, Screen.STAFF_PIN, exc.code, params={"tries_left": exc.tries_left}, actions=("pin", "cancel")
            )
            return
        except (BadgeLocked, UnknownBadge) as exc:
            self.end("refused", exc.code)
            return
        self._show_pickups("staff.pickups")

    # -- the list --------------------------------------------------------------------------------------
    def pending(self) -> list[dict[str, Any]]:
        rows = []
        for c in self.submissions.pending_pickups():
            earlier = self._unconfirmed_open(c.case_code, c.committed_at)
            rows.append(
                {
                    "case_code": c.case_code,
                    "service_id": c.service_id,
                    "compartment": c.compartment_id,
                    "id_masked": c.id_masked,
                    "name_masked": c.name_masked,
                    "committed_at": c.committed_at,
                    "deferred": list(c.deferred_papers),
                    "opened": c.case_code in self.opened or earlier is not None,
                    "not_opened": self.not_opened.get(c.case_code),
                    # opened for collection in an earlier session that ended without "collected":
                    # the door was open, so only staff can say whether the papers are still inside
                    "unconfirmed": earlier,
                }
            )
        return rows

    def _unconfirmed_open(self, case_code: str, committed_at: float | None) -> dict[str, Any] | None:
        """The last collection door opened for this still-pending case (from the durable unlock log)."""
        history = getattr(self.lockers, "history", None)
        if history is None or case_code in self.opened:
            return None
        opened = [
            t
            for t in history(case_code=case_code)
            if t.purpose.value == "collect"
            and t.papers_moved
            and (committed_at is None or t.created_at >= committed_at)
        ]
        if not opened:
            return None
        t = opened[-1]
        return {
            "by": t.actor,
            "at": t.door_opened_at or t.created_at,
            "door": "open" if t.state.in_progress else "closed",
        }

    def needs_check(self) -> list[dict[str, Any]]:
        """Compartments out of order with a reason (jammed, unlock outcome unknown): staff look at them.

        A deposit whose door may have opened is listed here with its case until staff settle it.
        """
        needing = getattr(self.lockers, "needing_staff", None)
        if needing is None:
            return []
        return [{"compartment": c.id, "case_code": c.case_code, "note": c.note} for c in needing()]

    def results_due(self) -> list[dict[str, Any]]:
        """Collected cases whose result papers can go back into a compartment for the resident."""
        out: list[dict[str, Any]] = []
        for state in (CaseState.COLLECTED, CaseState.PROCESSING):
            out += [
                {"case_code": c.case_code, "service_id": c.service_id, "name_masked": c.name_masked}
                for c in self.submissions.list_cases(state)
            ]
        return out

    def _show_pickups(self, message: str, **params: Any) -> None:
        self.enter(
            PICKUPS,
            Screen.STAFF_PICKUPS,
            message,
            params={
                "staff": self.member.name if self.member else "",
                "pending": self.pending(),
                "results_due": self.results_due(),
                "needs_check": self.needs_check(),
                **params,
            },
            actions=self._pickup_actions(),
        )

    def _pickup_actions(self) -> tuple[str, ...]:
        """Maintenance mode only where the kiosk's devices were given (the runtime always gives them)."""
        return tuple(a for a in PICKUP_ACTIONS if a != "maintenance" or self.device_statuses is not None)

    @property
    def actor(self) -> str:
        return self.member.actor if self.member else "staff:?"

    def _pickups_action(self, action: str, data: dict[str, Any]) -> None:
        if action == "done":
            self.end("done")
        elif action == "open":
            self._open([str(data.get("case_code", ""))])
        elif action == "open_all":
            self._open([p["case_code"] for p in self.pending() if p["case_code"] not in self.opened])
        elif action == "collected":
            codes = data.get("case_codes") or [data.get("case_code", "")]
            self._collected([str(c) for c in codes])
        elif action == "override":
            if "compartment_id" in data:
                self._override(str(data.get("compartment_id", "")), str(data.get("reason", "")))
            else:  # the button on the pickups screen: pick the compartment and the reason first
                self._show_compartments("staff.compartments")
        elif action == "result":
            self._result(str(data.get("case_code", "")), str(data.get("size", "small")))
        elif action == "maintenance" and self.device_statuses is not None:
            self._audit(AUDIT_MAINTENANCE_ENTERED, {})
            self._show_maintenance("maintenance.mode")

    def _open(self, case_codes: list[str]) -> None:
        cases = {c.case_code: c for c in self.submissions.pending_pickups()}
        todo = [(code, cases[code].compartment_id) for code in case_codes if code in cases]
        if not todo:
            self._show_pickups("staff.nothing_to_open")
            return
        total = len(todo)
        gen = self.enter(
            OPENING,
            Screen.STAFF_PICKUPS,
            "staff.opening",
            params={"cases": [c for c, _ in todo], "done": 0, "total": total},
            actions=("cancel",),
            busy=True,
            progress=0.0,
        )
        actor = self.actor
        per_door = self.timeouts.get(OPENING)

        def work(cancel: CancelToken) -> dict[str, str]:
            outcome: dict[str, str] = {}
            late: dict[str, str] = {}  # opened after the session had already ended (cancel, time-out)
            for i, (code, compartment) in enumerate(todo):
                if cancel.cancelled:
                    break
                assert compartment is not None
                # The step's time limit is per door: a step busy opening doors does not time out
                # under itself, while one door that hangs still ends the session.
                if per_door is not None:
                    self.extend_deadline(gen, per_door)
                self.update(
                    gen,
                    message="staff.opening_progress",
                    params={"done": i, "total": total, "current": i + 1, "compartment": compartment},
                    progress=i / total,
                )
                try:
                    self.lockers.open(compartment, case_code=code, purpose="collect", actor=actor)
                except KioskError as exc:  # jammed, refused, outcome unknown, busy, port lost …
                    outcome[code] = exc.code
                    log.warning("staff %s: compartment %s (case %s) did not open: %s", actor, compartment, code, exc)
                    continue
                outcome[code] = "opened"
                with self._lock:
                    if self.current(gen):
                        self.opened[code] = compartment
                        self.not_opened.pop(code, None)
                    else:
                        late[code] = compartment
                crashpoints.reached("pickup.door_opened")
            self.update(gen, params={"done": len(outcome), "total": total}, progress=len(outcome) / total)
            if late:
                self._alert_unconfirmed(late, actor, "session ended while doors were being opened")
            return outcome

        self.run_blocking("open for collection", work, lambda outcome: self._opened(todo, outcome), self._failed)

    def _opened(self, todo: list[tuple[str, str | None]], outcome: dict[str, str]) -> None:
        """Say which doors opened and which did not (by compartment, with the reason); those stay pending."""
        failed = []
        for code, compartment in todo:
            result = outcome.get(code)
            if result is None or result == "opened":
                continue
            self.not_opened[code] = shown_key(result)
            failed.append(self._failure(str(compartment), result, case_code=code))
        if not failed:
            self._show_pickups("staff.opened", outcome=outcome)
            return
        self._show_pickups(
            "staff.not_opened",
            outcome=outcome,
            failed=failed,
            compartments=", ".join(f["compartment"] for f in failed),
        )

    @staticmethod
    def _failure(compartment: str, code: str, *, case_code: str | None = None) -> dict[str, Any]:
        """One door that did not open, for the screen: "{compartment} 号柜：{reason}"."""
        return {
            "compartment": compartment,
            "case_code": case_code,
            "reason": shown_key(code),
            "message": "staff.not_opened_one",
        }

    def _failed(self, exc: KioskError, **params: Any) -> None:
        self._show_pickups(shown_key(exc.code), **params)

    def _collected(self, case_codes: list[str]) -> None:
        done = []
        for code in case_codes:
            try:
                case = self.submissions.get_case(code)
            except KioskError:
                continue
            if case.state is CaseState.COMMITTED:
                self.submissions.mark_collected(code, staff=self.actor)
                crashpoints.reached("pickup.collected")
                done.append(code)
                self.opened.pop(code, None)
        self._show_pickups("staff.collected", collected=done)

    # -- compartment controls (override) ------------------------------------------------------------
    def _show_compartments(self, message: str, *, selected: str | None = None, reason: str | None = None) -> None:
        open_now = {t.compartment_id for t in self.lockers.unfinished() if t.state.in_progress}
        held = self.lockers.held_by_cases() if hasattr(self.lockers, "held_by_cases") else {}
        silent = self.lockers.silent_boards() if hasattr(self.lockers, "silent_boards") else set()
        tiles = [
            {
                "id": c.id,
                "state": TILE_OPEN
                if c.id in open_now
                else ("disabled" if c.board in silent else self._tile_state(c, held)),
                "board_silent": c.board in silent,
                "needs_staff": bool(getattr(c, "needs_staff", False)),
            }
            for c in self.lockers.compartments()
        ]
        self.enter(
            COMPARTMENTS,
            Screen.STAFF_COMPARTMENTS,
            message,
            params={"compartments": tiles, "reasons": list(OVERRIDE_REASONS), "selected": selected, "reason": reason},
            actions=("select", "reason", "override", "check", "back", "cancel"),
        )

    @staticmethod
    def _tile_state(c: Any, held: Mapping[str, str]) -> str:
        """A free row that a pending case still names (collection not confirmed) is shown occupied."""
        state = TILE_STATE.get(str(c.state), "disabled")
        return "occupied" if state == "free" and c.id in held else state

    def _compartments_action(self, action: str, data: dict[str, Any]) -> None:
        params = self.view.params
        selected = data.get("compartment") or params.get("selected")
        reason = data.get("reason") or params.get("reason")
        if action in ("select", "reason"):
            self._show_compartments("staff.compartments", selected=selected, reason=reason)
        elif action == "override":
            if not selected or reason not in OVERRIDE_REASONS:
                self._show_compartments("lockers.override_reason", selected=selected, reason=reason)
                return
            self._override(str(selected), str(reason))
        elif action == "check":
            if not selected:
                self._show_compartments("staff.check_choose", reason=reason)
                return
            self._check(str(selected))
        elif action == "back":
            self._show_pickups("staff.pickups")

    # -- check and return to service ------------------------------------------------------------------
    def _check(self, compartment_id: str) -> None:
        """Open the door (audited), wait until staff shut it, then put the compartment back in service.

        For a compartment taken out of order (a jam that was cleared, an unlock whose outcome was
        unknown) — the way back that before only the Python API had.
        """
        actor = self.actor
        wait = max(1.0, (self.timeouts.get(CHECK) or 180.0) - 5.0)  # the door wait ends before the step
        self.enter(
            CHECK,
            Screen.STAFF_COMPARTMENTS,
            "staff.check_open",
            params={"compartment": compartment_id},
            actions=("cancel",),
            busy=True,
        )
        self.run_blocking(
            "check compartment",
            lambda cancel: self.lockers.check_door(compartment_id, actor=actor, timeout=wait, cancel=cancel),
            lambda tx: self._checked(compartment_id),
            lambda exc: self._check_failed(compartment_id, exc),
        )

    def _checked(self, compartment_id: str) -> None:
        c = self.lockers.compartment(compartment_id)
        case = self._case_or_none(c.case_code)
        if case is not None and case.state is CaseState.DRAFT:  # a deposit whose door outcome was unknown
            self.enter(
                CHECKED,
                Screen.STAFF_COMPARTMENTS,
                "staff.check_papers",
                params={"compartment": compartment_id, "case_code": case.case_code},
                actions=("papers_inside", "empty", "cancel"),
            )
            return
        holding = case is not None and case.state in (CaseState.COMMITTED, CaseState.RESULT_READY)
        self.lockers.back_in_service(compartment_id, actor=self.actor, reason="checked by staff", holding=holding)
        self._show_compartments("staff.returned", selected=compartment_id)

    def _checked_action(self, action: str, data: dict[str, Any]) -> None:
        """Staff looked inside after an unclear deposit: commit the case into it, or cancel it."""
        params = self.view.params
        compartment_id, code = str(params["compartment"]), str(params["case_code"])
        if action == "papers_inside":
            with self.submissions.db.transaction():
                self.submissions.commit_submission(code, compartment_id=compartment_id, actor=self.actor)
                self.submissions.audit.append(
                    self.actor, "case.committed_unattended", case_code=code,
                    detail={"why": "staff found the papers after an unclear unlock", "compartment": compartment_id},
                )
            self.lockers.back_in_service(compartment_id, actor=self.actor, reason="papers inside", holding=True)
        elif action == "empty":
            self.submissions.cancel(code, actor=self.actor, reason="staff found the compartment empty")
            self.lockers.back_in_service(compartment_id, actor=self.actor, reason="found empty", holding=False)
        else:
            return
        self._show_compartments("staff.returned", selected=compartment_id)

    def _check_failed(self, compartment_id: str, exc: KioskError) -> None:
        log.warning("staff %s: check of compartment %s failed: %s", self.actor, compartment_id, exc)
        self._show_compartments(shown_key(exc.code), selected=compartment_id)

    def _case_or_none(self, case_code: str | None) -> Any:
        if not case_code:
            return None
        try:
            return self.submissions.get_case(case_code)
        except KioskError:
            return None

    def _override(self, compartment_id: str, reason: str) -> None:
        if not reason.strip():
            self._show_pickups("lockers.override_reason")
            return
        actor = self.actor
        self.enter(
            OPENING, Screen.STAFF_COMPARTMENTS, "staff.opening", params={"compartment": compartment_id}, busy=True
        )
        self.run_blocking(
            "override",
            lambda cancel: self.lockers.open(
                compartment_id, case_code=None, purpose="override", actor=actor, reason=reason.strip()
            ),
            lambda tx: self._show_pickups("staff.override_opened", compartment=compartment_id),
            lambda exc: self._override_failed(compartment_id, exc),
        )

    def _override_failed(self, compartment_id: str, exc: KioskError) -> None:
        log.warning("staff %s: override of compartment %s failed: %s", self.actor, compartment_id, exc)
        self._show_pickups(
            "staff.override_failed", failed=[self._failure(compartment_id, exc.code)], compartment=compartment_id
        )

    def _result(self, case_code: str, size: str) -> None:
        actor = self.actor
        self.enter(OPENING, Screen.STAFF_COMPARTMENTS, "staff.result_door", params={"case_code": case_code}, busy=True)
        self.run_blocking(
            "place result",
            lambda cancel: place_result(
                self.lockers, self.submissions, case_code, size, actor=actor, resident_alerts=self.resident_alerts
            ),
            lambda compartment: self._show_pickups("staff.result_placed", compartment=compartment),
            lambda exc: self._failed(exc, case_code=case_code),
        )

    # -- maintenance mode ---------------------------------------------------------------------------
    def device_rows(self, results: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every device with its status and detail (after a test: what the test got from it)."""
        trackers = self.device_statuses() if self.device_statuses is not None else {}
        rows = []
        for name, tracker in trackers.items():
            status = tracker.status
            detail = tracker.detail
            if results is not None and name in results:
                detail = results[name]
            rows.append({"device": name, "status": str(status), "detail": detail, "usable": status.usable})
        return rows

    def _show_maintenance(self, message: str, *, results: Mapping[str, str] | None = None, **params: Any) -> None:
        self.enter(
            MAINTENANCE,
            Screen.MAINTENANCE,
            message,
            params={"staff": self.member.name if self.member else "", "devices": self.device_rows(results), **params},
            actions=MAINTENANCE_ACTIONS if self.check_devices is not None else MAINTENANCE_ACTIONS[1:],
        )

    def _maintenance_action(self, action: str) -> None:
        if action == "back":
            self._audit(AUDIT_MAINTENANCE_LEFT, {})
            self._show_pickups("staff.pickups")
        elif action == "test_devices" and self.check_devices is not None:
            self._test_devices(self.check_devices)

    def _test_devices(self, check: DeviceCheck) -> None:
        self.enter(
            MAINTENANCE,
            Screen.MAINTENANCE,
            "maintenance.testing",
            params={"staff": self.member.name if self.member else "", "devices": self.device_rows()},
            actions=("cancel",),
            busy=True,
        )

        def done(results: Mapping[str, str]) -> None:
            rows = self.device_rows(results)
            down = [r["device"] for r in rows if not r["usable"]]
            self._audit(AUDIT_DEVICE_TEST, {"devices": {r["device"]: r["status"] for r in rows}})
            if down:
                log.warning("staff %s: device test: not working: %s", self.actor, ", ".join(down))
                self._show_maintenance("maintenance.test_failed", results=results, count=len(down))
            else:
                self._show_maintenance("maintenance.test_ok", results=results)

        def failed(exc: KioskError) -> None:
            self._audit(AUDIT_DEVICE_TEST, {"error": exc.code})
            self._show_maintenance(shown_key(exc.code))

        self.run_blocking("device test", check, done, failed)

    def _audit(self, action: str, detail: dict[str, Any], *, actor: str | None = None) -> None:
        actor = actor or self.actor
        log.info("staff %s: %s %s", actor, action, detail)
        if self.audit is None:
            return
        try:
            self.audit.append(actor, action, detail=detail)
        except KioskError as exc:  # the audit store failing must not strand staff on a screen
            log.error("audit of %s by %s failed: %s", action, self.actor, exc)

    def on_timeout(self, state: str) -> None:
        self.end("timeout")  # staff screens never stay open unattended

    def on_cancel(self) -> None:
        self.end("cancelled")

    def on_end(self, outcome: str) -> None:
        if self.opened:
            log.warning("staff session ended with %d compartments opened but not confirmed", len(self.opened))
            self._alert_unconfirmed(dict(self.opened), self.actor, f"staff session ended ({outcome})")
        if self.state == MAINTENANCE:
            self._audit(AUDIT_MAINTENANCE_LEFT, {"outcome": outcome})
        self.badge, self.member = None, None
        self.opened, self.not_opened = {}, {}

    def _alert_unconfirmed(self, opened: Mapping[str, str], actor: str, why: str) -> None:
        """Doors opened for collection and never confirmed: staff are told, the cases stay pending.

        The cases stay committed (on the pending list, marked "opened, not confirmed") and their
        compartments are not allocated until someone confirms "collected" or opens them again.
        """
        listing = ", ".join(f"{compartment} ({code})" for code, compartment in sorted(opened.items()))
        self._audit(AUDIT_UNCONFIRMED, {"why": why, "cases": dict(opened)}, actor=actor)
        if self.staff_alerts is None:
            return
        try:
            self.staff_alerts.enqueue(
                "collect_unconfirmed",
                f"待确认取件 {len(opened)} opened, not confirmed",
                f"{why}: {len(opened)} compartment(s) were opened for collection by {actor} and not confirmed "
                f"collected: {listing}. The cases stay pending until staff confirm them.",
            )
        except KioskError as exc:
            log.error("alert about unconfirmed collections not queued: %s", exc)
