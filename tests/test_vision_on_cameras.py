"""Both vision pipelines on the simulated cameras, through the real camera driver.

The card photo comes from the ID-card simulator through the real reader driver; the camera frames
come over MJPEG/HTTP through the real grabber: nothing is handed over in-process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.camera import Camera, CameraSimulator
from devices.document import scan_page
from devices.face import FaceCheckConfig, FaceSession
from devices.face.session import FaceRejectReason
from devices.idcard import IdCardReader, SimulatorPhotoDecoder
from devices.idcard.simulator import IdCardSimulator

ROOT = Path(__file__).resolve().parent
BLINK = ROOT / "data" / "face_sequences" / "blink_obama"


@pytest.fixture(scope="module")
def card_photo() -> object:
    """张三's card (photo: person A) read through the SAM driver from the simulator."""
    with IdCardSimulator(pacing=False) as sim:
        sim.control("insert", card="zhang_san")
        reader = IdCardReader(sim.port, wlt_decoder=SimulatorPhotoDecoder())
        reader.open()
        try:
            read = reader.read_card()
        finally:
            reader.close()
    assert read.photo is not None
    return read.photo


@pytest.fixture
def face_camera() -> Iterator[tuple[CameraSimulator, Camera]]:
    sim = CameraSimulator(fps=10, size=(640, 480), scene="nobody").start()
    cam = Camera(sim.url, name="face_camera")
    cam.start()
    try:
        yield sim, cam
    finally:
        cam.stop()
        sim.stop()


def run_face_check(cam: Camera, card: object, seconds: float) -> object:
    cfg = FaceCheckConfig(timeout_s=seconds)
    with FaceSession(card, config=cfg) as session:
        seq = None
        for _ in range(400):
            frame = cam.wait_frame(after_seq=seq, timeout=5)
            seq = frame.seq
            session.feed(frame.image, frame.timestamp)
            if session.decision is not None:
                return session.decision
    raise AssertionError("no decision")


def test_card_holder_blinking_in_front_of_the_camera_is_accepted(face_camera, card_photo) -> None:
    sim, cam = face_camera
    sim.control("show", path=str(BLINK))
    cam.wait_frame(timeout=5)
    decision = run_face_check(cam, card_photo, seconds=10)
    assert decision.accepted, decision


def test_a_still_picture_of_the_card_holder_is_not_accepted(face_camera, card_photo) -> None:
    sim, cam = face_camera
    sim.control("show", scene="card_holder")
    cam.wait_frame(timeout=5)
    decision = run_face_check(cam, card_photo, seconds=3)
    assert not decision.accepted
    assert decision.reason in (FaceRejectReason.NO_BLINK, FaceRejectReason.STILL_IMAGE)


def test_someone_else_is_rejected(face_camera, card_photo) -> None:
    sim, cam = face_camera
    sim.control("show", scene="other_person")
    cam.wait_frame(timeout=5)
    decision = run_face_check(cam, card_photo, seconds=6)
    assert not decision.accepted and decision.reason == FaceRejectReason.MISMATCH


def test_document_camera_page_is_found_and_straightened() -> None:
    with CameraSimulator(fps=5, size=(2592, 1944), scene="document") as sim:
        cam = Camera(sim.url, name="document_camera", width=2592, height=1944)
        cam.start()
        try:
            frame = cam.wait_frame(timeout=10)
        finally:
            cam.stop()
    assert frame.size == (2592, 1944)
    page = scan_page(frame.image)
    assert page.found, page.fallback_reason
    assert not page.needs_retake, page.quality.reasons
    h, w = page.image.shape[:2]
    assert abs(max(h, w) / min(h, w) - 2 ** 0.5) < 0.03  # an A4 sheet, straightened
