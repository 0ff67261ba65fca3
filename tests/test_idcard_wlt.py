"""Photo decoders: the simulator's photo keeps the face recognisable; the vendor path via ctypes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest

from devices.idcard.errors import WltDecodeError, WltDecoderMissing
from devices.idcard.sample_cards import PHOTOS
from devices.idcard.wlt import (
    PHOTO_COLS,
    PHOTO_ROWS,
    NoWltDecoder,
    SimulatorPhotoDecoder,
    VendorWltDecoder,
    encode_sim_photo,
    load_photo,
)

FACES = Path(__file__).parent / "data" / "faces"


def test_prepared_crops_are_card_sized() -> None:
    for name in ("obama_1", "obama_2", "biden_1", "biden_2"):
        assert load_photo(PHOTOS / f"{name}.png").shape == (PHOTO_ROWS, PHOTO_COLS, 3)


def test_sim_photo_fits_and_round_trips() -> None:
    crop = load_photo(PHOTOS / "obama_1.png")
    field = encode_sim_photo(crop)
    assert len(field) == 1024
    img = SimulatorPhotoDecoder().decode(field)
    assert img.shape == (126, 102, 3) and img.dtype == np.uint8
    # close to the original pixel for pixel (a flipped or channel-swapped image is far off)
    assert np.abs(img.astype(int) - crop.astype(int)).mean() < 20


def test_sim_photo_still_matches_its_person_and_not_the_other() -> None:
    fr = pytest.importorskip("face_recognition")

    def encoding(img: np.ndarray, upsample: int) -> np.ndarray:
        rgb = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        boxes = fr.face_locations(rgb, number_of_times_to_upsample=upsample)
        assert boxes, "no face found"
        return fr.face_encodings(rgb, known_face_locations=boxes[:1])[0]

    card_a = encoding(SimulatorPhotoDecoder().decode(encode_sim_photo(load_photo(PHOTOS / "obama_1.png"))), 2)
    card_b = encoding(SimulatorPhotoDecoder().decode(encode_sim_photo(load_photo(PHOTOS / "biden_1.png"))), 2)

    def live(name: str) -> np.ndarray:  # a camera-sized frame, small enough to be quick
        img = cv2.imread(str(FACES / name))
        scale = 480 / max(img.shape[:2])
        return encoding(cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA), 1)

    live_a, live_b = live("obama_2.jpg"), live("biden_2.jpg")
    assert fr.face_distance([live_a], card_a)[0] < 0.6
    assert fr.face_distance([live_b], card_b)[0] < 0.6
    assert fr.face_distance([live_b], card_a)[0] > 0.6
    assert fr.face_distance([live_a], card_b)[0] > 0.6


def test_no_decoder_says_so() -> None:
    with pytest.raises(WltDecoderMissing) as err:
        NoWltDecoder().decode(bytes(1024))
    assert err.value.recovery.value == "maintenance"
    with pytest.raises(WltDecoderMissing):
        VendorWltDecoder("/nonexistent/libwlt2bmp.so").decode(bytes(1024))


def test_simulator_decoder_refuses_real_wlt() -> None:
    with pytest.raises(WltDecodeError):
        SimulatorPhotoDecoder().decode(b"WLf" + bytes(1021))


FAKE_LIB = r"""
/* Stand-in for a vendor libwlt2bmp.so: RGB, bottom-up rows, 1 = success. Pixel (row r from the
   top, col c) = (R=r, G=c, B=wlt[0]); the call fails with -1 when wlt[1] is 0xEE. */
int unpack(char *wlt, char *out, int save) {
    if ((unsigned char)wlt[1] == 0xEE) return -1;
    for (int r = 0; r < 126; r++)
        for (int c = 0; c < 102; c++) {
            unsigned char *p = (unsigned char *)out + ((125 - r) * 102 + c) * 3;
            p[0] = r; p[1] = c; p[2] = wlt[0];
        }
    return 1;
}
"""


@pytest.fixture(scope="module")
def fake_vendor_lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler for the stand-in vendor library")
    d = tmp_path_factory.mktemp("wlt")
    (d / "fake.c").write_text(FAKE_LIB)
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(d / "libwlt2bmp.so"), str(d / "fake.c")], check=True)
    return d / "libwlt2bmp.so"


def test_vendor_decoder_orients_rgb_bottom_up_output(fake_vendor_lib: Path) -> None:
    img = VendorWltDecoder(fake_vendor_lib).decode(bytes([200]) + bytes(1023))
    assert img.shape == (126, 102, 3)
    # BGR top-down: blue from wlt[0], green = column, red = row from the top
    assert tuple(img[0, 0]) == (200, 0, 0)
    assert tuple(img[125, 101]) == (200, 101, 125)
    assert tuple(img[10, 20]) == (200, 20, 10)


def test_vendor_decoder_other_settings_and_failure(fake_vendor_lib: Path) -> None:
    raw = VendorWltDecoder(fake_vendor_lib, channel_order="BGR", bottom_up=False).decode(bytes([9]) + bytes(1023))
    assert tuple(raw[0, 0]) == (125, 0, 9)  # taken as it is
    with pytest.raises(WltDecodeError):
        VendorWltDecoder(fake_vendor_lib).decode(b"\x00\xee" + bytes(1022))
    with pytest.raises(WltDecodeError):
        VendorWltDecoder(fake_vendor_lib).decode(bytes(10))
    with pytest.raises(WltDecoderMissing):
        VendorWltDecoder(fake_vendor_lib, symbol="no_such_function").load()
