"""Face check end to end on real photos with the real dlib models (face_recognition).

Live frames are the test photos placed into 640 × 480 kiosk-camera frames; ID-card photos are
102 × 126 crops of *another* photo of the person. The blink sequence is synthesised from a real
photo (tests/data/face_sequences/synth.py) and its closed-eye frames are checked with dlib here.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.errors import Recovery
from devices.face import (
    Box,
    FaceCardPhotoError,
    FaceCheckConfig,
    FaceDecision,
    FaceFrameError,
    FaceInstruction,
    FaceIssue,
    FaceProgress,
    FaceRejectReason,
    FaceSession,
    FaceSessionClosed,
    FaceState,
    default_engine,
    mean_ear,
    yaw,
)

DATA = Path(__file__).parent / "data"
_spec = importlib.util.spec_from_file_location("face_synth", DATA / "face_sequences" / "synth.py")
assert _spec is not None and _spec.loader is not None
synth = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(synth)

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")


@pytest.fixture(scope="module")
def engine():  # noqa: ANN201
    return default_engine()


@pytest.fixture(scope="module")
def photos() -> dict[str, tuple[np.ndarray, tuple[int, int, int, int]]]:
    out = {}
    for name in ("obama_1", "obama_2", "biden_1", "biden_2"):
        photo = synth.load_photo(name)
        out[name] = (photo, synth.face_box(photo))
    return out


def card(photos: dict, name: str) -> np.ndarray:
    photo, box = photos[name]
    crop = synth.card_photo(photo, box)
    assert crop.shape == (126, 102, 3)
    return crop


def frame_of(photos: dict, name: str, face_width: float = 200, centre=(320, 230)) -> np.ndarray:
    photo, box = photos[name]
    return synth.place(photo, box, face_width, centre)


@pytest.fixture(scope="module")
def blink_frames() -> list[np.ndarray]:
    files = sorted((DATA / "face_sequences" / "blink_obama").glob("*.jpg"))
    assert len(files) == len(synth.BLINK_SCRIPT)
    return [cv2.imread(str(f)) for f in files]


def run(session: FaceSession, frames: Iterable[np.ndarray], dt: float = 0.1) -> list[FaceProgress]:
    seen = []
    for i, frame in enumerate(frames):
        seen.append(session.feed(frame, 100.0 + i * dt))
        if session.decision is not None:
            break
    return seen


def decided(session: FaceSession) -> FaceDecision:
    assert session.decision is not None
    return session.decision


# -- the synthesised blink is a real blink to dlib -----------------------------------------------


def test_synthesised_closed_eyes_measure_closed_in_dlib(engine, blink_frames) -> None:
    ears = []
    for frame in blink_frames:
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        (box,) = engine.detect(rgb, 1)
        ears.append(mean_ear(engine.landmarks(rgb, box)))
    closure = [step[4] for step in synth.BLINK_SCRIPT]
    open_ear = np.median([e for e, c in zip(ears, closure, strict=True) if c == 0])
    shut = [e for e, c in zip(ears, closure, strict=True) if c == 1]
    assert shut and max(shut) < 0.7 * open_ear  # dlib itself sees the eyes (nearly) shut
    assert min(e for e, c in zip(ears, closure, strict=True) if c == 0) > 0.8 * open_ear


# -- identity ------------------------------------------------------------------------------------


def test_same_person_blinking_is_accepted_against_card_crop_of_another_photo(photos, blink_frames) -> None:
    with FaceSession(card(photos, "obama_2")) as session:
        seen = run(session, blink_frames)
    d = decided(session)
    assert d.accepted and d.reason is None
    assert d.distance is not None and d.distance < FaceCheckConfig().match_threshold
    assert seen[-1].state is FaceState.ACCEPTED and seen[-1].instruction is FaceInstruction.DONE
    assert FaceState.NEED_BLINK in {p.state for p in seen}  # matched first, then waited for the blink
    assert d.encodings < d.frames  # not every frame is encoded


def test_card_crop_of_one_photo_matches_other_photo_of_same_person(photos) -> None:
    live = [synth.jitter(frame_of(photos, "biden_2"), dx, 0, 0.3 * dx) for dx in range(6)]
    with FaceSession(card(photos, "biden_1")) as session:
        seen = run(session, live)
    assert seen[-1].state is FaceState.NEED_BLINK  # identity agreed; liveness not yet shown
    assert all(p.distance is not None and p.distance < 0.6 for p in seen)


def test_other_person_is_rejected(photos, blink_frames) -> None:
    with FaceSession(card(photos, "biden_1")) as session:
        seen = run(session, blink_frames * 2)
    d = decided(session)
    assert not d.accepted and d.reason is FaceRejectReason.MISMATCH
    assert seen[-1].state is FaceState.REJECTED and seen[-1].instruction is FaceInstruction.SEE_STAFF
    assert FaceState.ACCEPTED not in {p.state for p in seen}
    assert d.distance is not None and d.distance > 0.6


def test_decision_stays_after_it_is_made(photos, blink_frames) -> None:
    with FaceSession(card(photos, "obama_2")) as session:
        run(session, blink_frames)
        first = decided(session)
        again = session.feed(blink_frames[0], 200.0)
        assert again.state is FaceState.ACCEPTED and session.decision == first


# -- liveness ------------------------------------------------------------------------------------


def test_still_frame_repeated_is_rejected_as_a_photo(photos, blink_frames) -> None:
    cfg = FaceCheckConfig(timeout_s=3.0, timeout_frames=20)
    with FaceSession(card(photos, "obama_2"), config=cfg) as session:
        seen = run(session, [blink_frames[0]] * 40)
    d = decided(session)
    assert not d.accepted and d.reason is FaceRejectReason.STILL_IMAGE
    assert FaceState.NEED_BLINK in {p.state for p in seen}  # the face itself matched
    assert {p.instruction for p in seen} >= {FaceInstruction.BLINK}


def test_photo_moved_by_hand_without_blink_is_rejected(photos, blink_frames) -> None:
    cfg = FaceCheckConfig(timeout_s=2.0, timeout_frames=20)
    moving = [synth.jitter(blink_frames[0], 3 * np.sin(i), 2 * np.cos(i), np.sin(i)) for i in range(30)]
    with FaceSession(card(photos, "obama_2"), config=cfg) as session:
        run(session, moving)
    d = decided(session)
    assert not d.accepted and d.reason is FaceRejectReason.NO_BLINK


def turned(rgb: np.ndarray, k: float) -> np.ndarray:
    """A perspective warp about the vertical axis: a rough stand-in for a head turn."""
    h, w = rgb.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = np.float32([[0, k * h], [w, -k * h], [w, h + k * h], [0, h - k * h]])
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def test_yaw_has_opposite_signs_for_a_turned_face_and_its_mirror_image(engine, blink_frames) -> None:
    rgb = turned(cv2.cvtColor(blink_frames[0], cv2.COLOR_BGR2RGB), -0.15)
    values = []
    for image in (rgb, np.ascontiguousarray(rgb[:, ::-1])):
        (box,) = engine.detect(image, 1)
        values.append(yaw(engine.landmarks(image, box)))
    assert values[0] > 0.05 and values[1] < -0.05


# -- refusals ------------------------------------------------------------------------------------


def refusal(photos: dict, frame: np.ndarray) -> FaceProgress:
    with FaceSession(card(photos, "obama_2")) as session:
        progress = session.feed(frame, 0.0)
    assert progress.state is FaceState.SEARCHING
    return progress


def test_two_faces_are_refused(photos) -> None:
    two = synth.load_photo("two_people")
    frame = cv2.copyMakeBorder(two, 52, 52, 0, 0, cv2.BORDER_REPLICATE)
    progress = refusal(photos, frame)
    assert progress.issue is FaceIssue.MULTIPLE_FACES
    assert progress.instruction is FaceInstruction.ONE_PERSON


def test_face_cut_by_the_frame_edge_is_refused(photos) -> None:
    partial = synth.load_photo("obama_partial_face")[:343]  # face and shoulders; cut at the left
    scaled = cv2.resize(partial, None, fx=1.4, fy=1.4, interpolation=cv2.INTER_LINEAR)[:480]
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[: scaled.shape[0], : scaled.shape[1]] = scaled
    progress = refusal(photos, frame)
    assert progress.issue is FaceIssue.PARTIAL and progress.instruction is FaceInstruction.MOVE_TO_CENTRE
    assert progress.box is not None and progress.box.left < 0


def test_no_face_asks_to_look_at_the_camera(photos) -> None:
    frame = np.full((480, 640, 3), 120, np.uint8)
    cv2.rectangle(frame, (200, 100), (400, 300), (60, 90, 200), -1)
    progress = refusal(photos, frame)
    assert progress.issue is FaceIssue.NO_FACE and progress.instruction is FaceInstruction.LOOK_AT_CAMERA


def test_dark_face_asks_for_light(photos) -> None:
    progress = refusal(photos, (frame_of(photos, "obama_1") * 0.2).astype(np.uint8))
    assert progress.issue is FaceIssue.TOO_DARK and progress.instruction is FaceInstruction.MORE_LIGHT


def test_overexposed_frame_is_too_bright(photos) -> None:
    frame = np.clip(frame_of(photos, "obama_1").astype(np.float64) * 2.5 + 60, 0, 255).astype(np.uint8)
    assert refusal(photos, frame).issue is FaceIssue.TOO_BRIGHT


def test_blurred_face_asks_to_hold_still(photos) -> None:
    progress = refusal(photos, cv2.GaussianBlur(frame_of(photos, "obama_1"), (0, 0), 3))
    assert progress.issue is FaceIssue.BLURRED and progress.instruction is FaceInstruction.HOLD_STILL
    assert progress.box is not None  # the face was found, it is just not sharp


def test_small_face_far_away_asks_to_come_closer(photos) -> None:
    progress = refusal(photos, frame_of(photos, "obama_1", face_width=70, centre=(320, 240)))
    assert progress.issue is FaceIssue.TOO_SMALL and progress.instruction is FaceInstruction.MOVE_CLOSER
    assert progress.box is not None  # the outline shows where the face is


@pytest.mark.parametrize("name", ["obama_1", "obama_2", "biden_1", "biden_2"])
def test_faces_of_110_to_130_px_are_compared_not_sent_away(photos, name: str) -> None:
    """The detector's box on the 320-px copy jumps in 20 % steps (a 129-px face measured 124 px);
    the size is measured on the full frame, and a face this size is compared with the card."""
    other = {"obama_1": "obama_2", "obama_2": "obama_1", "biden_1": "biden_2", "biden_2": "biden_1"}[name]
    for width in (110, 130):
        with FaceSession(card(photos, other)) as session:
            seen = run(session, [frame_of(photos, name, face_width=width, centre=(320, 240))] * 3)
        assert all(p.issue is None for p in seen), (width, seen)
        assert seen[-1].distance is not None and seen[-1].distance < FaceCheckConfig().match_threshold


def test_face_off_centre_asks_to_move_to_the_middle(photos) -> None:
    progress = refusal(photos, frame_of(photos, "obama_1", face_width=170, centre=(120, 240)))
    assert progress.issue is FaceIssue.OFF_CENTRE
    assert progress.instruction is FaceInstruction.MOVE_TO_CENTRE


def test_refused_frames_until_time_out_end_as_no_face(photos) -> None:
    dark = (frame_of(photos, "obama_1") * 0.2).astype(np.uint8)
    with FaceSession(card(photos, "obama_2"), config=FaceCheckConfig(timeout_s=1.0, timeout_frames=10)) as session:
        run(session, [dark] * 15)
    d = decided(session)
    assert d.reason is FaceRejectReason.NO_FACE and d.last_issue is FaceIssue.TOO_DARK
    assert d.encodings == 0


# -- speed structure (no timings: those are in bench/bench_face.py) -----------------------------


class SpyEngine:
    """The real engine, counting calls and the image sizes it is given."""

    name = "spy"

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner = inner
        self.detect_widths: list[int] = []
        self.encode_widths: list[int] = []

    def detect(self, rgb: np.ndarray, upsample: int = 1) -> list[Box]:
        self.detect_widths.append(rgb.shape[1])
        return self.inner.detect(rgb, upsample)

    def landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        return self.inner.landmarks(rgb, box)

    def eye_points(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        return self.inner.eye_points(rgb, box)

    def encode(self, rgb: np.ndarray, box: Box) -> np.ndarray:
        self.encode_widths.append(rgb.shape[1])
        return self.inner.encode(rgb, box)


def test_detects_on_small_frames_rarely_and_encodes_card_once(engine, photos, blink_frames) -> None:
    spy = SpyEngine(engine)
    with FaceSession(card(photos, "obama_2"), engine=spy) as session:
        run(session, blink_frames)
    d = decided(session)
    assert d.accepted
    frame_detects = [w for w in spy.detect_widths if w != 204]  # 204 = the card photo enlarged ×2
    assert frame_detects and set(frame_detects) == {FaceCheckConfig().detect_width}
    assert len(frame_detects) < d.frames  # tracked in between
    assert spy.encode_widths.count(204) == 1  # the card photo, once per session
    assert set(spy.encode_widths) - {204} == {640}  # live faces encoded at full resolution


# -- errors and wiping ---------------------------------------------------------------------------


@pytest.mark.parametrize("photo", [np.full((126, 102, 3), 200, np.uint8), np.zeros((126, 102), np.uint8), b"wlt"])
def test_card_photo_without_a_face_is_a_staff_matter(photo) -> None:
    with pytest.raises(FaceCardPhotoError) as info:
        FaceSession(photo)
    assert info.value.recovery is Recovery.STAFF and info.value.code == "face.card_photo"


@pytest.mark.parametrize(
    "bad", [np.zeros((480, 640), np.uint8), np.zeros((480, 640, 3), np.float32), np.zeros((10, 10, 3), np.uint8), None]
)
def test_non_image_frames_raise_a_typed_error(photos, bad) -> None:
    with FaceSession(card(photos, "obama_2")) as session, pytest.raises(FaceFrameError):
        session.feed(bad, 0.0)


def test_close_zeroes_the_biometrics_and_refuses_more_frames(photos, blink_frames) -> None:
    session = FaceSession(card(photos, "obama_2"))
    with session:
        run(session, blink_frames[:3])
        card_encoding = session._card
        assert card_encoding is not None and np.any(card_encoding)
    assert session.closed and not np.any(card_encoding) and session._card is None
    with pytest.raises(FaceSessionClosed):
        session.feed(blink_frames[0], 1.0)
    session.close()  # twice is fine
