"""Results back to the resident: staff put the result into a compartment, the resident fetches it.

Staff side (``place_result``): reserve → open for the result → door closed → case RESULT_READY →
the resident is told through the resident alert channel when one is configured (else the case
state is all there is; the resident sees it at the kiosk).

Resident side (``ResultPickupFlow``): either the ID card + face check against the card, or the
pickup code + the fingerprint enrolled with the case; then the compartment opens, the door is
seen closed and the case is RESULT_COLLECTED. The session is wiped at the end of every path.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from devices.cancel import CancelToken
from devices.errors import DeviceCancelled, KioskError
from devices.face import FaceCheckConfig, FaceEngine
from devices.fingerprint import FingerprintNoFinger, FingerprintSensor, FingerprintUserError
from devices.idcard import CardRead, IdCardReader
from flows import crashpoints
from flows.checks import FaceSessionFactory, face_check, face_view_changes
from flows.errors import FlowError
from flows.frames import FrameSource
from flows.kiosk_session import KioskSession, SessionHolder
from flows.machine import IDLE, FlowMachine
from flows.ports import AlertPort, LockerPort
from flows.resident_steps import RATING, RATING_WHY, ResidentSteps, ResidentStepsMixin
from flows.view import Screen
from locker.errors import CaseNotFound
from locker.pickup_guard import PickupGuard
from locker.submissions import CaseState, SubmissionStore

log = logging.getLogger(__name__)

CHOOSE = "choose"
CARD = "card"
FACE = "face"
CODE = "code"
FINGER = "fingerprint"
DOOR = "door"


def place_result(
    lockers: LockerPort,
    submissions: SubmissionStore,
    case_code: str,
    size: str,
    *,
    actor: str,
    resident_alerts: AlertPort | None = None,
    door_timeout: float = 300.0,
) -> str:
    """Staff put the result papers of ``case_code`` in a compartment; returns its id (blocking)."""
    from locker.compartments import CompartmentSize

    case = submissions.get_case(case_code)
    if case.state not in (CaseState.COLLECTED, CaseState.PROCESSING):
        raise FlowError(f"case {case.case_code} is {case.state.value}; results go back only after collection")
    compartment = lockers.reserve(CompartmentSize(size), case_code=case.case_code, purpose="result")
    tx = lockers.open(compartment.id, case_code=case.case_code, purpose="result", actor=actor)
    if not lockers.wait_closed(tx, timeout=door_timeout):
        raise FlowError(f"compartment {compartment.id} left open; close it to finish", code="door.left_open")
    if case.state is CaseState.COLLECTED:
        submissions.advance(case.case_code, CaseState.PROCESSING, actor=actor)
    submissions.advance(case.case_code, CaseState.RESULT_READY, actor=actor, compartment_id=compartment.id)
    if resident_alerts is not None:
        resident_alerts.enqueue(
            "result_ready",
            "办理结果已可领取 Your result is ready",
            f"Case {case.case_code}: collect it at the kiosk with your ID card or pickup code.",
            case.case_code,
        )
    log.info("result of case %s placed in %s by %s", case.case_code, compartment.id, actor)
    return str(compartment.id)


class ResultPickupFlow(ResidentStepsMixin, FlowMachine):
    flow_name = "results"
    idle_actions = ("start",)
    default_timeouts: Mapping[str, float] = {
        CHOOSE: 60.0,
        CARD: 60.0,
        FACE: 40.0,
        CODE: 90.0,
        FINGER: 40.0,
        DOOR: 180.0,
        RATING: 30.0,
        RATING_WHY: 60.0,
    }

    def __init__(
        self,
        *,
        reader: IdCardReader,
        face_frames: FrameSource,
        fingerprint: FingerprintSensor,
        lockers: LockerPort,
        submissions: SubmissionStore,
        sessions: SessionHolder | None = None,
        face_config: FaceCheckConfig | None = None,
        face_engine: FaceEngine | None = None,
        face_sessions: FaceSessionFactory | None = None,
        max_tries: int = 3,
        finger_timeout: float = 20.0,
        today: Callable[[], dt.date] = dt.date.today,
        timeouts: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        guard: PickupGuard | None = None,
        resident: ResidentSteps | None = None,
    ) -> None:
        super().__init__(timeouts=timeouts, clock=clock)
        self.resident = resident  # the 好差评 step after the pickup (flows/resident_steps.py)
        # Guessing limits across sessions (see locker.pickup_guard); kept in the store's database.
        self.guard = guard or PickupGuard(
            submissions.db, submissions.audit, lambda code: str(submissions.cipher.mac("pickup-guard", code))
        )
        self._code = ""
        self.reader = reader
        self.face_frames = face_frames
        self.fingerprint = fingerprint
        self.lockers = lockers
        self.submissions = submissions
        self.sessions = sessions or SessionHolder()
        self.face_config = face_config or FaceCheckConfig()
        self.face_engine = face_engine
        self.face_sessions = face_sessions
        self.max_tries = max_tries
        self.finger_timeout = finger_timeout
        self.today = today
        self.session: KioskSession | None = None
        self.case_code: str | None = None
        self.tries = 0
        self.go_idle()

    def go_idle(self) -> None:
        with self._lock:
            self.enter(IDLE, Screen.IDLE, actions=self.idle_actions, timeout=None)

    def on_action(self, state: str, action: str, data: dict[str, Any]) -> None:
        if state == IDLE and action == "start":
            self.session = self.sessions.begin(self.flow_name)
            self.case_code, self.tries, self.outcome = None, 0, None
            self.enter(CHOOSE, Screen.RESULT_PICKUP, "results.choose_method", actions=("card", "code", "cancel"))
        elif state == CHOOSE and action == "card":
            self._enter_card()
        elif state == CHOOSE and action == "code":
            self.enter(CODE, Screen.CODE_ENTRY, "results.enter_code", actions=("code", "cancel"))
        elif state == CODE and action == "code":
            self._code_entered(str(data.get("code", "")))
        elif state == RATING:
            self._rating_action(action, data)
        elif state == RATING_WHY:
            self._rating_why_action(action, data)
        elif state in (FACE, FINGER) and action == "retry":
            self._enter_face() if state == FACE else self._enter_fingerprint()

    # -- card + face -------------------------------------------------------------------------------------
    def _enter_card(self) -> None:
        self.enter(CARD, Screen.CARD_PROMPT, "card.place", busy=True)
        self.run_blocking(
            "read card", lambda cancel: self.reader.wait_for_card(None, cancel), self._card_read, self._device_failed
        )

    def _card_read(self, read: CardRead) -> None:
        assert self.session is not None
        self.session.set_card(read)
        if read.record.is_expired(self.today()):
            self.end("refused", "card.expired")
            return
        if read.photo is None:
            self.end("refused", "card.no_photo_staff")
            return
        codes = self._ready_cases_of(read.record.id_number)
        if not codes:
            self.end("nothing", "results.none_ready")
            return
        self.case_code = codes[0]
        self._enter_face()

    def _ready_cases_of(self, id_number: str) -> list[str]:
        from devices.privacy import mask_id_number

        rows = self.submissions.db.query(
            "SELECT case_code FROM cases WHERE state = 'result_ready' AND id_masked = ? ORDER BY result_ready_at",
            (mask_id_number(id_number),),
        )
        return [r["case_code"] for r in rows if self.submissions.identity(r["case_code"]).id_number == id_number]

    def _enter_face(self) -> None:
        session = self.session
        assert session is not None and session.photo is not None
        photo = session.photo
        gen = self.enter(FACE, Screen.FACE, "face.look_at_camera", busy=True, progress=0.0)
        self.run_blocking(
            "face check",
            lambda cancel: face_check(
                photo,
                self.face_frames,
                cancel,
                session=session,
                config=self.face_config,
                engine=self.face_engine,
                session_factory=self.face_sessions,
                on_progress=lambda p: self.update(gen, **face_view_changes(p)),
            ),
            self._face_decided,
            self._device_failed,
        )

    def _face_decided(self, decision: Any) -> None:
        if decision.accepted:
            crashpoints.reached("results.identity_ok")
            self._open_door()
            return
        self._retry(FACE, Screen.FACE, decision.reason.value)

    def _retry(self, state: str, screen: Screen, message: str) -> None:
        self.tries += 1
        if self.tries >= self.max_tries:
            self.end("refused", "flow.office_hours")
            return
        self.enter(state, screen, message, params={"try": self.tries}, actions=("retry", "cancel"))

    # -- code + fingerprint ------------------------------------------------------------------------------
    def _code_entered(self, code: str) -> None:
        """Every code goes on to the finger: the screen never tells which codes exist.

        An unknown code, a case not ready, or one without a fingerprint is answered exactly like a
        known code with the wrong finger ("code or finger did not match"), after a finger was placed.
        """
        wait = self.guard.wait_s()
        if wait > 0:
            self.end("refused", "results.code_wait", params={"minutes": max(1, round(wait / 60))})
            return
        if self.guard.code_blocked(code):
            self.end("refused", "results.code_unknown_staff")
            return
        try:
            case = self.submissions.find_by_pickup_code(code)
        except CaseNotFound:
            case = None
        ready = case is not None and case.state is CaseState.RESULT_READY
        self.case_code = case.case_code if ready and case is not None else None
        self._code = code
        self._enter_fingerprint()

    def _enter_fingerprint(self) -> None:
        template = self.submissions.fingerprint(self.case_code) if self.case_code is not None else None
        self.enter(FINGER, Screen.FINGERPRINT, "fingerprint.place", params={"mode": "verify"}, busy=True)

        def check(cancel: CancelToken) -> bool:
            if template is None:  # nothing to match: take the finger all the same, then say "no match"
                self.fingerprint.capture(timeout=self.finger_timeout, cancel=cancel)
                return False
            return bool(self.fingerprint.verify(template, self.finger_timeout, cancel)[0])

        self.run_blocking("verify finger", check, self._finger_checked, self._device_failed)

    def _finger_checked(self, ok: bool) -> None:
        if ok and self.case_code is not None:
            self.guard.succeeded(self._code)
            self._open_door()
            return
        self.guard.failed(self._code, case_code=self.case_code)
        self.case_code = None
        self.tries += 1
        if self.tries >= self.max_tries or self.guard.wait_s() > 0:
            self.end("refused", "results.code_unknown_staff")
            return
        self.enter(CODE, Screen.CODE_ENTRY, "results.code_unknown", actions=("code", "cancel"))

    # -- door ---------------------------------------------------------------------------------------------
    def _open_door(self) -> None:
        assert self.case_code is not None
        case = self.submissions.get_case(self.case_code)
        compartment = case.compartment_id
        assert compartment is not None
        code = case.case_code
        # no buttons: the flow ends when the door is closed (a cancel would change nothing)
        gen = self.enter(
            DOOR, Screen.DOOR_OPEN, "results.take_papers", params={"compartment": compartment}, actions=(), busy=True
        )

        def work(cancel: CancelToken) -> bool:
            tx = self.lockers.open(compartment, case_code=code, purpose="pickup", actor="resident")
            self.update(gen, busy=False)
            return self.lockers.wait_closed(tx, timeout=self.timeouts.get(DOOR))

        def done(closed: bool) -> None:
            self.submissions.advance(code, CaseState.RESULT_COLLECTED, actor="resident")
            if not closed:
                self.end("collected", "door.left_open_staff_told")
                return
            self._enter_rating("pickup", code, lambda: self.end("collected", "results.thank_you"))

        self.run_blocking("result door", work, done, self._device_failed)

    # -- endings -------------------------------------------------------------------------------------------
    def _device_failed(self, exc: KioskError) -> None:
        if isinstance(exc, DeviceCancelled):
            return
        if isinstance(exc, FingerprintNoFinger):
            self.end("timeout", "flow.timed_out")
        elif isinstance(exc, FingerprintUserError):
            self._retry(FINGER, Screen.FINGERPRINT, exc.code)
        else:
            self.end("error", exc.code if exc.code.startswith(("door.", "lockers.")) else "flow.out_of_service")

    def on_cancel(self) -> None:
        if self.state == DOOR:
            return  # the door is opening/open: the flow ends when it closes
        if self.state in (RATING, RATING_WHY):
            self.end("collected", "results.thank_you")
            return
        self.end("cancelled", "flow.cancelled")

    def on_timeout(self, state: str) -> None:
        if state == DOOR:
            return  # the locker service reminds and alerts staff about a door left open
        if state in (RATING, RATING_WHY):  # the result is collected: a rating not given is no failure
            self.end("collected", "results.thank_you")
            return
        self.end("timeout", "flow.timed_out")

    def on_end(self, outcome: str) -> None:
        if self.session is not None:
            self.sessions.end(self.session)
        self.session = None
        self.case_code = None
