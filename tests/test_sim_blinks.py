"""Every prepared ID card's holder can blink in front of the simulated face camera and pass.

Real parts only: each card photo is read from the ID card simulator through the real reader driver,
the blink is played by the camera simulator as an MJPEG stream read by the real camera driver, and
the decision is the real dlib face check (``devices.face.FaceSession``). The blink shown for a card
is the same person recorded from ANOTHER photo of them (card obama_1 → blink_obama_2), so the face
match is a real one; another person's blink must be rejected as a mismatch.
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from camera_support import card_photos as read_card_photos
from camera_support import face_camera_simulator, run_face_check

from devices.camera import Camera, CameraSimulator
from devices.camera.scenes import ASSETS, BLINK_FOLDERS, PERSON_OF_PHOTO, SCENES, build_scene
from devices.face import FaceCheckConfig, default_engine, mean_ear
from devices.face.session import FaceDecision, FaceRejectReason
from devices.idcard.sample_cards import sample_cards
from kiosk.panel.control import card_blink_scenes

warnings.filterwarnings("ignore", message="pkg_resources is deprecated")

DATA = Path(__file__).parent / "data"
BLINK_SCENES = card_blink_scenes()
WITH_FACE = sorted(name for name, scene in BLINK_SCENES.items() if scene is not None)


def _person_of_scene(scene: str) -> str:
    return PERSON_OF_PHOTO[scene.removeprefix("blink_")]


def _card_photo_stem(card: str) -> str:
    return Path(str(sample_cards()[card].photo)).stem


def test_every_prepared_card_with_a_real_face_has_the_same_person_blinking_from_another_photo() -> None:
    cards = sample_cards()
    real_faces = sorted(n for n, c in cards.items() if Path(str(c.photo)).stem in PERSON_OF_PHOTO)
    assert len(real_faces) >= 2 and real_faces == WITH_FACE  # the others' buttons say "no face photo"
    for card in WITH_FACE:
        scene, stem = BLINK_SCENES[card], _card_photo_stem(card)
        assert scene in SCENES, card
        assert _person_of_scene(scene) == PERSON_OF_PHOTO[stem], card
        assert scene != f"blink_{stem}", f"{card}: the blink is made from the card's own photo"
    assert {_person_of_scene(s) for s in BLINK_SCENES.values() if s} == {"A", "B"}


def test_synth_regenerates_every_blink_scene_folder() -> None:
    spec = importlib.util.spec_from_file_location("face_synth", DATA / "face_sequences" / "synth.py")
    assert spec is not None and spec.loader is not None
    synth = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(synth)
    written = {(name, out.resolve()) for name, out, _quality, _gain in synth.SEQUENCES}
    for scene, folder in BLINK_FOLDERS.items():
        assert (scene.removeprefix("blink_"), (ASSETS / folder).resolve()) in written, scene
        files = sorted((ASSETS / folder).glob("*.jpg"))
        assert len(files) == len(synth.BLINK_SCRIPT), scene
        assert sum(f.stat().st_size for f in files) < 800_000, scene  # small JPEG frames


@pytest.mark.parametrize("scene", sorted(BLINK_FOLDERS))
def test_the_shut_frames_measure_shut_in_dlib(scene: str) -> None:
    """The session's own rule: an EAR below (1 - blink_drop) × the open level (its 80th percentile)."""
    engine = default_engine()
    ears = []
    for frame in build_scene(scene):
        ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])  # as the simulator sends it
        rgb = cv2.cvtColor(cv2.imdecode(jpeg, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        (box,) = engine.detect(rgb, 1)
        ears.append(mean_ear(engine.landmarks(rgb, box)))
    ears_arr = np.array(ears)
    shut = ears_arr[[5, 6]]  # synth.BLINK_SCRIPT: frames 5 and 6 are shut, 4 and 7 half
    open_ = ears_arr[[0, 1, 2, 3, 8, 9, 10, 11]]
    open_level = np.percentile(open_, 80)
    assert shut.max() < (1 - FaceCheckConfig().blink_drop) * open_level * 0.98, (scene, ears)
    assert open_.min() > 0.8 * open_level, (scene, ears)


@pytest.fixture(scope="module")
def card_photos() -> dict[str, np.ndarray]:
    """Every prepared card's photo as the reader driver delivers it from the ID card simulator."""
    return read_card_photos(WITH_FACE)


@pytest.fixture(scope="module")
def face_camera() -> Iterator[tuple[CameraSimulator, Camera]]:
    with face_camera_simulator() as camera:
        yield camera


def face_check(face_camera: tuple[CameraSimulator, Camera], card_photo: np.ndarray, scene: str) -> FaceDecision:
    """Show ``scene`` and run the face check on the camera's frames until it decides."""
    sim, cam = face_camera
    sim.control("show", scene=scene)
    time.sleep(0.3)  # let the frames of the previous scene drain
    return run_face_check(cam, card_photo, seconds=10)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("card", WITH_FACE)
def test_the_card_holders_blink_is_accepted(face_camera, card_photos, card: str) -> None:  # type: ignore[no-untyped-def]
    decision = face_check(face_camera, card_photos[card], BLINK_SCENES[card] or "")
    assert decision.accepted, (card, decision)
    assert decision.distance is not None and decision.distance < FaceCheckConfig().match_threshold


@pytest.mark.timeout(120)
@pytest.mark.parametrize("card", WITH_FACE)
def test_another_identitys_blink_is_rejected_as_a_mismatch(face_camera, card_photos, card: str) -> None:  # type: ignore[no-untyped-def]
    holder = _person_of_scene(BLINK_SCENES[card] or "")
    other = next(n for n in WITH_FACE if _person_of_scene(BLINK_SCENES[n] or "") != holder)
    decision = face_check(face_camera, card_photos[card], BLINK_SCENES[other] or "")
    assert not decision.accepted, (card, other, decision)
    assert decision.reason == FaceRejectReason.MISMATCH, (card, other, decision)
