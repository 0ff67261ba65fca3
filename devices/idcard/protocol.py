"""The SAM module's serial frames (PROTOCOLS.md section 1): pure bytes in, typed messages out.

Frame, both directions: ``AA AA AA 96 69 | LEN (2, BE) | body | CHK``. LEN counts the body and
CHK; CHK is the XOR of both LEN bytes and every body byte. Request bodies are ``CMD PARA [data]``,
answers ``SW1 SW2 SW3 [data]``. Every function here raises only ``IdCardProtocolError`` (or one of
its subclasses) for bad bytes, so a fuzzer may throw anything at it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum, IntEnum

from devices.idcard.errors import (
    IdCardChecksumError,
    IdCardLengthError,
    IdCardProtocolError,
    IdCardRecordError,
)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_SIZE = len(PREAMBLE) + 2
MIN_LEN = 3  # a bare command: CMD PARA CHK
# The longest answer is 30 10 (LEN 0x090A); anything much bigger is line noise, and refusing it
# early lets the reader resync instead of waiting for kilobytes that never come.
MAX_LEN = 0x0A00

TEXT_SIZE = 256
PHOTO_SIZE = 1024
FINGERPRINT_SIZE = 1024
ADDRESS_SIZE = 70
SAM_ID_SIZE = 16
CARD_SERIAL_SIZE = 8
FIND_EXTRA_SIZE = 4


def checksum(len_and_body: bytes) -> int:
    """XOR of the LEN bytes and the body (the preamble is not included)."""
    value = 0
    for b in len_and_body:
        value ^= b
    return value


def encode_frame(body: bytes) -> bytes:
    """Wrap a request or answer body into a complete frame."""
    length = len(body) + 1
    if not MIN_LEN <= length <= 0xFFFF:
        raise IdCardLengthError(f"body of {len(body)} bytes cannot be framed")
    head = struct.pack(">H", length) + body
    return PREAMBLE + head + bytes([checksum(head)])


def decode_frame(frame: bytes) -> bytes:
    """Check one complete frame and return its body (without CHK)."""
    if len(frame) < HEADER_SIZE + MIN_LEN or not frame.startswith(PREAMBLE):
        raise IdCardProtocolError(f"not a SAM frame: {frame[:12].hex(' ')}")
    length = int.from_bytes(frame[5:7], "big")
    if length < MIN_LEN or length != len(frame) - HEADER_SIZE:
        raise IdCardLengthError(f"LEN {length} does not match a {len(frame)}-byte frame")
    if checksum(frame[5:-1]) != frame[-1]:
        raise IdCardChecksumError(
            f"checksum {frame[-1]:02X} != {checksum(frame[5:-1]):02X} in a {len(frame)}-byte frame"
        )
    return bytes(frame[HEADER_SIZE:-1])


class FrameReader:
    """Cuts a byte stream into frame bodies, resynchronising on the preamble after noise.

    ``wanted()`` says how many more bytes are certainly needed, so the driver reads exactly a frame
    and never swallows the start of a later one. A bad frame raises from ``next_frame()`` once and
    is dropped; the reader then carries on with the bytes after it.
    """

    def __init__(self, max_len: int = MAX_LEN) -> None:
        self.max_len = max_len
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def _sync(self) -> bool:
        """Drop bytes before the first preamble; True when the buffer now starts with one."""
        i = self._buf.find(PREAMBLE)
        if i >= 0:
            del self._buf[:i]
            return True
        # keep a tail that may be the start of a preamble split across reads
        keep = _partial_preamble(self._buf)
        del self._buf[: len(self._buf) - keep]
        return False

    def wanted(self) -> int:
        if not self._sync():
            return len(PREAMBLE) - _partial_preamble(self._buf)
        if len(self._buf) < HEADER_SIZE:
            return HEADER_SIZE - len(self._buf)
        length = int.from_bytes(self._buf[5:7], "big")
        if not MIN_LEN <= length <= self.max_len:
            return 1  # next_frame() reports it and resyncs
        return max(1, HEADER_SIZE + length - len(self._buf))

    def next_frame(self) -> bytes | None:
        """The next complete frame's body, None when more bytes are needed."""
        if not self._sync() or len(self._buf) < HEADER_SIZE:
            return None
        length = int.from_bytes(self._buf[5:7], "big")
        if not MIN_LEN <= length <= self.max_len:
            del self._buf[:1]  # resync on a later preamble
            raise IdCardLengthError(f"impossible LEN {length}")
        end = HEADER_SIZE + length
        if len(self._buf) < end:
            return None
        frame = bytes(self._buf[:end])
        del self._buf[:end]
        return decode_frame(frame)


def _partial_preamble(buf: bytes | bytearray) -> int:
    """Length of the longest tail of ``buf`` that is a proper prefix of the preamble."""
    for n in range(min(len(PREAMBLE) - 1, len(buf)), 0, -1):
        if buf[-n:] == PREAMBLE[:n]:
            return n
    return 0


# -- requests -------------------------------------------------------------------------------------


class Command(Enum):
    """(CMD, PARA) pairs of the SAM module; SET_BAUD's PARA is the baud index."""

    SAM_RESET = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND = (0x20, 0x01)
    SELECT = (0x20, 0x02)
    READ_TEXT_PHOTO = (0x30, 0x01)
    READ_NEWEST_ADDRESS = (0x30, 0x03)
    READ_TEXT_PHOTO_FINGERPRINT = (0x30, 0x10)
    SET_BAUD = (0x60, None)

    @property
    def cmd(self) -> int:
        return self.value[0]


BAUD_CODES: dict[int, int] = {115200: 0x00, 57600: 0x01, 38400: 0x02, 19200: 0x03, 9600: 0x04}
BAUD_BY_CODE = {code: baud for baud, code in BAUD_CODES.items()}


@dataclass(frozen=True)
class Request:
    command: Command
    para: int

    def body(self) -> bytes:
        return bytes([self.command.cmd, self.para])

    def encode(self) -> bytes:
        return encode_frame(self.body())

    @property
    def baudrate(self) -> int | None:
        """For SET_BAUD: the baud rate asked for (None for an unknown code)."""
        return BAUD_BY_CODE.get(self.para) if self.command is Command.SET_BAUD else None


def request(command: Command) -> Request:
    if command is Command.SET_BAUD:
        raise IdCardProtocolError("SET_BAUD needs a baud rate: use set_baud_request()")
    para = command.value[1]
    assert para is not None
    return Request(command, para)


def set_baud_request(baudrate: int) -> Request:
    if baudrate not in BAUD_CODES:
        raise IdCardProtocolError(f"the SAM module cannot run at {baudrate} baud")
    return Request(Command.SET_BAUD, BAUD_CODES[baudrate])


def parse_request(body: bytes) -> Request:
    """A host's request body (for the simulator); unknown commands are a protocol error."""
    if len(body) != 2:
        raise IdCardLengthError(f"a request body has 2 bytes, not {len(body)}")
    cmd, para = body[0], body[1]
    for command in Command:
        if command.cmd != cmd:
            continue
        if command is Command.SET_BAUD or command.value[1] == para:
            return Request(command, para)
    raise IdCardProtocolError(f"unknown command {cmd:02X} {para:02X}", code="idcard.bad_command")


# -- answers --------------------------------------------------------------------------------------


class Sw3(IntEnum):
    """The SAM module's status byte."""

    OK = 0x90
    CARD_FOUND = 0x9F
    FIELD_EMPTY = 0x91
    CHECKSUM_ERROR = 0x10
    LENGTH_ERROR = 0x11
    BAD_COMMAND = 0x21
    UNAUTHORISED = 0x23
    UNKNOWN_ERROR = 0x24
    CARD_CANNOT_AUTH_SAM = 0x31
    SAM_CANNOT_AUTH_CARD = 0x32
    VERIFICATION_ERROR = 0x33
    UNKNOWN_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    RANDOM_NUMBER_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    FIND_FAILED = 0x80
    SELECT_FAILED = 0x81

    @property
    def meaning(self) -> str:
        return _SW3_MEANINGS[self]

    @property
    def ok(self) -> bool:
        return self in (Sw3.OK, Sw3.CARD_FOUND)

    @classmethod
    def parse(cls, text: str | int) -> Sw3:
        """From a name (``read_failed``), hex text (``41``, ``0x41``) or an int (simulator panel)."""
        if isinstance(text, int):
            return cls(text)
        name = text.strip().upper().replace("-", "_")
        if name in cls.__members__:
            return cls[name]
        return cls(int(name, 16))


_SW3_MEANINGS = {
    Sw3.OK: "OK",
    Sw3.CARD_FOUND: "card found",
    Sw3.FIELD_EMPTY: "field empty",
    Sw3.CHECKSUM_ERROR: "the reader received a frame with a bad checksum",
    Sw3.LENGTH_ERROR: "the reader received a frame with a bad length",
    Sw3.BAD_COMMAND: "bad command",
    Sw3.UNAUTHORISED: "unauthorised operation",
    Sw3.UNKNOWN_ERROR: "unknown error",
    Sw3.CARD_CANNOT_AUTH_SAM: "the card could not authenticate the SAM",
    Sw3.SAM_CANNOT_AUTH_CARD: "the SAM could not authenticate the card",
    Sw3.VERIFICATION_ERROR: "verification error",
    Sw3.UNKNOWN_CARD_TYPE: "unknown card type",
    Sw3.READ_FAILED: "reading the card failed",
    Sw3.RANDOM_NUMBER_FAILED: "getting a random number failed",
    Sw3.SAM_SELF_TEST_FAILED: "SAM self-test failed",
    Sw3.SAM_NOT_AUTHORISED: "SAM not authorised",
    Sw3.FIND_FAILED: "find card failed (no card)",
    Sw3.SELECT_FAILED: "select card failed",
}


@dataclass(frozen=True)
class Response:
    sw3: Sw3
    data: bytes = b""

    def body(self) -> bytes:
        return bytes([0, 0, self.sw3]) + self.data

    def encode(self) -> bytes:
        return encode_frame(self.body())


def parse_response(body: bytes) -> Response:
    if len(body) < 3:
        raise IdCardLengthError(f"an answer body has at least 3 bytes, not {len(body)}")
    if body[0] != 0 or body[1] != 0:
        raise IdCardProtocolError(f"SW1 SW2 = {body[0]:02X} {body[1]:02X}, expected 00 00")
    try:
        sw3 = Sw3(body[2])
    except ValueError:
        raise IdCardProtocolError(f"unknown SW3 {body[2]:02X}", code="idcard.unknown_status") from None
    return Response(sw3, bytes(body[3:]))


def _expect_size(resp: Response, size: int, what: str) -> bytes:
    if len(resp.data) != size:
        raise IdCardLengthError(f"{what} answer has {len(resp.data)} data bytes, expected {size}")
    return resp.data


# Typed payloads. Each ``parse_*`` takes a successful Response; the driver turns failure SW3s into
# errors before calling them.


def parse_find(resp: Response) -> None:
    _expect_size(resp, FIND_EXTRA_SIZE, "find")


def parse_select(resp: Response) -> bytes:
    """The card serial (8 bytes) the select answer carries."""
    return _expect_size(resp, CARD_SERIAL_SIZE, "select")


def parse_newest_address(resp: Response) -> str:
    data = _expect_size(resp, ADDRESS_SIZE, "newest address")
    return decode_ucs2(data)


def decode_ucs2(data: bytes) -> str:
    """UCS-2LE text right-padded with spaces (some modules pad with NULs)."""
    try:
        text = bytes(data).decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise IdCardRecordError(f"text is not UCS-2: {exc.reason}") from None
    return text.rstrip(" \x00")


@dataclass(frozen=True)
class SamId:
    """The 16-byte SAM (security module) number, shown as e.g. ``05.01-20200101-0000012345-0123456789``."""

    raw: bytes

    def __str__(self) -> str:
        # Layout after HslCommunication's ExtractSafeModuleNumber: two 2-byte fields, three
        # little-endian 32-bit numbers (the last two zero-padded to 9+ digits).
        a, b = self.raw[0], self.raw[2]
        n1, n2, n3 = struct.unpack("<III", self.raw[4:16])
        return f"{a:02d}.{b:02d}-{n1}-{n2:09d}-{n3:09d}"

    @classmethod
    def from_parts(cls, a: int, b: int, n1: int, n2: int, n3: int) -> SamId:
        return cls(bytes([a, 0, b, 0]) + struct.pack("<III", n1, n2, n3))


def parse_sam_id(resp: Response) -> SamId:
    return SamId(_expect_size(resp, SAM_ID_SIZE, "SAM id"))


@dataclass(frozen=True)
class CardData:
    """The raw blocks of a read answer; ``records.decode_text`` turns ``text`` into a record."""

    text: bytes
    photo: bytes
    fingerprint: bytes | None = None


def parse_card_data(resp: Response, *, with_fingerprint: bool) -> CardData:
    """``text len | photo len [| fp len] | text | photo [| fp]`` with lengths big-endian."""
    data = resp.data
    n_lengths = 3 if with_fingerprint else 2
    if len(data) < 2 * n_lengths:
        raise IdCardLengthError(f"read answer too short ({len(data)} bytes)")
    lengths = [int.from_bytes(data[2 * i : 2 * i + 2], "big") for i in range(n_lengths)]
    text_len, photo_len = lengths[0], lengths[1]
    fp_len = lengths[2] if with_fingerprint else 0
    if text_len != TEXT_SIZE or photo_len != PHOTO_SIZE or fp_len not in (0, FINGERPRINT_SIZE):
        raise IdCardLengthError(f"unexpected block lengths {lengths}")
    pos = 2 * n_lengths
    if len(data) != pos + text_len + photo_len + fp_len:
        raise IdCardLengthError(
            f"read answer has {len(data)} data bytes, lengths announce {pos + text_len + photo_len + fp_len}"
        )
    text = data[pos : pos + text_len]
    photo = data[pos + text_len : pos + text_len + photo_len]
    fingerprint = data[pos + text_len + photo_len :] if with_fingerprint and fp_len else None
    return CardData(bytes(text), bytes(photo), bytes(fingerprint) if fingerprint is not None else None)


def card_data_payload(card: CardData, *, with_fingerprint: bool) -> bytes:
    """The simulator's side of ``parse_card_data``."""
    if len(card.text) != TEXT_SIZE or len(card.photo) != PHOTO_SIZE:
        raise IdCardLengthError("text must be 256 bytes and photo 1024 bytes")
    out = struct.pack(">HH", TEXT_SIZE, PHOTO_SIZE)
    fp = card.fingerprint if with_fingerprint else None
    if with_fingerprint:
        if fp is not None and len(fp) != FINGERPRINT_SIZE:
            raise IdCardLengthError("fingerprint must be 1024 bytes")
        out += struct.pack(">H", len(fp) if fp else 0)
    out += card.text + card.photo
    if fp:
        out += fp
    return out
