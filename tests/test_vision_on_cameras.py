"""Both vision pipelines on the simulated cameras, through the real camera driver.

The card photo comes from the ID-card simulator through the real reader driver; the camera frames
come over MJPEG/HTTP through the real grabber: nothing is handed over in-process.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from camera_support import card_photos, face_camera_simulator, run_face_check

from devices.camera import Camera, CameraSimulator
from devices.document import scan_page
from devices.face.session import FaceRejectReason

ROOT = Path(__file__).resolve().parent
BLINK = ROOT / "data" / "face_sequences" / "blink_obama"


@pytest.fixture(scope="module")
def card_photo() -> np.ndarray:
    """张三's card (photo: person A) read through the SAM driver from the simulator."""
    return card_photos(["zhang_san"])["zhang_san"]


@pytest.fixture
def face_camera() -> Iterator[tuple[CameraSimulator, Camera]]:
    with face_camera_simulator() as camera:
        yield camera


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
