"""Pure codecs of the PC/SC path: APDUs for the card UID, contactless ATRs, and vpcd's framing.

Nothing here touches pcscd or a socket, so the driver and the virtual card share one definition of
every byte and the parsers can be fed random bytes in tests. Bad bytes raise ``PcscProtocolError``
only.

Facts used (PROTOCOLS.md section 4 and the sources named there):
- ``FF CA 00 00 00`` is the PC/SC part 3 pseudo-APDU "Get Data: UID" that a contactless reader
  answers itself with the UID + ``90 00``.
- Chinese resident ID cards (ISO 14443 type B) answer REQB with ``50 00000000 D103860C 008080``:
  their PUPI is all zeros, so the usable serial is the 8 bytes the card returns for the
  proprietary ``00 36 00 00 08``.
- A PC/SC reader builds the ATR of a contactless card as ``3B 8n 80 01`` + n historical bytes + TCK
  (XOR of every byte after ``3B``): for storage cards the historical bytes name the card (PC/SC
  part 3 supplement: RID ``A0 00 00 03 06``, standard 03 = ISO 14443 A part 3, card 00 01 = MIFARE
  Classic 1K); for type B cards they are ATQB application data (4) + protocol info (3) + MBLI|0.
- vpcd frames: 2-byte big-endian length + payload; a 1-byte payload is a control code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, IntEnum

from devices.pcsc.errors import PcscProtocolError

GET_UID = bytes.fromhex("FFCA000000")
IDCARD_GET_SERIAL = bytes.fromhex("0036000008")

SW_OK = 0x9000
SW_FUNCTION_NOT_SUPPORTED = 0x6A81  # a pseudo-APDU the reader does not implement
SW_INS_NOT_SUPPORTED = 0x6D00

#: PC/SC part 3 ATR of a MIFARE Classic 1K, as an ACR122U or any PC/SC-compliant reader reports it.
MIFARE_CLASSIC_1K_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
#: ATQB fields of a Chinese resident ID card (application data, protocol info) and MBLI|0.
IDCARD_ATQB_APP_DATA = bytes.fromhex("D103860C")
IDCARD_ATQB_PROTOCOL_INFO = bytes.fromhex("008080")
IDCARD_MBLI = 0x00

_MAX_FRAME = 0xFFFF


class CardKind(Enum):
    """What the ATR says the card is; decides which UID command the driver sends."""

    MIFARE_CLASSIC_1K = "mifare_classic_1k"
    STORAGE = "storage"  # another PC/SC part 3 storage card (Ultralight, Classic 4K, ...)
    IDCARD = "idcard"  # ISO 14443 type B with the Chinese resident ID card's ATQB
    ISO14443_4 = "iso14443_4"  # any other contactless processor card
    UNKNOWN = "unknown"


def contactless_atr(historical: bytes) -> bytes:
    """The ATR a PC/SC reader builds for a contactless card with these historical bytes."""
    if not 0 < len(historical) <= 15:
        raise PcscProtocolError(f"an ATR holds 1..15 historical bytes, not {len(historical)}")
    body = bytes([0x80 | len(historical), 0x80, 0x01]) + historical
    tck = 0
    for b in body:
        tck ^= b
    return b"\x3b" + body + bytes([tck])


def idcard_atr() -> bytes:
    """ATR of a Chinese resident ID card on a PC/SC reader (type B rule of PC/SC part 3)."""
    return contactless_atr(IDCARD_ATQB_APP_DATA + IDCARD_ATQB_PROTOCOL_INFO + bytes([IDCARD_MBLI]))


def classify_atr(atr: bytes) -> CardKind:
    """Name the card from its ATR; unknown layouts give ``UNKNOWN``, never an error."""
    atr = bytes(atr)
    if len(atr) < 5 or atr[0] != 0x3B or atr[2:4] != b"\x80\x01":
        return CardKind.UNKNOWN
    n = atr[1] & 0x0F
    if atr[1] & 0xF0 != 0x80 or len(atr) != 4 + n + 1:
        return CardKind.UNKNOWN
    hist = atr[4 : 4 + n]
    tck = 0
    for b in atr[1:]:
        tck ^= b
    if tck != 0:
        return CardKind.UNKNOWN
    if hist[:3] == b"\x80\x4f\x0c" and n == 15 and hist[3:8] == bytes.fromhex("A000000306"):
        return CardKind.MIFARE_CLASSIC_1K if hist[8:11] == b"\x03\x00\x01" else CardKind.STORAGE
    if n == 8 and hist[:4] == IDCARD_ATQB_APP_DATA:
        return CardKind.IDCARD
    return CardKind.ISO14443_4


@dataclass(frozen=True)
class ResponseApdu:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK


def parse_response(raw: bytes) -> ResponseApdu:
    """Split a response APDU into data and status word."""
    raw = bytes(raw)
    if len(raw) < 2:
        raise PcscProtocolError(f"response APDU of {len(raw)} bytes has no status word")
    return ResponseApdu(raw[:-2], (raw[-2] << 8) | raw[-1])


def build_response(data: bytes, sw: int) -> bytes:
    return bytes(data) + bytes([(sw >> 8) & 0xFF, sw & 0xFF])


def uid_hex(uid: bytes) -> str:
    """The form every caller gets: upper-case hex without separators."""
    return bytes(uid).hex().upper()


# -- vpcd wire -------------------------------------------------------------------------------


class VpcdControl(IntEnum):
    POWER_OFF = 0
    POWER_ON = 1
    RESET = 2
    ATR = 4


VpcdMessage = VpcdControl | bytes  # a control code, or a command APDU


def encode_frame(payload: bytes) -> bytes:
    """Frame one vpcd message. Empty payloads are refused: vpcd reads them as the card leaving."""
    if not payload or len(payload) > _MAX_FRAME:
        raise PcscProtocolError(f"vpcd payload must be 1..65535 bytes, not {len(payload)}")
    return len(payload).to_bytes(2, "big") + bytes(payload)


def decode_message(payload: bytes) -> VpcdMessage:
    """A 1-byte payload is a control code; anything longer is a command APDU."""
    if not payload:
        raise PcscProtocolError("empty vpcd message")
    if len(payload) == 1:
        try:
            return VpcdControl(payload[0])
        except ValueError:
            raise PcscProtocolError(f"unknown vpcd control code {payload[0]:#04x}") from None
    if len(payload) < 4:
        raise PcscProtocolError(f"command APDU of {len(payload)} bytes is shorter than its header")
    return bytes(payload)


class VpcdFrameDecoder:
    """Reassembles vpcd frames from a TCP byte stream that may split or join them anywhere."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while len(self._buf) >= 2:
            size = int.from_bytes(self._buf[:2], "big")
            if len(self._buf) < 2 + size:
                break
            out.append(bytes(self._buf[2 : 2 + size]))
            del self._buf[: 2 + size]
        return out

    @property
    def pending(self) -> int:
        return len(self._buf)
