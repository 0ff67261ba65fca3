"""The face check on the simulated face camera, as the vision tests run it: card photos read through
the real ID-card reader driver, frames over MJPEG/HTTP through the real camera driver."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import numpy as np

from devices.camera import Camera, CameraSimulator
from devices.face import FaceCheckConfig, FaceSession
from devices.face.session import FaceDecision
from devices.idcard import IdCardReader, SimulatorPhotoDecoder
from devices.idcard.simulator import IdCardSimulator


def card_photos(cards: Iterable[str]) -> dict[str, np.ndarray]:
    """Each card's photo as the reader driver delivers it from the ID card simulator."""
    photos = {}
    with IdCardSimulator(pacing=False) as sim:
        reader = IdCardReader(sim.port, wlt_decoder=SimulatorPhotoDecoder())
        reader.open()
        try:
            for card in cards:
                sim.control("insert", card=card)
                read = reader.read_card()
                assert read.photo is not None, card
                photos[card] = read.photo
        finally:
            reader.close()
    return photos


@contextlib.contextmanager
def face_camera_simulator() -> Iterator[tuple[CameraSimulator, Camera]]:
    """The camera simulator (showing nobody) and the real driver reading it, first frame in."""
    sim = CameraSimulator(fps=10, size=(640, 480), scene="nobody").start()
    cam = Camera(sim.url, name="face_camera")
    cam.start()
    try:
        cam.wait_frame(timeout=10)
        yield sim, cam
    finally:
        cam.stop()
        sim.stop()


def run_face_check(cam: Camera, card_photo: np.ndarray, seconds: float) -> FaceDecision:
    """Feed the camera's new frames to a face session until it decides (time-out ``seconds``)."""
    with FaceSession(card_photo, config=FaceCheckConfig(timeout_s=seconds)) as session:
        seq = None
        for _ in range(400):
            frame = cam.wait_frame(after_seq=seq, timeout=5)
            seq = frame.seq
            session.feed(frame.image, frame.timestamp)
            if session.decision is not None:
                return session.decision
    raise AssertionError("no decision")
