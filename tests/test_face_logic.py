"""The face session's decision logic with a scripted engine: time-outs, votes, head turn, gaps.

The engine is replaced through the ``FaceEngine`` interface (which is what the interface is
for), so these run in milliseconds; the real-model tests are in test_face_session.py. The scripted
face is a 68-point shape whose eyes close on cue, so these sessions run the 68-point comparison
path (``landmarks68``); the default 5-point blink reads pixels and is tested on real frames
(test_face_eye_openness.py, test_face_session.py, test_sim_blinks.py).
"""

from __future__ import annotations

import functools
import threading

import numpy as np
import pytest

from devices.errors import ConfigError
from devices.face import (
    Box,
    FaceEngine,
    FaceInstruction,
    FaceIssue,
    FaceRejectReason,
    FaceState,
    LivenessTracker,
    mean_ear,
)
from devices.face import (
    FaceCheckConfig as _FaceCheckConfig,
)
from devices.face import (
    FaceSession as _FaceSession,
)

FaceCheckConfig = functools.partial(_FaceCheckConfig, landmarks68=True)
FaceSession = functools.partial(_FaceSession, config=FaceCheckConfig())

CARD_WIDTH = 204  # the 102-px card photo, enlarged ×2 by the session


def face_shape(eye_open: float = 1.0, nose_dx: float = 0.0, dx: float = 0.0) -> np.ndarray:
    """68 iBUG-layout points of a schematic frontal face centred at (300 + dx, 220)."""
    pts = np.zeros((68, 2))
    theta = np.linspace(0, np.pi, 17)
    pts[0:17] = np.c_[300 - 100 * np.cos(theta), 200 + 100 * np.sin(theta)]
    pts[17:22] = np.c_[np.linspace(220, 280, 5), np.full(5, 150)]
    pts[22:27] = np.c_[np.linspace(320, 380, 5), np.full(5, 150)]
    pts[27:31] = np.c_[np.full(4, 300), np.linspace(170, 230, 4)]
    pts[30, 0] += nose_dx
    pts[31:36] = np.c_[np.linspace(280, 320, 5), np.full(5, 240)]
    h = 6 * eye_open
    for i, cx in ((36, 250), (42, 350)):
        pts[i : i + 6] = [
            (cx - 20, 180),
            (cx - 7, 180 - h),
            (cx + 7, 180 - h),
            (cx + 20, 180),
            (cx + 7, 180 + h),
            (cx - 7, 180 + h),
        ]
    angle = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    pts[48:68] = np.c_[300 + 40 * np.cos(angle), 275 + 12 * np.sin(angle)]
    pts[:, 0] += dx
    return pts


class ScriptedEngine:
    """Answers with whatever the test set: the faces present, their landmarks, their distance."""

    name = "scripted"

    def __init__(self) -> None:
        self.faces = 1
        self.shape = face_shape()
        self.distance = 0.3
        self.detects = 0
        self.encodes = 0

    def detect(self, rgb: np.ndarray, upsample: int = 1) -> list[Box]:
        if rgb.shape[1] == CARD_WIDTH:
            return [Box(30, 40, 170, 180)]
        self.detects += 1
        s = rgb.shape[1] / 640
        box = Box(200, 120, 400, 320)
        return [box.shifted(int(self.shape[:, 0].mean() - 300) + 150 * i, 0).scaled(s) for i in range(self.faces)]

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        return self.shape.copy()

    def eye_points(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        return self.shape[[45, 42, 36, 39, 33]].copy()

    def encode(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        out = np.zeros(128)
        if rgb.shape[1] != CARD_WIDTH:
            self.encodes += 1
            out[0] = self.distance
        return out


CARD = np.full((126, 102, 3), 128, np.uint8)
FRAME = np.random.default_rng(7).integers(60, 200, (480, 640, 3), dtype=np.uint8)
FRAME.setflags(write=False)  # devices.camera hands out read-only frames shared by consumers


class Clock:
    def __init__(self, session: FaceSession, dt: float = 0.1) -> None:
        self.session, self.t, self.dt = session, 0.0, dt

    def feed(self, n: int = 1):  # noqa: ANN201
        for _ in range(n):
            progress = self.session.feed(FRAME, self.t)
            self.t += self.dt
        return progress


def blink(engine: ScriptedEngine, clock: Clock) -> None:
    for openness in (1, 1, 0.2, 0.2, 1, 1):
        engine.shape = face_shape(eye_open=openness, dx=engine.shape[:, 0].mean() - 300 + 2)
        clock.feed()


def test_scripted_engine_fits_the_interface() -> None:
    assert isinstance(ScriptedEngine(), FaceEngine)
    assert mean_ear(face_shape()) == pytest.approx(0.3)


def test_nobody_in_view_is_rejected_after_the_time_out() -> None:
    engine = ScriptedEngine()
    engine.faces = 0
    session = FaceSession(CARD, engine=engine, config=FaceCheckConfig(timeout_s=2.0, timeout_frames=20))
    clock = Clock(session)
    progress = clock.feed(19)
    assert progress.state is FaceState.SEARCHING and progress.issue is FaceIssue.NO_FACE
    assert session.decision is None
    progress = clock.feed(3)
    assert progress.state is FaceState.REJECTED
    assert session.decision is not None and session.decision.reason is FaceRejectReason.NO_FACE


def test_one_good_frame_is_not_a_match_the_vote_decides() -> None:
    engine = ScriptedEngine()
    with FaceSession(CARD, engine=engine) as session:
        clock = Clock(session)
        engine.distance = 0.5
        assert clock.feed().state is FaceState.CHECKING
        engine.distance = 0.7
        assert clock.feed(2).state is FaceState.CHECKING
        engine.distance = 0.5
        assert clock.feed().state is FaceState.CHECKING  # 2 of the last 4 under the threshold
        assert clock.feed().state is FaceState.NEED_BLINK  # 3 of 5
        blink(engine, clock)
        assert session.decision is not None and session.decision.accepted


def test_consistent_mismatch_is_rejected_early() -> None:
    engine = ScriptedEngine()
    engine.distance = 0.75
    with FaceSession(CARD, engine=engine, config=FaceCheckConfig(mismatch_reject=4)) as session:
        clock = Clock(session)
        assert clock.feed(3).state is FaceState.CHECKING
        assert clock.feed().state is FaceState.REJECTED
        assert session.decision is not None and session.decision.reason is FaceRejectReason.MISMATCH


def test_prompted_head_turn_is_needed_when_configured() -> None:
    engine = ScriptedEngine()
    with FaceSession(CARD, engine=engine, config=FaceCheckConfig(require_head_turn=True)) as session:
        clock = Clock(session)
        clock.feed(3)
        blink(engine, clock)
        progress = clock.feed()
        assert progress.state is FaceState.NEED_TURN and progress.instruction is FaceInstruction.TURN_HEAD
        engine.shape = face_shape(nose_dx=35)  # nose 35 px off the jaw middle = 0.35 half-widths
        assert clock.feed().state is FaceState.ACCEPTED


def test_head_turn_missing_at_the_time_out_is_its_own_reason() -> None:
    engine = ScriptedEngine()
    cfg = FaceCheckConfig(require_head_turn=True, timeout_s=2.0, timeout_frames=20)
    with FaceSession(CARD, engine=engine, config=cfg) as session:
        clock = Clock(session)
        clock.feed(3)
        blink(engine, clock)
        clock.feed(15)
        assert session.decision is not None and session.decision.reason is FaceRejectReason.NO_HEAD_TURN


def test_blink_before_the_face_left_does_not_count_for_the_face_that_returns() -> None:
    engine = ScriptedEngine()
    with FaceSession(CARD, engine=engine, config=FaceCheckConfig(mismatch_reject=50)) as session:
        clock = Clock(session)
        engine.distance = 0.8  # someone else blinks at the camera first
        clock.feed()
        blink(engine, clock)
        engine.faces = 0
        clock.feed(15)  # 1.5 s away: more than max_gap_s
        engine.faces, engine.distance, engine.shape = 1, 0.3, face_shape()
        progress = clock.feed(4)
        assert progress.state is FaceState.NEED_BLINK  # matches now, but must blink again
        blink(engine, clock)
        assert session.decision is not None and session.decision.accepted


def small_face(scale: float = 0.4) -> np.ndarray:
    """The schematic face shrunk about its centre: a resident standing far from the camera."""
    pts = face_shape()
    centre = pts.mean(0)
    return (pts - centre) * scale + centre


def test_a_small_face_asks_to_come_closer_with_its_outline_and_the_try_goes_on() -> None:
    engine = ScriptedEngine()
    engine.shape = small_face()  # jaw 80 px of 640: 0.125, although the detector's box says 200 px
    with FaceSession(CARD, engine=engine, config=FaceCheckConfig(timeout_s=2.0, timeout_frames=20)) as session:
        clock = Clock(session)
        seen = [clock.feed() for _ in range(25)]  # longer than the time-out
        assert {p.issue for p in seen} == {FaceIssue.TOO_SMALL}
        assert {p.instruction for p in seen} == {FaceInstruction.MOVE_CLOSER}
        assert all(p.box is not None for p in seen)  # the outline shows where the face is
        assert session.decision is None  # a small face never ends the try
        assert engine.encodes == 0
        engine.shape = face_shape()  # the resident comes closer
        clock.feed(3)
        blink(engine, clock)
        assert session.decision is not None and session.decision.accepted


def test_a_try_that_runs_out_of_time_after_few_comparisons_says_try_again_not_mismatch() -> None:
    engine = ScriptedEngine()
    engine.distance = 0.75  # e.g. a bad first look; two compared frames prove nothing
    cfg = FaceCheckConfig(timeout_s=2.0, timeout_frames=20)
    with FaceSession(CARD, engine=engine, config=cfg) as session:
        clock = Clock(session)
        clock.feed(2)
        engine.faces, engine.shape = 0, face_shape(dx=200)  # the resident turned away
        seen = [clock.feed() for _ in range(25)]
        d = session.decision
        assert d is not None and not d.accepted and d.reason is FaceRejectReason.TRY_AGAIN
        assert d.encodings == 2
        assert not any(p.state is FaceState.REJECTED and d.reason is FaceRejectReason.MISMATCH for p in seen)


def test_mismatch_at_the_time_out_needs_a_full_vote_window_over_the_threshold() -> None:
    engine = ScriptedEngine()
    cfg = FaceCheckConfig(timeout_s=2.0, timeout_frames=20, mismatch_reject=50)
    with FaceSession(CARD, engine=engine, config=cfg) as session:
        clock = Clock(session)
        for distance in (0.75, 0.75, 0.5, 0.75, 0.75):  # 4 of the last 5 over: positive evidence
            engine.distance = distance
            clock.feed()
        engine.faces, engine.shape = 0, face_shape(dx=200)
        clock.feed(25)
        assert session.decision is not None and session.decision.reason is FaceRejectReason.MISMATCH


def test_a_starved_worker_judging_one_frame_a_second_does_not_lose_the_try() -> None:
    """Under load the worker judges one frame where it would judge ten: the seconds run out long
    before the resident had a fair look. The try lasts until enough frames were judged."""
    engine = ScriptedEngine()
    with FaceSession(CARD, engine=engine, config=FaceCheckConfig(timeout_s=12.0)) as session:
        clock = Clock(session, dt=1.0)
        seen = [clock.feed() for _ in range(20)]  # 20 s, no blink caught between the rare looks
        assert session.decision is None
        assert seen[-1].state is FaceState.NEED_BLINK
        blink(engine, clock)
        assert session.decision is not None and session.decision.accepted
        assert session.decision.elapsed_s > 12.0


def test_the_try_ends_at_the_hard_limit_however_few_frames_were_judged() -> None:
    engine = ScriptedEngine()
    cfg = FaceCheckConfig(timeout_s=12.0, max_timeout_s=30.0)
    with FaceSession(CARD, engine=engine, config=cfg) as session:
        clock = Clock(session, dt=3.0)
        clock.feed(12)  # 33 s, 12 frames: matched, never moved nor blinked
        d = session.decision
        assert d is not None and d.reason is FaceRejectReason.STILL_IMAGE and d.frames == 11


def test_second_face_is_noticed_at_the_next_detection() -> None:
    engine = ScriptedEngine()
    with FaceSession(CARD, engine=engine) as session:
        clock = Clock(session)
        clock.feed()
        engine.faces = 2
        seen = [clock.feed() for _ in range(FaceCheckConfig().redetect_every + 1)]
        assert seen[-1].issue is FaceIssue.MULTIPLE_FACES
        assert seen[-1].instruction is FaceInstruction.ONE_PERSON


def test_large_jump_of_the_face_triggers_a_new_detection() -> None:
    engine = ScriptedEngine()
    with FaceSession(CARD, engine=engine) as session:
        clock = Clock(session)
        clock.feed(2)
        before = engine.detects
        clock.feed()
        assert engine.detects == before  # still following
        engine.shape = face_shape(dx=60)
        clock.feed()
        assert engine.detects == before + 1


def test_open_eye_level_is_learnt_before_a_blink_counts() -> None:
    live = LivenessTracker(FaceCheckConfig())
    live.update(face_shape(eye_open=0.2))  # closed from the start: nothing to compare with yet
    live.update(face_shape(eye_open=1))
    live.update(face_shape(eye_open=1, dx=3))
    assert not live.blinked
    live.update(face_shape(eye_open=0.2))
    live.update(face_shape(eye_open=1))
    assert live.blinked and live.moved and live.alive


def test_runs_in_a_worker_thread() -> None:
    engine = ScriptedEngine()
    session = FaceSession(CARD, engine=engine)
    clock = Clock(session)

    def work() -> None:
        clock.feed(3)
        blink(engine, clock)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(5)
    assert session.decision is not None and session.decision.accepted
    session.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"votes_needed": 6, "vote_window": 5},
        {"match_threshold": -0.1},
        {"blink_drop": 1.5},
        {"timeout_s": 0},
        {"timeout_s": 20, "max_timeout_s": 10},
        {"min_brightness": 200, "max_brightness": 100},
        {"detect_width": 40},
    ],
)
def test_bad_configuration_is_a_config_error(kwargs) -> None:
    with pytest.raises(ConfigError) as info:
        FaceCheckConfig(**kwargs)
    assert info.value.code == "config.invalid" and "face." in info.value.message
