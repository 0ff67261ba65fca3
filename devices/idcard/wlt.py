"""Card photo decoders: the 1024-byte photo field → a 126 × 102 BGR image, top row first.

The card stores the photo in the proprietary WLT format; no open decoder exists, so the driver
uses whichever ``WltDecoder`` the configuration names: ``VendorWltDecoder`` for a vendor's
``libwlt2bmp.so``, or ``SimulatorPhotoDecoder`` in simulator mode. The simulator's photo field is
not WLT: it is ``SIMPHOTO`` + a 2-byte length + a WebP image, because a JPEG's ~620-byte header
leaves too few bytes for a face that still matches its owner (WebP fits at quality ~15-25).
The driver never asks which one it has.
"""

from __future__ import annotations

import ctypes
import logging
import threading
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from devices.idcard.errors import WltDecodeError, WltDecoderMissing
from devices.idcard.protocol import PHOTO_SIZE

log = logging.getLogger(__name__)

PHOTO_ROWS = 126
PHOTO_COLS = 102
RAW_SIZE = PHOTO_ROWS * PHOTO_COLS * 3  # 38 556
_BMP_SIZE = 14 + 40 + PHOTO_ROWS * 308  # 38 862: a whole .bmp with 4-byte row padding
WLT_MAGIC = b"WLf"  # first bytes of real WLT data, as vendor wrappers check them

SIM_MAGIC = b"SIMPHOTO"
_SIM_HEADER = len(SIM_MAGIC) + 2


class WltDecoder(ABC):
    """Turns the card's photo field into pixels."""

    name = "decoder"

    @abstractmethod
    def decode(self, wlt: bytes) -> np.ndarray:
        """A uint8 array of shape (126, 102, 3), BGR, top row first; raises WltDecodeError."""


class NoWltDecoder(WltDecoder):
    """Stands in when no decoder is configured, so the reason reaches the screen and the log."""

    name = "none"

    def decode(self, wlt: bytes) -> np.ndarray:
        raise WltDecoderMissing("no card photo decoder is configured (set the vendor libwlt2bmp.so path)")


class VendorWltDecoder(WltDecoder):
    """A vendor's shared library, called through ctypes.

    Assumed C signature (Linux SDKs of Synjones/ZKTeco/Huashi readers, e.g. the JNI wrappers that
    call it as ``unpack(wlt, bmp, 0)`` and test ``== 1``)::

        int unpack(char *wlt_1024, char *out_38556, int save_bmp);   /* 1 = success */

    ``out`` is 102 × 126 × 3 bytes without row padding. Sources disagree on channel order and row
    direction (PROTOCOLS.md: BGR bottom-up; those wrappers swap R/B before writing a BMP, i.e. the
    buffer is RGB, bottom-up), so both are settings. A library that writes a whole .bmp (38 862
    bytes, ``BM`` header) into ``out`` is detected and read as a BMP. ``symbol`` names another entry
    point with the same signature (e.g. ``wlt2bmp``) and ``ok_codes`` its success values.
    """

    name = "vendor"

    def __init__(
        self,
        library_path: str | Path,
        *,
        symbol: str = "unpack",
        channel_order: str = "RGB",
        bottom_up: bool = True,
        ok_codes: tuple[int, ...] = (1,),
        flag: int = 0,
    ) -> None:
        if channel_order not in ("RGB", "BGR"):
            raise WltDecoderMissing(f"channel_order must be RGB or BGR, not {channel_order!r}")
        self.library_path = str(library_path)
        self.symbol = symbol
        self.channel_order = channel_order
        self.bottom_up = bottom_up
        self.ok_codes = ok_codes
        self.flag = flag
        self._fn: ctypes._CFuncPtr | None = None  # type: ignore[name-defined]
        # vendor decoders are rarely re-entrant
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the library now (at start-up) so a bad path is reported before the first resident."""
        if self._fn is not None:
            return
        try:
            lib = ctypes.CDLL(self.library_path)
            fn = getattr(lib, self.symbol)
        except (OSError, AttributeError) as exc:
            raise WltDecoderMissing(f"cannot load {self.symbol}() from {self.library_path}: {exc}") from exc
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
        fn.restype = ctypes.c_int
        self._fn = fn

    def decode(self, wlt: bytes) -> np.ndarray:
        if len(wlt) != PHOTO_SIZE:
            raise WltDecodeError(f"photo field has {len(wlt)} bytes, expected {PHOTO_SIZE}")
        self.load()
        assert self._fn is not None
        src = ctypes.create_string_buffer(bytes(wlt), PHOTO_SIZE)
        out = ctypes.create_string_buffer(_BMP_SIZE + 1024)  # room for libraries that write a BMP
        with self._lock:
            rc = self._fn(src, out, self.flag)
        if rc not in self.ok_codes:
            raise WltDecodeError(f"{self.symbol}() returned {rc}")
        return self._pixels(out.raw)

    def _pixels(self, raw: bytes) -> np.ndarray:
        if raw[:2] == b"BM":
            img = cv2.imdecode(np.frombuffer(raw[:_BMP_SIZE], np.uint8), cv2.IMREAD_COLOR)
            if img is None or img.shape[:2] != (PHOTO_ROWS, PHOTO_COLS):
                raise WltDecodeError("decoder wrote an unreadable BMP")
            return img
        img = np.frombuffer(raw[:RAW_SIZE], np.uint8).reshape(PHOTO_ROWS, PHOTO_COLS, 3)
        if self.bottom_up:
            img = img[::-1]
        if self.channel_order == "RGB":
            img = img[:, :, ::-1]
        return np.ascontiguousarray(img)


class SimulatorPhotoDecoder(WltDecoder):
    """Decodes the simulator's photo field (``SIMPHOTO`` + length + WebP)."""

    name = "simulator"

    def decode(self, wlt: bytes) -> np.ndarray:
        if len(wlt) != PHOTO_SIZE or not wlt.startswith(SIM_MAGIC):
            raise WltDecodeError("photo field is not a simulator photo (a real WLT needs the vendor decoder)")
        size = int.from_bytes(wlt[len(SIM_MAGIC) : _SIM_HEADER], "big")
        if size == 0 or _SIM_HEADER + size > PHOTO_SIZE:
            raise WltDecodeError("simulator photo length is out of range")
        img = cv2.imdecode(np.frombuffer(wlt[_SIM_HEADER : _SIM_HEADER + size], np.uint8), cv2.IMREAD_COLOR)
        if img is None or img.shape != (PHOTO_ROWS, PHOTO_COLS, 3):
            raise WltDecodeError("simulator photo does not decode to 102 × 126 pixels")
        return img


def encode_sim_photo(image: np.ndarray) -> bytes:
    """Squeeze a BGR image into the simulator's 1024-byte photo field at the best WebP quality
    that fits (a face stays recognisable at the qualities this reaches)."""
    img = image
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[:2] != (PHOTO_ROWS, PHOTO_COLS):
        img = cv2.resize(img, (PHOTO_COLS, PHOTO_ROWS), interpolation=cv2.INTER_AREA)
    room = PHOTO_SIZE - _SIM_HEADER
    lo, hi, best = 1, 100, b""
    while lo <= hi:  # binary search on quality: size grows with it
        q = (lo + hi) // 2
        ok, buf = cv2.imencode(".webp", img, [cv2.IMWRITE_WEBP_QUALITY, q])
        if ok and len(buf) <= room:
            best, lo = buf.tobytes(), q + 1
        else:
            hi = q - 1
    if not best:
        raise WltDecodeError("photo does not fit the 1024-byte field even at the lowest quality")
    field = SIM_MAGIC + len(best).to_bytes(2, "big") + best
    return field + bytes(PHOTO_SIZE - len(field))


def load_photo(source: str | Path | np.ndarray) -> np.ndarray:
    """A photo from a file path or an array, as a 126 × 102 BGR image."""
    if isinstance(source, np.ndarray):
        img = source
    else:
        img = cv2.imread(str(source), cv2.IMREAD_COLOR)
        if img is None:
            raise WltDecodeError(f"cannot read photo {source}")
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[:2] != (PHOTO_ROWS, PHOTO_COLS):
        # centre-crop to the card's 102:126 aspect first, so a camera photo is not squashed
        h, w = img.shape[:2]
        if w * PHOTO_ROWS > h * PHOTO_COLS:
            cw = h * PHOTO_COLS // PHOTO_ROWS
            img = img[:, (w - cw) // 2 : (w - cw) // 2 + cw]
        else:
            ch = w * PHOTO_ROWS // PHOTO_COLS
            img = img[(h - ch) // 2 : (h - ch) // 2 + ch]
        img = cv2.resize(img, (PHOTO_COLS, PHOTO_ROWS), interpolation=cv2.INTER_AREA)
    return img
