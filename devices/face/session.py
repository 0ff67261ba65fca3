"""One resident's face check: camera frames in, a decision out, biometrics wiped at the end.

The flow runs ``feed`` in a worker thread for each preview frame and shows the returned
``FaceProgress`` (state, instruction, face outline). Identity is decided by a vote over several
encodings, never by one frame, and liveness (blink, motion, optional head turn) must be seen on
the same continuous face track. All encodings, landmarks and frame copies exist only inside the
session and are zeroed by ``close()``.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType

import cv2
import numpy as np

from devices.face.config import FaceCheckConfig
from devices.face.engine import Box, FaceEngine, default_engine, face_distance
from devices.face.errors import FaceCardPhotoError, FaceError, FaceFrameError, FaceSessionClosed
from devices.face.liveness import LivenessTracker
from devices.face.quality import (
    FaceInstruction,
    FaceIssue,
    face_width,
    geometry_issue,
    image_issue,
    no_face_issue,
)
from devices.face.tracker import FaceTracker

log = logging.getLogger(__name__)


class FaceState(StrEnum):
    SEARCHING = "searching"  # no usable face in this frame (see ``issue``)
    CHECKING = "checking"  # a good face; comparing with the card photo
    NEED_BLINK = "need_blink"  # the face matches; waiting for a blink (and some motion)
    NEED_TURN = "need_turn"  # matches and blinked; waiting for the prompted head turn
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class FaceRejectReason(StrEnum):
    """Why the check ended without a match (value = UI message key)."""

    NO_FACE = "face.rejected.no_face"  # never a usable face before the time-out (see last_issue)
    MISMATCH = "face.rejected.mismatch"  # enough compared frames say: the face is not the card's
    TRY_AGAIN = "face.rejected.try_again"  # a face was seen but too few frames were compared to decide
    NO_BLINK = "face.rejected.no_blink"  # matched, but no blink was seen
    STILL_IMAGE = "face.rejected.still_image"  # matched, but nothing moved: a photo
    NO_HEAD_TURN = "face.rejected.no_head_turn"  # matched and blinked, but did not turn

    @property
    def message_key(self) -> str:
        return self.value


@dataclass(frozen=True)
class FaceProgress:
    state: FaceState
    instruction: FaceInstruction  # what the screen asks for now
    issue: FaceIssue | None  # why this frame was refused, if it was
    box: Box | None  # face outline for the preview, in frame pixels
    distance: float | None  # latest distance to the card photo, if encoded yet
    elapsed_s: float  # since the first frame, in the caller's clock


@dataclass(frozen=True)
class FaceDecision:
    accepted: bool
    reason: FaceRejectReason | None  # None when accepted
    distance: float | None  # median of the agreeing distances (accepted) or the latest one
    frames: int  # frames fed
    encodings: int  # how many frames were encoded
    elapsed_s: float  # caller's clock, first frame to decision
    cpu_s: float  # CPU time spent inside feed(), all frames
    cpu_since_face_s: float  # CPU time from the first frame with a usable face to the decision
    last_issue: FaceIssue | None  # the last refusal seen (explains NO_FACE)


def _check_image(image: object, what: str, error: type[FaceError] = FaceFrameError) -> np.ndarray:
    if not (
        isinstance(image, np.ndarray)
        and image.dtype == np.uint8
        and image.ndim == 3
        and image.shape[2] == 3
        and min(image.shape[:2]) >= 32
    ):
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise error(f"{what} must be an 8-bit BGR image of at least 32 px, got {desc}", device="face")
    return image


class FaceSession:
    """Compares the live face with one ID-card photo; use once, then ``close()`` (or ``with``)."""

    def __init__(
        self,
        card_photo_bgr: np.ndarray,
        *,
        engine: FaceEngine | None = None,
        config: FaceCheckConfig = FaceCheckConfig(),  # noqa: B008 - frozen, so sharing is safe
    ) -> None:
        self._cfg = config
        self._engine = engine if engine is not None else default_engine()
        self._lock = threading.Lock()
        self._closed = False
        self._card: np.ndarray | None = self._encode_card(
            _check_image(card_photo_bgr, "card photo", FaceCardPhotoError)
        )
        self._tracker = FaceTracker(self._engine, config)
        self._live = LivenessTracker(config)
        self._votes: deque[float] = deque(maxlen=config.vote_window)
        self._mismatches = 0
        self._since_encode = 0
        self._t0: float | None = None
        self._last_t: float | None = None
        self._last_good_t: float | None = None
        self._refused_since_good = False  # a frame without a usable face came after the last good one
        self._frames = 0
        self._encodings = 0
        self._cpu = 0.0
        self._cpu_at_face: float | None = None
        self._mismatch_seen = False  # a full vote window said "someone else" at some time
        self._frame_dt = 0.0  # time since the previous frame
        self._guided_s = 0.0  # time and frames spent guiding a face that is too far away
        self._guided_frames = 0
        self._last_issue: FaceIssue | None = None
        self._distance: float | None = None
        self._decision: FaceDecision | None = None
        self._last_progress: FaceProgress | None = None

    # -- card photo --------------------------------------------------------------------------

    def _encode_card(self, photo: np.ndarray) -> np.ndarray:
        """Encode the card photo once; it is small (102 × 126), so enlarge it for the detector."""
        rgb = cv2.cvtColor(photo, cv2.COLOR_BGR2RGB)
        if rgb.shape[1] < 200:
            rgb = cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        try:
            boxes = self._engine.detect(rgb, 1) or self._engine.detect(rgb, 2)
            if not boxes:
                raise FaceCardPhotoError("no face found in the ID-card photo", device="face")
            box = max(boxes, key=lambda b: b.width * b.height)
            return self._engine.encode(rgb, box)
        finally:
            rgb.fill(0)

    # -- the frame loop ------------------------------------------------------------------------

    @property
    def decision(self) -> FaceDecision | None:
        return self._decision

    def feed(self, frame_bgr: np.ndarray, t: float) -> FaceProgress:
        """Judge one preview frame taken at time ``t`` (seconds, any monotonic clock)."""
        with self._lock:
            if self._closed:
                raise FaceSessionClosed("the face session is closed", device="face")
            if self._decision is not None and self._last_progress is not None:
                return self._last_progress
            frame = _check_image(frame_bgr, "camera frame")
            start = time.thread_time()
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
            try:
                progress = self._judge(rgb, grey, t)
            finally:
                rgb.fill(0)
                grey.fill(0)
                self._cpu += time.thread_time() - start
            if self._decision is not None:  # settle the CPU figures including this frame
                self._decision = self._finish(self._decision.accepted, self._decision.reason)
            self._last_progress = progress
            return progress

    def _judge(self, rgb: np.ndarray, grey: np.ndarray, t: float) -> FaceProgress:
        cfg = self._cfg
        if self._t0 is None:
            self._t0 = t
        self._frame_dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        self._frames += 1
        elapsed = t - self._t0
        h, w = grey.shape

        located = self._tracker.locate(rgb)
        issue: FaceIssue | None
        box = located.boxes[0] if len(located.boxes) == 1 else None
        if not located.boxes:
            issue = no_face_issue(grey, cfg)
        elif len(located.boxes) > 1:
            issue = FaceIssue.MULTIPLE_FACES
        else:
            assert box is not None
            size = face_width(located.landmarks) if located.landmarks is not None else None
            issue = geometry_issue(box, w, h, cfg, size) or image_issue(grey, box, cfg)

        if issue is not None:
            self._last_issue = issue
            self._refused_since_good = True
            if self._last_good_t is not None and t - self._last_good_t > cfg.max_gap_s:
                self._forget("face out of view")
            progress = FaceProgress(FaceState.SEARCHING, issue.instruction, issue, box, self._distance, elapsed)
            # a face only too far away is being guided ("come closer", outline shown): only the
            # hard limit ends that, never the ordinary time-out
            return self._maybe_time_out(progress, elapsed, guiding=issue is FaceIssue.TOO_SMALL)

        assert box is not None and located.landmarks is not None
        # between two good frames in a row the face was in view unless the gap is very long: a
        # starved worker may judge one frame a second, and that must not wipe the evidence
        gap = cfg.max_gap_s if self._refused_since_good else cfg.max_gap_s * 4
        if located.new_track or (self._last_good_t is not None and t - self._last_good_t > gap):
            self._forget("new face track")
        if self._cpu_at_face is None:
            self._cpu_at_face = self._cpu
        self._last_good_t = t
        self._refused_since_good = False
        self._live.update(located.landmarks, grey)

        matched = self._identity_ok()
        self._since_encode += 1
        if not matched or self._since_encode >= cfg.recheck_every:
            self._vote(rgb, box)
            matched = self._identity_ok()
            if self._decision is not None:
                return self._progress_after_decision(box, elapsed)

        if matched and self._live.alive:
            self._decision = self._finish(True, None)
            return self._progress_after_decision(box, elapsed)
        if not matched:
            state, instruction = FaceState.CHECKING, FaceInstruction.HOLD_ON
        elif not (self._live.blinked and self._live.moved):
            state, instruction = FaceState.NEED_BLINK, FaceInstruction.BLINK
        else:
            state, instruction = FaceState.NEED_TURN, FaceInstruction.TURN_HEAD
        return self._maybe_time_out(FaceProgress(state, instruction, None, box, self._distance, elapsed), elapsed)

    def _vote(self, rgb: np.ndarray, box: Box) -> None:
        assert self._card is not None
        encoding = self._engine.encode(rgb, box)
        try:
            self._distance = face_distance(encoding, self._card)
        finally:
            encoding.fill(0)
        self._encodings += 1
        self._since_encode = 0
        self._votes.append(self._distance)
        log.debug("face distance %.3f (votes %s)", self._distance, [round(v, 3) for v in self._votes])
        if self._mismatch_evident():
            self._mismatch_seen = True
        if self._distance > self._cfg.match_threshold:
            self._mismatches += 1
            if self._mismatches >= self._cfg.mismatch_reject:
                self._decision = self._finish(False, FaceRejectReason.MISMATCH)
        else:
            self._mismatches = 0

    def _identity_ok(self) -> bool:
        return sum(d <= self._cfg.match_threshold for d in self._votes) >= self._cfg.votes_needed

    def _forget(self, why: str) -> None:
        """Evidence belongs to one continuous face: a new face starts from nothing."""
        if self._votes or self._live.blinked:
            log.info("face evidence reset: %s", why)
        self._votes.clear()
        self._mismatches = 0
        self._since_encode = 0
        self._live.reset()

    def _timed_out(self, elapsed: float) -> bool:
        """Out of time: the seconds are up *and* enough frames were judged, or the hard limit passed.

        Counting frames as well as seconds keeps a resident from losing a try because the PC was
        busy: beside several busy programs (or at ``[face] worker_nice = "idle"``) the worker judges
        one frame where it would judge ten, so 12 s may hold only a handful of looks at the face.
        """
        cfg = self._cfg
        if elapsed >= cfg.max_timeout_s:
            return True
        judged = self._frames - self._guided_frames
        return elapsed - self._guided_s >= cfg.timeout_s and judged >= cfg.timeout_frames

    def _mismatch_evident(self) -> bool:
        """A full vote window whose majority is over the threshold: positive evidence of another person."""
        over = sum(d > self._cfg.match_threshold for d in self._votes)
        return len(self._votes) >= self._cfg.vote_window and over > len(self._votes) - self._cfg.votes_needed

    def _maybe_time_out(self, progress: FaceProgress, elapsed: float, guiding: bool = False) -> FaceProgress:
        if guiding:  # time spent coming closer is not taken from the try
            self._guided_frames += 1
            self._guided_s += self._frame_dt
        if not self._timed_out(elapsed):
            return progress
        if self._identity_ok():
            if not self._live.moved:
                reason = FaceRejectReason.STILL_IMAGE
            elif not self._live.blinked:
                reason = FaceRejectReason.NO_BLINK
            else:
                reason = FaceRejectReason.NO_HEAD_TURN
        elif self._mismatch_seen:
            reason = FaceRejectReason.MISMATCH
        elif self._encodings or self._cpu_at_face is not None:
            reason = FaceRejectReason.TRY_AGAIN  # a face was there, but not compared enough to say "not you"
        else:
            reason = FaceRejectReason.NO_FACE
        self._decision = self._finish(False, reason)
        return self._progress_after_decision(progress.box, elapsed)

    def _finish(self, accepted: bool, reason: FaceRejectReason | None) -> FaceDecision:
        agreeing = [d for d in self._votes if d <= self._cfg.match_threshold]
        distance = statistics.median(agreeing) if accepted and agreeing else self._distance
        elapsed = 0.0 if self._t0 is None or self._last_t is None else self._last_t - self._t0
        decision = FaceDecision(
            accepted=accepted,
            reason=reason,
            distance=distance,
            frames=self._frames,
            encodings=self._encodings,
            elapsed_s=elapsed,
            cpu_s=self._cpu,
            cpu_since_face_s=self._cpu - self._cpu_at_face if self._cpu_at_face is not None else 0.0,
            last_issue=self._last_issue,
        )
        if self._decision is None:
            log.info(
                "face check %s%s: distance %s, %d frames, %d encodings",
                "accepted" if accepted else "rejected",
                "" if reason is None else f" ({reason.name})",
                "-" if distance is None else f"{distance:.3f}",
                self._frames,
                self._encodings,
            )
        return decision

    def _progress_after_decision(self, box: Box | None, elapsed: float) -> FaceProgress:
        assert self._decision is not None
        if self._decision.accepted:
            return FaceProgress(FaceState.ACCEPTED, FaceInstruction.DONE, None, box, self._distance, elapsed)
        return FaceProgress(
            FaceState.REJECTED, FaceInstruction.SEE_STAFF, self._last_issue, box, self._distance, elapsed
        )

    # -- wiping ------------------------------------------------------------------------------

    def close(self) -> None:
        """Zero every biometric array of the session and drop the references; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._card is not None:
                self._card.fill(0)
            self._card = None
            self._live.wipe()
            self._live.reset()
            self._tracker.reset()
            self._votes.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> FaceSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
