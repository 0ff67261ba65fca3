"""Resident deposit: ID card → "is this you?" → face → fingerprint → service → papers → compartment → receipt.

Each step is one state of the machine (see ``flows.machine``); every device call runs on a worker
thread and every step has a time-out and accepts "cancel". What must survive a crash is written
before it is acted on: the draft case before any scan, each scan before the next, the unlock intent
(inside ``LockerService.open``) before the pulse, and the commit before the receipt. A cancel or
time-out after the door opened never drops the case: the papers may be inside, so the case is
committed anyway (flagged) once the door closes, and staff are told.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from devices.cancel import CancelToken
from devices.cpu_priority import background_thread_work
from devices.document import RetakeRequired, ScannedPage, ScanOptions, scan_page
from devices.document.worker import pages_pdf
from devices.errors import DeviceCancelled, KioskError, Recovery
from devices.face import FaceCheckConfig, FaceEngine, FaceError
from devices.fingerprint import (
    BUFFER_1,
    BUFFER_2,
    FingerprintEmptyPage,
    FingerprintNoFinger,
    FingerprintNoMatch,
    FingerprintSensor,
    FingerprintUserError,
)
from devices.idcard import CardRead, IdCardReader
from devices.lockerboard import DoorJammed, LockOutcomeUnknown
from devices.privacy import mask_id_number, mask_name
from flows import crashpoints
from flows.checks import FaceSessionFactory, face_check, face_view_changes
from flows.errors import FlowError
from flows.fingerprints import FingerprintDirectory
from flows.frames import FrameSource
from flows.guide import Service, ServiceGuide
from flows.kiosk_session import KioskSession, SessionHolder
from flows.machine import ENDED, IDLE, FlowMachine
from flows.page_outline import Outline, PageOutliner
from flows.ports import AlertPort, LockerPort
from flows.receipt import Receipt, ReceiptIssuer, view_params
from flows.resident_steps import PHONE, RATING, RATING_WHY, ResidentSteps, ResidentStepsMixin
from flows.view import Screen
from locker.submissions import Identity, SubmissionStore

log = logging.getLogger(__name__)

SIZES = ("small", "medium", "large")
# Back-off between reads of a failing ID card reader: 0.5 s, doubling, at most 4 s.
CARD_BACKOFF_S = 0.5
CARD_BACKOFF_MAX_S = 4.0
# Audit marks around the receipt: written with the commit, and once the receipt is on screen.
AUDIT_RECEIPT_OWED = "case.receipt_owed"
AUDIT_RECEIPT_SHOWN = "case.receipt_shown"
AUDIT_RECEIPT_PRINTED = "case.receipt_printed"  # the back office's package says the resident holds a paper one

# state names (also the View.step the UI sees)
CARD = "card"
IDENTITY = "identity"
FACE = "face"
FACE_RETRY = "face_retry"
FINGER = "fingerprint"
FINGER_RETRY = "fingerprint_retry"
GUIDE = "guide"
DOCUMENTS = "documents"
SIZE = "size"
DOOR = "door"
RECEIPT = "receipt"


@dataclass
class _Paper:
    id: str
    name_zh: str
    name_en: str
    deferrable: bool
    status: str = "pending"  # pending / scanned / deferred
    pages: list[ScannedPage] = field(default_factory=list)
    thumbnails: list[np.ndarray] = field(default_factory=list)  # one small picture per page, for the screen

    def drop_last_page(self) -> None:
        if self.pages:
            self.pages.pop()
        if self.thumbnails:
            self.thumbnails.pop()

    def wipe(self) -> None:
        """Zero the page pictures held in memory (the stored PDF is encrypted; these are not)."""
        for image in [p.image for p in self.pages] + self.thumbnails:
            if image.flags.writeable:
                image.fill(0)
        self.pages.clear()
        self.thumbnails.clear()


@dataclass
class _Run:
    """What one resident's deposit holds besides the personal session."""

    session: KioskSession
    face_tries: int = 0
    finger_tries: int = 0
    service: Service | None = None
    case_code: str | None = None
    pickup_code: str | None = None
    papers: list[_Paper] = field(default_factory=list)
    current: int = 0
    compartment_id: str | None = None
    size: str | None = None
    door_attempts: int = 0
    door_opened: bool = False
    tx: Any = None
    leave_requested: str = ""  # cancel / time-out while the unlock was under way
    receipt: Receipt | None = None
    face_checks: dict[str, Any] = field(default_factory=dict)  # the accepted check's outcome, no biometrics


def _size_value(size: Any) -> str:
    return str(getattr(size, "value", size))


class DepositFlow(ResidentStepsMixin, FlowMachine):
    flow_name = "deposit"
    idle_actions = ("start",)
    default_timeouts: Mapping[str, float] = {
        CARD: 60.0,
        IDENTITY: 60.0,
        FACE: 40.0,
        FACE_RETRY: 30.0,
        FINGER: 60.0,
        FINGER_RETRY: 30.0,
        GUIDE: 120.0,
        DOCUMENTS: 180.0,
        SIZE: 60.0,
        DOOR: 180.0,
        RECEIPT: 60.0,
        PHONE: 90.0,
        RATING: 30.0,  # a rating is optional: a resident who walks away is not kept waiting for
        RATING_WHY: 60.0,
    }

    def __init__(
        self,
        *,
        reader: IdCardReader,
        face_frames: FrameSource,
        fingerprint: FingerprintSensor,
        document_frames: FrameSource,
        lockers: LockerPort,
        submissions: SubmissionStore,
        guide: ServiceGuide,
        fingerprints: FingerprintDirectory,
        receipts: ReceiptIssuer,
        alerts: AlertPort | None = None,
        sessions: SessionHolder | None = None,
        kiosk_name: str = "",
        face_config: FaceCheckConfig | None = None,
        face_engine: FaceEngine | None = None,
        face_sessions: FaceSessionFactory | None = None,
        max_face_tries: int = 3,
        max_finger_tries: int = 3,
        max_door_attempts: int = 3,
        finger_timeout: float = 20.0,
        door_settle_timeout: float = 600.0,
        scan_options: ScanOptions | None = None,
        page_outline_interval: float | None = 0.25,
        documents: DocumentWork | None = None,
        today: Callable[[], dt.date] = dt.date.today,
        preflight: Callable[[], str | None] | None = None,
        timeouts: Mapping[str, float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        resident: ResidentSteps | None = None,
    ) -> None:
        """``preflight`` is asked before each deposit starts: None, or the name of what is not usable
        (the runtime checks the free disk space against ``min_free_mb`` and the database)."""
        super().__init__(timeouts=timeouts, clock=clock)
        self.preflight = preflight
        self.resident = resident  # the optional mobile number and rating steps (flows/resident_steps.py)
        self.reader = reader
        self.face_frames = face_frames
        self.fingerprint = fingerprint
        self.document_frames = document_frames
        self.lockers = lockers
        self.submissions = submissions
        self.guide = guide
        self.fingerprints = fingerprints
        self.receipts = receipts
        self.alerts = alerts
        self.sessions = sessions or SessionHolder()
        self.kiosk_name = kiosk_name
        self.face_config = face_config or FaceCheckConfig()
        self.face_engine = face_engine
        self.face_sessions = face_sessions
        self.max_face_tries = max_face_tries
        self.max_finger_tries = max_finger_tries
        self.max_door_attempts = max_door_attempts
        self.finger_timeout = finger_timeout
        self.door_settle_timeout = door_settle_timeout
        self.scan_options = scan_options
        self.page_outline_interval = page_outline_interval
        self.documents: DocumentWork = documents or InProcessDocuments()
        self.outliners: list[PageOutliner] = []  # the live outline loops started (the newest one runs)
        self.today = today
        self.run: _Run | None = None
        self._card_failures = 0
        self._card_fault: KioskError | None = None
        self._card_retry_now = threading.Event()
        self.settlers: list[threading.Thread] = []  # cases finished after a cancel at an open door
        self.go_idle()

    # -- idle / start ------------------------------------------------------------------------------
    def go_idle(self) -> None:
        with self._lock:
            self.enter(IDLE, Screen.IDLE, actions=self.idle_actions, timeout=None)

    def start(self) -> None:
        """Begin a deposit (the idle screen's "start", or a card placed on the reader)."""
        with self._lock:
            if self.state != IDLE:
                return
            blocked = self.preflight() if self.preflight is not None else None
            if blocked:  # e.g. the disk below min_free_mb: say so before any card or face is asked for
                log.warning("deposit: not started: %s is not usable", blocked)
                self.outcome = "refused"
                self.enter(
                    ENDED,
                    Screen.MESSAGE,
                    "flow.out_of_service",
                    params={"device": blocked},
                    actions=("ok",),
                    timeout=self.end_message_s,
                )
                return
            self.run = _Run(self.sessions.begin(self.flow_name))
            self.outcome = None
            self._enter_card()

    def on_action(self, state: str, action: str, data: dict[str, Any]) -> None:
        handler = {
            IDLE: self._idle_action,
            CARD: self._card_action,
            IDENTITY: self._identity_action,
            FACE_RETRY: self._face_retry_action,
            FINGER_RETRY: self._finger_retry_action,
            GUIDE: self._guide_action,
            DOCUMENTS: self._documents_action,
            SIZE: self._size_action,
            RECEIPT: self._receipt_action,
            PHONE: self._phone_action,
            RATING: self._rating_action,
            RATING_WHY: self._rating_why_action,
        }.get(state)
        if handler is not None:
            handler(action, data)

    def _idle_action(self, action: str, data: dict[str, Any]) -> None:
        if action == "start":
            self.start()

    # -- ID card -----------------------------------------------------------------------------------
    def _enter_card(self) -> None:
        gen = self.enter(CARD, Screen.CARD_PROMPT, "card.place", busy=True)
        self._card_failures = 0
        self._card_fault: KioskError | None = None
        self._read_card(gen, 0.0)

    def _read_card(self, gen: int, delay: float) -> None:
        """One wait for a card, after ``delay`` s (the back-off after a failing reader).

        Retries stay inside the one CARD step (``update``, not ``enter``), so the step's time-out
        keeps running from when the resident was first asked for the card. "Try again" cuts the
        back-off short (``_card_retry_now``).
        """
        retry_now = self._card_retry_now = threading.Event()

        def wait(cancel: CancelToken) -> CardRead:
            end = time.monotonic() + delay
            while time.monotonic() < end and not retry_now.is_set():
                if cancel.wait(min(0.05, max(0.0, end - time.monotonic()))):
                    raise DeviceCancelled("card read cancelled during the back-off", device=self.reader.name)
            return self.reader.wait_for_card(None, cancel)

        self.run_blocking("read card", wait, self._card_read, lambda exc: self._card_failed(gen, exc))

    def _card_action(self, action: str, data: dict[str, Any]) -> None:
        if action == "retry":  # "try again": read now instead of after the back-off
            self._card_retry_now.set()
            self.update(self._gen, message="card.place", actions=("cancel",), busy=True)

    def _card_read(self, read: CardRead) -> None:
        run = self._run()
        run.session.set_card(read)
        record = read.record
        if record.is_expired(self.today()):
            log.info("deposit: expired card %s refused", record.masked_id_number)
            self.end("refused", "card.expired", params={"valid_to": str(record.valid_to)})
            return
        if read.photo is None:
            self.end("refused", "card.no_photo_staff")
            return
        crashpoints.reached("deposit.card_read")
        self._enter_identity()

    def _card_failed(self, gen: int, exc: KioskError) -> None:
        if isinstance(exc, DeviceCancelled):
            return
        self._card_failures += 1
        if exc.recovery is Recovery.USER:  # a bad read of a card that is there: lift and place again
            log.warning("deposit: card read failed: %s", exc)
            self._card_fault = None
            self.update(gen, message=exc.code, actions=("cancel",), busy=True)
            self._read_card(gen, 0.0)
            return
        # The reader itself failed (unplugged, silent): back off, offer "try again", and let the
        # step's time-out end the session if it does not come back; the supervisor reopens it.
        delay = min(CARD_BACKOFF_MAX_S, CARD_BACKOFF_S * 2 ** min(self._card_failures - 1, 8))
        if self._card_fault is None or self._card_fault.code != exc.code:
            log.warning("deposit: ID card reader failed: %s (retrying every %.1f s at most)", exc, delay)
        self._card_fault = exc
        self.update(
            gen,
            message=exc.code,
            params={"device": exc.device or "idcard", "retry_in": delay},
            actions=("retry", "cancel"),
            busy=False,
        )
        self._read_card(gen, delay)

    # -- "is this you?" ----------------------------------------------------------------------------
    def _enter_identity(self) -> None:
        """Show the masked name and ID number with the card photo before anything biometric starts.

        Someone who picked up another person's card (or a relative's, left on the reader) stops here,
        before a face is compared or a fingerprint taken.
        """
        run = self._run()
        record = run.session.record
        assert record is not None
        self.enter(
            IDENTITY,
            Screen.IDENTITY,
            "identity.confirm",
            params={
                "name": mask_name(record.display_name),
                "id_number": mask_id_number(record.id_number),
                "photo": run.session.photo,
            },
            actions=("confirm", "not_me", "cancel"),
        )

    def _identity_action(self, action: str, data: dict[str, Any]) -> None:
        if action == "confirm":
            self._enter_face()
        elif action == "not_me":
            self.end("refused", "identity.use_own_card")

    # -- face --------------------------------------------------------------------------------------
    def _enter_face(self) -> None:
        run = self._run()
        record = run.session.record
        assert record is not None
        gen = self.enter(
            FACE,
            Screen.FACE,
            "face.look_at_camera",
            params={
                "name": mask_name(record.display_name),
                "id_masked": mask_id_number(record.id_number),
                "try": run.face_tries + 1,
                "tries": self.max_face_tries,
            },
            busy=True,
            progress=0.0,
        )
        photo = run.session.photo
        assert photo is not None

        def check(cancel: CancelToken) -> Any:
            return face_check(
                photo,
                self.face_frames,
                cancel,
                session=run.session,
                config=self.face_config,
                engine=self.face_engine,
                session_factory=self.face_sessions,
                on_progress=lambda p: self.update(gen, **face_view_changes(p)),
            )

        self.run_blocking("face check", check, self._face_decided, self._face_failed)

    def _face_decided(self, decision: Any) -> None:
        run = self._run()
        run.session.close_face()
        if decision.accepted:
            run.face_checks = {"face_distance": decision.distance, "face_frames_judged": decision.frames}
            crashpoints.reached("deposit.face_ok")
            self._enter_fingerprint()
            return
        run.face_tries += 1
        log.info("deposit: face check %d/%d rejected (%s)", run.face_tries, self.max_face_tries, decision.reason)
        if run.face_tries >= self.max_face_tries:
            self.end("refused", "flow.office_hours", params={"reason": decision.reason.value})
            return
        self.enter(
            FACE_RETRY,
            Screen.FACE,
            decision.reason.value,
            params={"try": run.face_tries, "tries": self.max_face_tries},
            actions=("retry", "cancel"),
        )

    def _face_failed(self, exc: KioskError) -> None:
        if isinstance(exc, DeviceCancelled):
            return
        if isinstance(exc, FaceError):
            self.end("error", "card.no_photo_staff" if exc.code == "face.card_photo" else "flow.error_staff")
            return
        self.end("error", "flow.out_of_service", params={"device": exc.device or ""})

    def _face_retry_action(self, action: str, data: dict[str, Any]) -> None:
        if action == "retry":
            self._enter_face()

    # -- fingerprint ---------------------------------------------------------------------------------
    def _enter_fingerprint(self) -> None:
        run = self._run()
        record = run.session.record
        assert record is not None
        known = self.fingerprints.lookup(record.id_number)
        verify = known is not None and known[1]
        gen = self.enter(
            FINGER,
            Screen.FINGERPRINT,
            "fingerprint.place" if verify else "fingerprint.place_first",
            params={
                "mode": "verify" if verify else "enroll",
                "try": run.finger_tries + 1,
                "captures": 1 if verify else 2,
                "capture": 1,
                "done": 0,
            },
            busy=True,
            progress=0.0,
        )
        id_number = record.id_number

        def work(cancel: CancelToken) -> tuple[bool, bytes | None]:
            sensor = self.fingerprint
            if verify:
                assert known is not None
                try:
                    sensor.load_char(BUFFER_2, known[0], cancel=cancel)
                except FingerprintEmptyPage:
                    log.warning("deposit: fingerprint page %d was empty; enrolling again", known[0])
                    self.fingerprints.mark_empty(id_number)
                    return work_enroll(cancel)
                sensor.capture(BUFFER_1, self.finger_timeout, cancel)
                self.update(gen, params={"done": 1}, progress=1.0)
                try:
                    sensor.match(cancel=cancel)
                except FingerprintNoMatch:
                    return False, None
                self.fingerprints.touch(id_number)
                return True, sensor.up_char(BUFFER_2, cancel=cancel)
            return work_enroll(cancel)

        def work_enroll(cancel: CancelToken) -> tuple[bool, bytes | None]:
            page = self.fingerprints.reserve(id_number)  # written before the sensor stores into it
            enroll_start = {"mode": "enroll", "captures": 2, "capture": 1, "done": 0}
            self.update(gen, message="fingerprint.place_first", params=enroll_start)
            template = self.fingerprint.enroll(self.finger_timeout, cancel, page=page, on_step=progress)
            self.fingerprints.mark_enrolled(id_number)
            return True, template

        def progress(step: str) -> None:
            """The two captures on the screen: lift after the first, press again, both done."""
            if step == "first_captured":
                self.update(gen, message="fingerprint.lift", params={"capture": 1, "done": 1}, progress=0.5)
            elif step == "lifted":
                self.update(gen, message="fingerprint.again", params={"capture": 2, "done": 1}, progress=0.5)
            elif step == "second_captured":
                self.update(gen, params={"capture": 2, "done": 2}, progress=1.0)

        self.run_blocking("fingerprint", work, self._finger_done, self._finger_failed)

    def _finger_done(self, result: tuple[bool, bytes | None]) -> None:
        ok, template = result
        run = self._run()
        if ok and template is not None:
            run.session.set_template(template)
            crashpoints.reached("deposit.fingerprint_ok")
            self._enter_guide()
            return
        self._finger_retry("fingerprint.mismatch")

    def _finger_retry(self, message: str) -> None:
        run = self._run()
        run.finger_tries += 1
        if run.finger_tries >= self.max_finger_tries:
            self.end("refused", "flow.office_hours", params={"reason": message})
            return
        self.enter(
            FINGER_RETRY,
            Screen.FINGERPRINT,
            message,
            params={"try": run.finger_tries, "tries": self.max_finger_tries},
            actions=("retry", "cancel"),
        )

    def _finger_failed(self, exc: KioskError) -> None:
        if isinstance(exc, DeviceCancelled):
            return
        if isinstance(exc, FingerprintNoFinger):
            self.end("timeout", "flow.timed_out")
        elif isinstance(exc, FingerprintUserError):
            self._finger_retry(exc.code)
        else:
            self.end("error", "flow.out_of_service", params={"device": exc.device or "fingerprint"})

    def _finger_retry_action(self, action: str, data: dict[str, Any]) -> None:
        if action == "retry":
            self._enter_fingerprint()

    # -- service guide ---------------------------------------------------------------------------------
    def _enter_guide(self, message: str = "guide.choose") -> None:
        self.enter(
            GUIDE,
            Screen.GUIDE,
            message,
            params={
                "categories": {c.id: {"zh": c.name_zh, "en": c.name_en} for c in self.guide.categories.values()},
                "services": self.guide.summaries(),
            },
            actions=("choose", "cancel"),
        )

    def _guide_action(self, action: str, data: dict[str, Any]) -> None:
        service_id = str(data.get("service_id", ""))
        if service_id not in self.guide.services:
            self._enter_guide("guide.unknown_service")
            return
        run = self._run()
        service = self.guide.get(service_id)
        record, photo = run.session.record, run.session.photo
        assert record is not None and photo is not None and run.session.template is not None
        ok, png = cv2.imencode(".png", photo)
        ticket = self.submissions.open_draft(
            service_id=service.id,
            required_papers=service.paper_ids,
            identity=Identity(record.display_name, record.id_number, _extra(record)),
            card_photo=png.tobytes() if ok else None,
            fingerprint=bytes(run.session.template),
            checks=run.face_checks or None,
        )
        run.service = service
        run.case_code, run.pickup_code = ticket.case_code, ticket.pickup_code
        run.papers = [_Paper(p.id, p.name_zh, p.name_en, p.deferrable) for p in service.papers]
        run.current = 0
        crashpoints.reached("deposit.draft_opened")
        self._enter_documents()

    # -- papers ---------------------------------------------------------------------------------------
    def _documents_view(self, message: str, *, busy: bool = False, extra: dict[str, Any] | None = None) -> None:
        run = self._run()
        paper = run.papers[run.current]
        actions: list[str] = ["capture"]
        if paper.pages:
            actions = ["add_page", "retake", "next"]
        if not paper.pages:
            actions.append("skip")  # also for a required paper: the screen then explains the refusal
        actions.append("cancel")
        self.enter(
            DOCUMENTS,
            Screen.DOCUMENTS,
            message,
            params={
                "case_code": run.case_code,
                "current": paper.id,
                "deferrable": paper.deferrable,
                "pages": len(paper.pages),
                "thumbnails": list(paper.thumbnails),
                "checklist": [
                    {
                        "id": p.id,
                        "name_zh": p.name_zh,
                        "name_en": p.name_en,
                        "status": "current" if i == run.current and p.status == "pending" else p.status,
                        "deferrable": p.deferrable,
                        "pages": len(p.pages),
                    }
                    for i, p in enumerate(run.papers)
                ],
                **(extra or {}),
            },
            actions=tuple(actions),
            busy=busy,
        )
        if not busy:
            self._start_page_outline()

    def _start_page_outline(self) -> None:
        """Outline the paper on the live preview until this view is left (``enter`` cancels the token)."""
        latest = getattr(self.document_frames, "latest", None)
        if self.page_outline_interval is None or latest is None:
            return
        gen, cancel = self._gen, self._cancel

        def show(outline: Outline | None) -> None:
            self.update(gen, params={"page_quad": outline or []})

        outliner = PageOutliner(latest, show, cancel, interval=self.page_outline_interval, options=self.scan_options)
        self.outliners = [o for o in self.outliners if o.thread.is_alive()] + [outliner.start()]

    def _enter_documents(self) -> None:
        self._documents_view("document.place_paper")

    def _documents_action(self, action: str, data: dict[str, Any]) -> None:
        run = self._run()
        paper = run.papers[run.current]
        if action in ("capture", "add_page"):
            self._capture()
        elif action == "retake":
            paper.drop_last_page()
            self._capture()
        elif action == "skip":
            if not paper.deferrable:
                self._documents_view("document.skip_not_allowed")
                return
            assert run.case_code is not None
            self.submissions.defer_paper(run.case_code, paper.id)
            paper.status = "deferred"
            crashpoints.reached("deposit.paper_deferred")
            self._next_paper()
        elif action == "next":
            self._store_paper()

    def _capture(self) -> None:
        self._documents_view("document.scanning", busy=True)
        options = self.scan_options

        def work(cancel: CancelToken) -> ScannedPage:
            frame, _t = self.document_frames.next_frame(cancel)
            return self.documents.scan(frame, options, cancel)  # 5 MP: never on the screen's cores first

        self.run_blocking("scan page", work, self._scanned, self._scan_failed)

    def _scanned(self, page: ScannedPage) -> None:
        if page.needs_retake:
            self._documents_view(
                page.quality.codes[0] if page.quality.codes else "document.retake.unclear",
                extra={"retake": list(page.quality.codes)},
            )
            return
        if not page.found:
            self._documents_view("document.no_page_found")
            return
        run = self._run()
        paper = run.papers[run.current]
        paper.pages.append(page)
        paper.thumbnails.append(_thumbnail(page.image))
        self._documents_view("document.page_ok", extra={"paper_size": page.paper.name if page.paper else None})

    def _scan_failed(self, exc: KioskError) -> None:
        if isinstance(exc, DeviceCancelled):
            return
        if isinstance(exc, RetakeRequired):
            self._documents_view("document.retake.unclear")
            return
        self.end("error", "flow.out_of_service", params={"device": exc.device or "document_camera"})

    def _store_paper(self) -> None:
        run = self._run()
        paper = run.papers[run.current]
        case_code = run.case_code
        assert case_code is not None
        pages = list(paper.pages)
        self._documents_view("document.saving", busy=True)

        def work(cancel: CancelToken) -> None:
            pdf = self.documents.pdf([(p.image, p.dpi) for p in pages], cancel)
            self.submissions.add_scan(case_code, paper.id, 0, pdf)

        def done(_: None) -> None:
            paper.status = "scanned"
            paper.wipe()
            crashpoints.reached("deposit.paper_stored")
            self._next_paper()

        self.run_blocking("store paper", work, done, lambda exc: self.end("error", "flow.error_staff"))

    def _next_paper(self) -> None:
        run = self._run()
        pending = [i for i, p in enumerate(run.papers) if p.status == "pending"]
        if pending:
            run.current = pending[0]
            self._enter_documents()
        else:
            self._enter_phone(run.case_code or "", run.pickup_code, self._enter_size)

    # -- compartment size -------------------------------------------------------------------------------
    def _enter_size(self, message: str = "locker.choose_size", offer: tuple[str, ...] | None = None) -> None:
        free = {_size_value(k): int(v) for k, v in self.lockers.free_counts().items()}
        if not any(free.values()):
            self._abandon_draft("no compartment free")
            if self.alerts is not None:
                self.alerts.enqueue("lockers_full", "储物柜已满 Lockers full", "No free compartment for a deposit.")
            self.end("refused", "locker.all_full")
            return
        sizes = offer if offer is not None else SIZES
        self.enter(
            SIZE,
            Screen.COMPARTMENT_SIZE,
            message,
            params={"free": free},
            actions=(*[s for s in sizes if free.get(s, 0) > 0 or offer is None], "cancel"),
        )

    def _size_action(self, action: str, data: dict[str, Any]) -> None:
        from locker.compartments import CompartmentSize, NoCompartmentFree

        run = self._run()
        assert run.case_code is not None
        try:
            compartment = self.lockers.reserve(CompartmentSize(action), case_code=run.case_code)
        except NoCompartmentFree as exc:
            larger = tuple(_size_value(s) for s, n in exc.larger_free.items() if n > 0)
            if not larger:
                self._enter_size("locker.size_full_none_larger")
            else:
                self._enter_size("locker.size_full_larger_offered", offer=larger)
            return
        run.compartment_id, run.size = compartment.id, action
        crashpoints.reached("deposit.reserved")
        self._enter_door()

    # -- door -----------------------------------------------------------------------------------------------
    def _enter_door(self) -> None:
        run = self._run()
        compartment_id, case_code = run.compartment_id, run.case_code
        assert compartment_id is not None and case_code is not None
        run.door_attempts += 1
        run.door_opened, run.tx = False, None
        self.enter(DOOR, Screen.DOOR_OPEN, "door.opening", params={"compartment": compartment_id}, busy=True)

        def open_door(cancel: CancelToken) -> Any:
            # no cancel here: the pulse and its door-open confirmation take seconds and must end
            # with a known outcome; a cancel meanwhile is honoured when the outcome is in
            return self.lockers.open(compartment_id, case_code=case_code, purpose="deposit", actor="resident")

        self.run_blocking("open door", open_door, self._door_opened, self._door_failed)

    def _door_opened(self, tx: Any) -> None:
        run = self._run()
        run.tx, run.door_opened = tx, True
        crashpoints.reached("deposit.door_opened")
        if run.leave_requested:
            self._leave_at_open_door(run.leave_requested)
            return
        gen = self.enter(
            DOOR,
            Screen.DOOR_OPEN,
            "door.put_papers_in",
            params={"compartment": run.compartment_id},
            timeout=self.timeouts.get(DOOR),
        )

        def reminder(*_a: Any, **_k: Any) -> None:
            self.update(gen, message="door.please_close")

        def wait(cancel: CancelToken) -> bool:
            # the flow's cancel is not passed on: an open door is watched to the end (settle thread)
            return self.lockers.wait_closed(tx, timeout=self.door_settle_timeout, on_reminder=reminder)

        self.run_blocking("wait door closed", wait, self._door_closed, self._door_failed)

    def _door_closed(self, closed: bool) -> None:
        run = self._run()
        if not closed:
            self._leave_at_open_door("timeout")
            return
        crashpoints.reached("deposit.door_closed")
        self._commit(run)

    def _door_failed(self, exc: KioskError) -> None:
        run = self._run()
        if run.leave_requested and not run.door_opened:
            self._abandon_draft(f"{run.leave_requested} before the door opened")
            self.end(run.leave_requested, "flow.cancelled")
            return
        if exc.code == "lockers.board_silent":  # nothing was sent: give back, take one on a live board
            log.warning("deposit: compartment %s is on a silent board: %s", run.compartment_id, exc)
            if run.compartment_id is not None:
                try:
                    self.lockers.release(run.compartment_id, actor="kiosk")
                except KioskError as err:
                    log.warning("deposit: could not release %s: %s", run.compartment_id, err)
            if run.door_attempts >= self.max_door_attempts:
                self._abandon_draft("locker boards not answering")
                self.end("error", "flow.out_of_service", params={"device": "locker"})
                return
            self._reserve_again(none_left="flow.out_of_service")
            return
        if isinstance(exc, DoorJammed) or getattr(exc, "code", "") == "lockers.jammed":
            log.warning("deposit: compartment %s jammed: %s", run.compartment_id, exc)
            if run.door_attempts >= self.max_door_attempts:
                self._abandon_draft("doors jammed")
                self.end("error", "door.jammed_staff")
                return
            self._reserve_again()
            return
        if isinstance(exc, LockOutcomeUnknown):
            self._alert("door_unknown", f"柜门状态不明 Door outcome unknown: {run.compartment_id}", run.case_code)
            self.end("error", "door.unknown_staff")
            return
        self._abandon_draft(f"door error {exc.code}")
        self.end("error", "flow.out_of_service", params={"device": exc.device or "locker"})

    def _reserve_again(self, none_left: str = "door.jammed_staff") -> None:
        from locker.compartments import CompartmentSize, NoCompartmentFree

        run = self._run()
        assert run.case_code is not None and run.size is not None
        start = SIZES.index(run.size)
        for size in SIZES[start:]:
            try:
                compartment = self.lockers.reserve(CompartmentSize(size), case_code=run.case_code)
            except NoCompartmentFree:
                continue
            run.compartment_id, run.size = compartment.id, size
            self._enter_door()
            return
        self._abandon_draft("no other compartment after a jam or a silent board")
        self.end("error", none_left, params={"device": "locker"})

    def _commit(self, run: _Run, *, flagged: str | None = None) -> None:
        assert run.case_code is not None and run.compartment_id is not None and run.service is not None
        # One transaction: the commit, the staff alert and the "receipt owed" mark are on disk
        # together or not at all, so a kill right after the commit cannot lose the alert, and the
        # restart knows the resident may never have seen the receipt (flows.recovery).
        with self.submissions.db.transaction():
            case = self.submissions.commit_submission(run.case_code, compartment_id=run.compartment_id)
            if flagged:
                self.submissions.audit.append(
                    "kiosk", "case.committed_unattended", case_code=run.case_code, detail={"why": flagged}
                )
            else:
                self.submissions.audit.append("kiosk", AUDIT_RECEIPT_OWED, case_code=run.case_code)
            self._alert(
                "deposit",
                f"新的自助提交 New deposit: {run.service.name_zh}",
                run.case_code,
                body=f"Case {run.case_code}, compartment {run.compartment_id}, service {run.service.id}"
                + (f", deferred: {', '.join(case.deferred_papers)}" if case.deferred_papers else "")
                + (f". Note: {flagged}, please check the compartment." if flagged else ""),
            )
        crashpoints.reached("deposit.committed")
        crashpoints.reached("deposit.alerted")
        run.session.wipe()  # biometrics are not needed for the receipt
        if flagged:
            return
        run.receipt = Receipt(
            case_code=run.case_code,
            pickup_code=run.pickup_code or "",
            service_name_zh=run.service.name_zh,
            service_name_en=run.service.name_en,
            compartment_id=run.compartment_id,
            processing_days=run.service.processing_days,
            kiosk_name=self.kiosk_name,
            issued_at=dt.datetime.now(),
            deferred_papers=tuple(p.name_zh for p in run.papers if p.status == "deferred"),
            track_base_url=getattr(self.receipts, "track_base_url", ""),
        )
        gen = self.enter(
            RECEIPT,
            Screen.RECEIPT,
            "receipt.done",
            params={
                **view_params(run.receipt),
                "deferred_papers": [
                    {"name_zh": p.name_zh, "name_en": p.name_en} for p in run.papers if p.status == "deferred"
                ],
                "printing": self.receipts.can_print,
                "printed": False,
            },
            actions=("done",),
        )
        self._audit_quietly(AUDIT_RECEIPT_SHOWN, run.case_code)
        receipt = run.receipt
        if self.receipts.can_print:
            self.run_blocking(
                "print receipt",
                lambda cancel: self._print_receipt(receipt),
                lambda printed: self.update(
                    gen, params={"printing": False, "printed": printed, "print_failed": not printed}
                ),
                lambda exc: self.update(gen, params={"printing": False, "printed": False, "print_failed": True}),
            )

    def _receipt_action(self, action: str, data: dict[str, Any]) -> None:
        self._enter_rating("deposit", self._run().case_code, lambda: self.end("committed"))

    # -- endings ---------------------------------------------------------------------------------------------
    def on_timeout(self, state: str) -> None:
        if state in (RECEIPT, RATING, RATING_WHY):
            self.end("committed")
        elif state == DOOR:
            self._leave_at_open_door("timeout")
        elif state == CARD and self._card_fault is not None:  # the reader never came back
            self.end("error", "flow.out_of_service", params={"device": self._card_fault.device or "idcard"})
        elif state == CARD:
            self.end("timeout")
        else:
            self.end("timeout", "flow.timed_out")

    def on_cancel(self) -> None:
        if self.state in (RECEIPT, RATING, RATING_WHY):
            self.end("committed")
        elif self.state == DOOR:
            self._leave_at_open_door("cancelled")
        else:
            self.end("cancelled", "flow.cancelled")

    def _leave_at_open_door(self, why: str) -> None:
        run = self._run()
        if run.door_opened:
            self._settle_open_door(f"resident {why} with the door open")
            self.end(f"{why}_door_open", "door.cancelled_papers_kept")
        else:
            # the unlock is under way: wait for its outcome (seconds), then end accordingly
            run.leave_requested = why
            self.update(self._gen, message="door.finishing")

    def _settle_open_door(self, why: str) -> None:
        """The door is (or was) open: finish the case in the background, never drop it."""
        run = self._run()
        tx = run.tx

        def settle() -> None:
            try:
                if tx is not None:
                    self.lockers.wait_closed(tx, timeout=self.door_settle_timeout)
                self._commit(run, flagged=why)
            except KioskError as exc:
                log.error("deposit: could not settle case %s after '%s': %s", run.case_code, why, exc)

        t = threading.Thread(target=settle, name="deposit-settle", daemon=True)
        self.settlers.append(t)
        t.start()

    def _abandon_draft(self, why: str, *, release: bool = True) -> None:
        run = self.run
        if run is None or run.case_code is None:
            return
        try:
            self.submissions.cancel(run.case_code, actor="kiosk", reason=why)
        except KioskError as exc:
            log.warning("deposit: could not cancel draft %s: %s", run.case_code, exc)
        if release and run.compartment_id is not None and not run.door_opened:
            try:
                self.lockers.release(run.compartment_id, actor="kiosk")
            except KioskError as exc:
                log.warning("deposit: could not release %s: %s", run.compartment_id, exc)
        run.case_code = None

    def on_end(self, outcome: str) -> None:
        run = self.run
        if run is None:
            return
        if outcome not in ("committed",) and not outcome.endswith("door_open") and run.case_code is not None:
            case = self._case_state(run.case_code)
            if case == "draft":
                self._abandon_draft(outcome)
        for p in run.papers:
            p.wipe()
        self.sessions.end(run.session)
        self.run = None

    def _case_state(self, case_code: str) -> str | None:
        try:
            return self.submissions.get_case(case_code).state.value
        except KioskError:
            return None

    def _print_receipt(self, receipt: Receipt) -> bool:
        printed = self.receipts.print(receipt)
        if printed:
            self._audit_quietly(AUDIT_RECEIPT_PRINTED, receipt.case_code)
        return printed

    def _audit_quietly(self, action: str, case_code: str) -> None:
        """An audit row whose loss must not take the resident's receipt off the screen."""
        try:
            self.submissions.audit.append("kiosk", action, case_code=case_code)
        except KioskError as exc:
            log.error("deposit: audit %s for %s not written: %s", action, case_code, exc)

    def _alert(self, kind: str, title: str, case_code: str | None, *, body: str = "") -> None:
        if self.alerts is None:
            return
        try:
            self.alerts.enqueue(kind, title, body or title, case_code)
        except KioskError as exc:
            log.error("deposit: staff alert %s not queued: %s", kind, exc)

    def _run(self) -> _Run:
        if self.run is None:
            raise FlowError("no deposit in progress")
        return self.run

    # -- tests / UI helpers ---------------------------------------------------------------------------------
    def wait_settled(self, timeout: float = 10.0) -> None:
        for t in list(self.settlers):
            t.join(timeout)


class DocumentWork(Protocol):
    """Where page scans and PDFs are computed: the app's ``DocumentWorker`` process, or in-process."""

    def scan(self, frame: np.ndarray, options: ScanOptions | None, cancel: CancelToken | None) -> ScannedPage: ...

    def pdf(self, pages: Sequence[tuple[np.ndarray, float]], cancel: CancelToken | None) -> bytes: ...


class InProcessDocuments:
    """The page pipeline on the flow's worker thread, lowered to background priority meanwhile.

    For tests and tools; the kiosk passes its ``devices.document.worker.DocumentWorker``, which
    also keeps the GIL away from the touchscreen.
    """

    def scan(self, frame: np.ndarray, options: ScanOptions | None, cancel: CancelToken | None) -> ScannedPage:
        with background_thread_work():
            return scan_page(frame, options=options)

    def pdf(self, pages: Sequence[tuple[np.ndarray, float]], cancel: CancelToken | None) -> bytes:
        with background_thread_work():
            return pages_pdf(pages)


THUMBNAIL_LONG_SIDE = 200


def _thumbnail(image: np.ndarray) -> np.ndarray:
    """A small BGR copy of a scanned page for the screen's row of captured pages."""
    h, w = image.shape[:2]
    scale = THUMBNAIL_LONG_SIDE / max(h, w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_GRAY2BGR) if small.ndim == 2 else small


def _extra(record: Any) -> dict[str, str]:
    # Only what the office reads (sex, nation, validity, issuer): the address and birth date on the
    # card were stored and never read, so they are not kept (issue 12).
    out: dict[str, str] = {}
    for key in ("sex", "nation_code", "issuer", "valid_from", "valid_to"):
        value = getattr(record, key, None)
        if value is not None:
            out[key] = str(getattr(value, "value", value))
    return out


__all__ = ["DepositFlow"]
