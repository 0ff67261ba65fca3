"""The ZhianTec / Synochip fingerprint packet protocol (ZFM-20, R30x, R503, AS608): pure bytes.

``EF 01 | address 4 | PID 1 | LEN 2 | payload | SUM 2``, big-endian, LEN = payload + 2,
SUM = PID + both LEN bytes + payload, low 16 bits (PROTOCOLS.md section 2). Nothing here touches
a port, so the driver and the simulator share one codec and the fuzz tests can hammer it: bad bytes
give a ``FingerprintProtocolError`` subclass and nothing else.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum

from devices.fingerprint.errors import (
    FingerprintChecksumError,
    FingerprintFrameError,
    FingerprintProtocolError,
    FingerprintUnknownCodeError,
)

START = b"\xef\x01"
HEADER_LEN = 9  # start 2 + address 4 + PID 1 + LEN 2
DEFAULT_ADDRESS = 0xFFFFFFFF
TEMPLATE_SIZE = 512
IMAGE_SIZE = 256 * 288 // 2  # 4 bits per pixel
# The longest packet any host or sensor sends is a 256-byte data packet; a longer LEN is noise.
MAX_PAYLOAD = 256
BAUD_UNIT = 9600


class PacketType(IntEnum):
    COMMAND = 0x01
    DATA = 0x02
    ACK = 0x07
    END_DATA = 0x08


class Instruction(IntEnum):
    GEN_IMG = 0x01
    IMG2TZ = 0x02
    MATCH = 0x03
    SEARCH = 0x04
    REG_MODEL = 0x05
    STORE = 0x06
    LOAD_CHAR = 0x07
    UP_CHAR = 0x08  # template sensor -> host (pyfingerprint calls this "download")
    DOWN_CHAR = 0x09  # template host -> sensor (pyfingerprint calls this "upload")
    UP_IMAGE = 0x0A
    DOWN_IMAGE = 0x0B
    DELETE = 0x0C
    EMPTY = 0x0D
    SET_SYS_PARA = 0x0E
    READ_SYS_PARA = 0x0F
    SET_PWD = 0x12
    VFY_PWD = 0x13
    GET_RANDOM = 0x14
    SET_ADDR = 0x15
    HANDSHAKE = 0x17
    HIGH_SPEED_SEARCH = 0x1B
    TEMPLATE_NUM = 0x1D
    READ_INDEX_TABLE = 0x1F
    AURA_LED = 0x35
    SOFT_RESET = 0x3D
    GET_ECHO = 0x53


class Confirmation(IntEnum):
    OK = 0x00
    PACKET_ERROR = 0x01
    NO_FINGER = 0x02
    IMAGE_FAILED = 0x03
    IMAGE_MESSY = 0x06
    FEW_FEATURES = 0x07
    NO_MATCH = 0x08
    NOT_FOUND = 0x09
    ENROLL_MISMATCH = 0x0A
    BAD_PAGE = 0x0B
    READ_ERROR = 0x0C
    UPLOAD_FAILED = 0x0D
    PACKET_RESPONSE_FAILED = 0x0E
    IMAGE_UPLOAD_FAILED = 0x0F
    DELETE_FAILED = 0x10
    CLEAR_FAILED = 0x11
    WRONG_PASSWORD = 0x13
    INVALID_IMAGE = 0x15
    FLASH_ERROR = 0x18
    INVALID_REGISTER = 0x1A
    ADDRESS_ERROR = 0x20
    PASSWORD_NEEDED = 0x21
    MODULE_OK = 0x55  # GetEcho's answer and the byte sent after a soft reset

    @property
    def meaning(self) -> str:
        return _MEANINGS[self]


_MEANINGS: dict[Confirmation, str] = {
    Confirmation.OK: "ok",
    Confirmation.PACKET_ERROR: "error receiving the packet",
    Confirmation.NO_FINGER: "no finger on the sensor",
    Confirmation.IMAGE_FAILED: "failed to take the finger image",
    Confirmation.IMAGE_MESSY: "image too messy to extract features",
    Confirmation.FEW_FEATURES: "too few feature points in the image",
    Confirmation.NO_MATCH: "templates do not match",
    Confirmation.NOT_FOUND: "no matching template found",
    Confirmation.ENROLL_MISMATCH: "the two captures could not be combined into a template",
    Confirmation.BAD_PAGE: "page number beyond the template library",
    Confirmation.READ_ERROR: "error reading the template from the library, or template invalid",
    Confirmation.UPLOAD_FAILED: "error uploading the template",
    Confirmation.PACKET_RESPONSE_FAILED: "the sensor cannot receive the following data packets",
    Confirmation.IMAGE_UPLOAD_FAILED: "error uploading the image",
    Confirmation.DELETE_FAILED: "failed to delete the template",
    Confirmation.CLEAR_FAILED: "failed to clear the template library",
    Confirmation.WRONG_PASSWORD: "wrong password",
    Confirmation.INVALID_IMAGE: "no valid primary image to generate features from",
    Confirmation.FLASH_ERROR: "error writing the flash",
    Confirmation.INVALID_REGISTER: "invalid register number",
    Confirmation.ADDRESS_ERROR: "address code error",
    Confirmation.PASSWORD_NEEDED: "the password must be verified first",
    Confirmation.MODULE_OK: "module ok",
}


class SysParam(IntEnum):
    """SetSysPara parameter numbers."""

    BAUD = 4  # value N: baud = N x 9600
    SECURITY = 5  # 1..5
    PACKET_SIZE = 6  # code 0..3


PACKET_SIZES = (32, 64, 128, 256)


def packet_size_code(size: int) -> int:
    """The SetSysPara code of a data packet size in bytes."""
    if size not in PACKET_SIZES:
        raise FingerprintFrameError(f"packet size {size} is not one of {PACKET_SIZES}")
    return PACKET_SIZES.index(size)


# -- packets -------------------------------------------------------------------------------------
def checksum(pid: int, payload: bytes) -> int:
    length = len(payload) + 2
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


@dataclass(frozen=True)
class Packet:
    pid: PacketType
    payload: bytes
    address: int = DEFAULT_ADDRESS

    def encode(self) -> bytes:
        return encode_packet(self.pid, self.payload, self.address)


def encode_packet(pid: int, payload: bytes, address: int = DEFAULT_ADDRESS) -> bytes:
    if not 0 <= address <= 0xFFFFFFFF:
        raise FingerprintFrameError(f"address {address:#x} does not fit 4 bytes")
    if len(payload) > 0xFFFF - 2:
        raise FingerprintFrameError(f"payload of {len(payload)} bytes does not fit LEN")
    return (
        START
        + struct.pack(">IBH", address, pid, len(payload) + 2)
        + payload
        + struct.pack(">H", checksum(pid, payload))
    )


def encode_command(instruction: Instruction, params: bytes = b"", address: int = DEFAULT_ADDRESS) -> bytes:
    return encode_packet(PacketType.COMMAND, bytes([instruction]) + params, address)


def encode_ack(
    confirmation: Confirmation, data: bytes = b"", address: int = DEFAULT_ADDRESS
) -> bytes:
    return encode_packet(PacketType.ACK, bytes([confirmation]) + data, address)


@dataclass(frozen=True)
class Header:
    address: int
    pid: PacketType
    length: int  # LEN: payload + 2, i.e. the bytes that follow the 9-byte header


def decode_header(head: bytes) -> Header:
    """Check the 9 header bytes; raise FingerprintFrameError when they cannot start a packet."""
    if len(head) != HEADER_LEN:
        raise FingerprintFrameError(f"header of {len(head)} bytes, expected {HEADER_LEN}")
    if head[:2] != START:
        raise FingerprintFrameError(f"bad start code {head[:2].hex()}")
    address, pid, length = struct.unpack(">IBH", head[2:])
    try:
        ptype = PacketType(pid)
    except ValueError:
        raise FingerprintFrameError(f"unknown packet type {pid:#04x}") from None
    if not 2 <= length <= MAX_PAYLOAD + 2:
        raise FingerprintFrameError(f"bad packet length {length}")
    return Header(address, ptype, length)


def decode_packet(frame: bytes) -> Packet:
    """One complete packet, exactly: header, payload and a matching checksum."""
    header = decode_header(bytes(frame[:HEADER_LEN]))
    if len(frame) != HEADER_LEN + header.length:
        raise FingerprintFrameError(
            f"packet of {len(frame)} bytes, LEN says {HEADER_LEN + header.length}"
        )
    payload = bytes(frame[HEADER_LEN:-2])
    got = int.from_bytes(frame[-2:], "big")
    want = checksum(header.pid, payload)
    if got != want:
        raise FingerprintChecksumError(f"checksum {got:#06x}, computed {want:#06x}")
    return Packet(header.pid, payload, header.address)


class PacketReader:
    """Frames a byte stream into packets, resynchronising on ``EF 01`` after noise.

    ``feed`` never raises: it returns packets and, in order, the protocol errors found, so the
    simulator can answer a corrupted command with "packet error" the way the sensor does.
    Noise (bytes that cannot start a packet) is skipped silently one byte at a time; a packet with
    a plausible header but a bad checksum is dropped whole and reported.
    """

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        return len(self._buf)

    def reset(self) -> None:
        self._buf.clear()

    def feed(self, data: bytes) -> list[Packet | FingerprintProtocolError]:
        self._buf += data
        return list(self._drain())

    def _drain(self) -> Iterator[Packet | FingerprintProtocolError]:
        buf = self._buf
        while True:
            start = buf.find(START)
            if start < 0:
                # Keep a trailing EF: it may be the first half of the next start code.
                del buf[: len(buf) - 1 if buf.endswith(b"\xef") else len(buf)]
                return
            del buf[:start]
            if len(buf) < HEADER_LEN:
                return
            try:
                header = decode_header(bytes(buf[:HEADER_LEN]))
            except FingerprintFrameError:
                del buf[:1]
                continue
            total = HEADER_LEN + header.length
            if len(buf) < total:
                return
            frame = bytes(buf[:total])
            try:
                packet = decode_packet(frame)
            except FingerprintProtocolError as exc:
                del buf[:total]
                yield exc
                continue
            del buf[:total]
            yield packet


# -- acknowledgements ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Ack:
    confirmation: Confirmation
    data: bytes = b""

    @property
    def ok(self) -> bool:
        return self.confirmation is Confirmation.OK


def decode_ack(packet: Packet) -> Ack:
    if packet.pid is not PacketType.ACK:
        raise FingerprintFrameError(f"expected an acknowledge packet, got {packet.pid.name}")
    if not packet.payload:
        raise FingerprintFrameError("acknowledge packet without a confirmation code")
    try:
        code = Confirmation(packet.payload[0])
    except ValueError:
        raise FingerprintUnknownCodeError(f"unknown confirmation code {packet.payload[0]:#04x}") from None
    return Ack(code, packet.payload[1:])


def _u16(data: bytes, offset: int, what: str) -> int:
    if len(data) < offset + 2:
        raise FingerprintFrameError(f"{what}: answer too short ({len(data)} bytes)")
    return int.from_bytes(data[offset : offset + 2], "big")


def decode_score(ack: Ack) -> int:
    """Match's answer: the score (2 bytes)."""
    return _u16(ack.data, 0, "match score")


def decode_search(ack: Ack) -> tuple[int, int]:
    """Search's answer: (page, score)."""
    return _u16(ack.data, 0, "search page"), _u16(ack.data, 2, "search score")


def decode_count(ack: Ack) -> int:
    """TemplateNum's answer: the number of stored templates."""
    return _u16(ack.data, 0, "template count")


def decode_index_table(ack: Ack, index_page: int) -> list[int]:
    """ReadIndexTable's 32-byte bitmap: bit b of byte i is page index_page*256 + i*8 + b."""
    if len(ack.data) < 32:
        raise FingerprintFrameError(f"index table of {len(ack.data)} bytes, expected 32")
    return [
        index_page * 256 + i * 8 + bit
        for i, byte in enumerate(ack.data[:32])
        for bit in range(8)
        if byte >> bit & 1
    ]


def encode_index_table(pages: set[int], index_page: int) -> bytes:
    table = bytearray(32)
    for page in pages:
        rel = page - index_page * 256
        if 0 <= rel < 256:
            table[rel // 8] |= 1 << (rel % 8)
    return bytes(table)


# -- system parameters ---------------------------------------------------------------------------
STATUS_BUSY = 1 << 0
STATUS_PASS = 1 << 1
STATUS_PASSWORD_VERIFIED = 1 << 2
STATUS_IMAGE_VALID = 1 << 3


@dataclass(frozen=True)
class SystemParameters:
    status_register: int
    system_id: int
    capacity: int
    security_level: int
    address: int
    packet_size_code: int  # 0..3
    baud_multiplier: int  # N, baud = N x 9600

    @property
    def packet_size(self) -> int:
        return PACKET_SIZES[self.packet_size_code]

    @property
    def baudrate(self) -> int:
        return self.baud_multiplier * BAUD_UNIT

    @property
    def password_verified(self) -> bool:
        return bool(self.status_register & STATUS_PASSWORD_VERIFIED)

    def encode(self) -> bytes:
        return struct.pack(
            ">HHHHIHH",
            self.status_register,
            self.system_id,
            self.capacity,
            self.security_level,
            self.address,
            self.packet_size_code,
            self.baud_multiplier,
        )


def decode_sys_para(data: bytes) -> SystemParameters:
    """ReadSysPara's 16 bytes after the confirmation code."""
    if len(data) < 16:
        raise FingerprintFrameError(f"system parameters of {len(data)} bytes, expected 16")
    status, system_id, capacity, security, address, size_code, baud_n = struct.unpack(
        ">HHHHIHH", data[:16]
    )
    if size_code >= len(PACKET_SIZES):
        raise FingerprintFrameError(f"packet size code {size_code} is not 0..3")
    return SystemParameters(status, system_id, capacity, security, address, size_code, baud_n)


# -- data packets --------------------------------------------------------------------------------
def split_data(data: bytes, packet_size: int) -> list[tuple[PacketType, bytes]]:
    """Cut a template or image into data packets, the last one marked END_DATA."""
    if packet_size not in PACKET_SIZES:
        raise FingerprintFrameError(f"packet size {packet_size} is not one of {PACKET_SIZES}")
    chunks = [data[i : i + packet_size] for i in range(0, len(data), packet_size)] or [b""]
    return [
        (PacketType.END_DATA if i == len(chunks) - 1 else PacketType.DATA, chunk)
        for i, chunk in enumerate(chunks)
    ]


def encode_data(data: bytes, packet_size: int, address: int = DEFAULT_ADDRESS) -> bytes:
    return b"".join(encode_packet(pid, chunk, address) for pid, chunk in split_data(data, packet_size))


class DataAssembler:
    """Joins data packets until the END_DATA one; the same on both ends of the wire."""

    def __init__(self, limit: int = IMAGE_SIZE) -> None:
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self.done = False

    def add(self, packet: Packet) -> bool:
        """Add one packet; True when it was the last one."""
        if packet.pid not in (PacketType.DATA, PacketType.END_DATA):
            raise FingerprintFrameError(f"expected a data packet, got {packet.pid.name}")
        if self.done:
            raise FingerprintFrameError("data packet after the last one")
        self._size += len(packet.payload)
        if self._size > self.limit:
            raise FingerprintFrameError(f"more than {self.limit} bytes of data")
        self._parts.append(packet.payload)
        self.done = packet.pid is PacketType.END_DATA
        return self.done

    def data(self) -> bytes:
        return b"".join(self._parts)


def join_data(packets: list[Packet], limit: int = IMAGE_SIZE) -> bytes:
    """The data of a complete run of data packets ending with END_DATA."""
    assembler = DataAssembler(limit)
    for packet in packets:
        assembler.add(packet)
    if not assembler.done:
        raise FingerprintFrameError("data packets without the last (END_DATA) one")
    return assembler.data()
