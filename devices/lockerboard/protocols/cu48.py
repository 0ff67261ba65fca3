"""CU48-style locker boards (PROTOCOLS.md section 3; node-pc ``libs/control-unit-lock``).

Request  ``02 | board | lock | cmd | 03 | SUM`` — cmd 61 open, 60 status (lock 00 for status).
Answer   ``02 | board | lock | 75 | n | n data bytes | SUM`` — n = 0 for the open answer,
n = 6 for the status answer (48 door bits, bit = 1 closed). SUM = low byte of the sum of all
preceding bytes. Byte 4 of an answer is its data length (node-pc reads it that way), which is
what makes one framing rule serve both answers.

Bit order of the status bitmap (node-pc ``cu.protocol.ts``): lock ``i`` (0-based on the wire) is
bit ``i % 8`` (least significant bit first) of data byte ``i // 8``; so bit 0 of the first data
byte is lock 0. node-pc numbers locks from 1 in its API and subtracts 1 before encoding.
"""

from __future__ import annotations

from typing import ClassVar

from devices.lockerboard.errors import LockerChecksumError, LockerFrameError
from devices.lockerboard.messages import (
    Answer,
    DoorState,
    OpenAnswer,
    OpenRequest,
    Request,
    StatusAnswer,
    StatusRequest,
)
from devices.lockerboard.protocols.base import BoardProtocol, sum8

STX = 0x02
ETX = 0x03
CMD_STATUS = 0x60
CMD_OPEN = 0x61
ACK = 0x75  # "success" in node-pc
NAK = 0x00  # "failure" in node-pc's constants; never seen in an example frame
BITMAP_BYTES = 6
LOCKS = 48


class Cu48Protocol(BoardProtocol):
    name: ClassVar[str] = "cu48"
    locks_per_board: ClassVar[int] = LOCKS
    default_baudrate: ClassVar[int] = 9600
    start_byte: ClassVar[int] = STX
    answer_header_length: ClassVar[int] = 5
    request_header_length: ClassVar[int] = 6

    # -- framing ------------------------------------------------------------------------------
    def answer_length(self, header: bytes) -> int:
        if len(header) < self.answer_header_length or header[0] != STX:
            raise LockerFrameError(f"not a CU48 answer header: {header.hex(' ')}")
        n = header[4]
        if n not in (0, BITMAP_BYTES):
            raise LockerFrameError(f"CU48 answer with data length {n} (only 0 or 6 exist)")
        return 6 + n

    def request_length(self, header: bytes) -> int:
        return 6

    # -- host side ----------------------------------------------------------------------------
    def encode_open(self, board: int, lock: int) -> bytes:
        self.check_address(board, lock)
        return _frame(STX, board, lock, CMD_OPEN, ETX)

    def encode_status(self, board: int) -> bytes:
        self.check_address(board)
        return _frame(STX, board, 0, CMD_STATUS, ETX)

    def parse_answer(self, frame: bytes) -> Answer:
        if len(frame) < 6:
            raise LockerFrameError(f"CU48 answer too short ({len(frame)} bytes)")
        length = self.answer_length(frame[:5])
        if len(frame) != length:
            raise LockerFrameError(f"CU48 answer is {len(frame)} bytes, its header says {length}")
        _check_sum(frame)
        board, lock, status, n = frame[1], frame[2], frame[3], frame[4]
        if n == 0:
            if status not in (ACK, NAK):
                raise LockerFrameError(f"CU48 open answer with unknown status {status:02x}")
            if lock >= LOCKS:
                raise LockerFrameError(f"CU48 open answer for lock {lock}")
            return OpenAnswer(board=board, lock=lock, accepted=status == ACK)
        if status != ACK:
            raise LockerFrameError(f"CU48 status answer with status {status:02x}")
        return StatusAnswer(board=board, doors=bitmap_to_doors(frame[5 : 5 + BITMAP_BYTES]))

    # -- board side ---------------------------------------------------------------------------
    def parse_request(self, frame: bytes) -> Request:
        if len(frame) != 6:
            raise LockerFrameError(f"CU48 request is {len(frame)} bytes, not 6")
        if frame[0] != STX or frame[4] != ETX:
            raise LockerFrameError(f"CU48 request without 02 … 03: {frame.hex(' ')}")
        _check_sum(frame)
        board, lock, cmd = frame[1], frame[2], frame[3]
        if cmd == CMD_OPEN:
            if lock >= LOCKS:
                raise LockerFrameError(f"CU48 open for lock {lock}")
            return OpenRequest(board=board, lock=lock)
        if cmd == CMD_STATUS:
            return StatusRequest(board=board)
        raise LockerFrameError(f"CU48 request with unknown command {cmd:02x}")

    def encode_open_answer(self, answer: OpenAnswer) -> bytes:
        self.check_address(answer.board, answer.lock)
        return _frame(STX, answer.board, answer.lock, ACK if answer.accepted else NAK, 0)

    def encode_status_answer(self, answer: StatusAnswer) -> bytes:
        self.check_address(answer.board)
        return _frame(STX, answer.board, 0, ACK, BITMAP_BYTES, *doors_to_bitmap(answer.doors))


def bitmap_to_doors(bitmap: bytes) -> dict[int, DoorState]:
    """LSB-first bitmap (bit = 1 closed) → state of each of the 48 locks."""
    doors: dict[int, DoorState] = {}
    for i in range(len(bitmap) * 8):
        closed = (bitmap[i // 8] >> (i % 8)) & 1
        doors[i] = DoorState.CLOSED if closed else DoorState.OPEN
    return doors


def doors_to_bitmap(doors: dict[int, DoorState]) -> bytes:
    """Inverse of ``bitmap_to_doors``; locks not listed count as closed (the sensor's rest state)."""
    out = bytearray(BITMAP_BYTES)
    for i in range(LOCKS):
        if doors.get(i, DoorState.CLOSED) is DoorState.CLOSED:
            out[i // 8] |= 1 << (i % 8)
    return bytes(out)


def _frame(*body: int) -> bytes:
    data = bytes(body)
    return data + bytes([sum8(data)])


def _check_sum(frame: bytes) -> None:
    want = sum8(frame[:-1])
    if frame[-1] != want:
        raise LockerChecksumError(f"CU48 SUM {frame[-1]:02x}, expected {want:02x}: {frame.hex(' ')}")
