"""Staff at the kiosk: badge + PIN → pending pickups → open one or all → confirm collected.

Also the staff-only door actions: an override (open any compartment) needs a reason and is
audited by the locker service; putting a case's result papers into a compartment for the
resident (``flows.results.place_result``).

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
from devices.lockerboard import DoorJammed, LockOutcomeUnknown
from flows import crashpoints
from flows.machine import IDLE, FlowMachine
from flows.ports import AlertPort, LockerPort
from flows.results import place_result
from flows.view import Screen
from locker.staff import BadgeLocked, StaffAccounts, StaffMember, UnknownBadge, WrongPin
from locker.submissions import CaseState, SubmissionStore

log = logging.getLogger(__name__)

PIN = "pin"
PICKUPS = "pickups"
COMPARTMENTS = "compartments"
OPENING = "opening"
# Why staff open a compartment by hand; the key is what the audit log records.
OVERRIDE_REASONS = ("door_stuck", "cleaning", "resident_request")
# Compartment states as the staff screen colours them.
TILE_STATE = {"free": "free", "reserved": "occupied", "holding": "occupied", "out_of_order": "disabled"}


class StaffPickupFlow(FlowMachine):
    flow_name = "staff"
    default_timeouts: Mapping[str, float] = {PIN: 30.0, PICKUPS: 120.0, COMPARTMENTS: 120.0, OPENING: 60.0}

    def __init__(
        self,
        *,
        staff: StaffAccounts,
        lockers: LockerPort,
        submissions: SubmissionStore,
        resident_alerts: AlertPort | None = None,
        timeouts: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(timeouts=timeouts, clock=clock)
        self.staff = staff
        self.lockers = lockers
        self.submissions = submissions
        self.resident_alerts = resident_alerts
        self.badge: str | None = None
        self.member: StaffMember | None = None
        self.opened: dict[str, str] = {}  # case_code → compartment opened for collection this session

    # -- badge and PIN -------------------------------------------------------------------------------
    def badge_tapped(self, uid: str) -> None:
        """From the staff reader's CardWatcher (any thread)."""
        with self._lock:
            if self.state not in (IDLE, PIN):
                return
            self.badge, self.member, self.opened = uid, None, {}
            self.outcome = None
            self.enter(PIN, Screen.STAFF_PIN, "staff.enter_pin", actions=("pin", "cancel"))

    def on_action(self, state: str, action: str, data: dict[str, Any]) -> None:
        if state == PIN and action == "pin":
            self._check_pin(str(data.get("pin", "")))
        elif state == PICKUPS:
            self._pickups_action(action, data)
        elif state == COMPARTMENTS:
            self._compartments_action(action, data)

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
        return [
            {
                "case_code": c.case_code,
                "service_id": c.service_id,
                "compartment": c.compartment_id,
                "id_masked": c.id_masked,
                "name_masked": c.name_masked,
                "committed_at": c.committed_at,
                "deferred": list(c.deferred_papers),
                "opened": c.case_code in self.opened,
            }
            for c in self.submissions.pending_pickups()
        ]

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
                **params,
            },
            actions=("open", "open_all", "collected", "override", "result", "done", "cancel"),
        )

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

    def _open(self, case_codes: list[str]) -> None:
        cases = {c.case_code: c for c in self.submissions.pending_pickups()}
        todo = [(code, cases[code].compartment_id) for code in case_codes if code in cases]
        if not todo:
            self._show_pickups("staff.nothing_to_open")
            return
        self.enter(OPENING, Screen.STAFF_PICKUPS, "staff.opening", params={"cases": [c for c, _ in todo]}, busy=True)
        actor = self.actor

        def work(cancel: CancelToken) -> dict[str, str]:
            outcome: dict[str, str] = {}
            for code, compartment in todo:
                if cancel.cancelled:
                    break
                assert compartment is not None
                try:
                    self.lockers.open(compartment, case_code=code, purpose="collect", actor=actor)
                    outcome[code] = "opened"
                    self.opened[code] = compartment
                    crashpoints.reached("pickup.door_opened")
                except (DoorJammed, LockOutcomeUnknown) as exc:
                    outcome[code] = exc.code
                except KioskError as exc:
                    outcome[code] = exc.code
            return outcome

        self.run_blocking(
            "open for collection",
            work,
            lambda outcome: self._show_pickups("staff.opened", outcome=outcome),
            lambda exc: self._show_pickups(exc.code),
        )

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
        tiles = [{"id": c.id, "state": TILE_STATE.get(str(c.state), "disabled")} for c in self.lockers.compartments()]
        self.enter(
            COMPARTMENTS,
            Screen.STAFF_COMPARTMENTS,
            message,
            params={"compartments": tiles, "reasons": list(OVERRIDE_REASONS), "selected": selected, "reason": reason},
            actions=("select", "reason", "override", "back", "cancel"),
        )

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
        elif action == "back":
            self._show_pickups("staff.pickups")

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
            lambda exc: self._show_pickups(exc.code, compartment=compartment_id),
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
            lambda exc: self._show_pickups(exc.code, case_code=case_code),
        )

    def on_timeout(self, state: str) -> None:
        self.end("timeout")  # staff screens never stay open unattended

    def on_cancel(self) -> None:
        self.end("cancelled")

    def on_end(self, outcome: str) -> None:
        if self.opened:
            log.warning("staff session ended with %d compartments opened but not confirmed", len(self.opened))
        self.badge, self.member = None, None
