"""The interface every locker-board protocol implements, so a new board family is ONE file.

A protocol is a pure codec for both ends of the wire: the driver uses the host side (encode
requests, frame and parse answers) and the simulator uses the board side (frame and parse
requests, encode answers), so both speak exactly the same bytes. Framing is described by a start
byte plus a fixed-size header from which the whole frame length follows; that covers fixed-length
families (CU48, Kerong) and length-byte families (WKLY).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import ClassVar

from devices.lockerboard.errors import LockerAddressError
from devices.lockerboard.messages import Answer, OpenAnswer, Request, StatusAnswer


class BoardProtocol(ABC):
    """One family of locker control boards."""

    name: ClassVar[str]
    locks_per_board: ClassVar[int]
    max_board: ClassVar[int] = 255
    default_baudrate: ClassVar[int] = 9600
    # Pulse boards release the latch for a moment and hold no output; "all outputs off" is then
    # simply the board's power-on state and nothing needs sending at start-up.
    latched_outputs: ClassVar[bool] = False

    # -- framing (both directions) ------------------------------------------------------------
    start_byte: ClassVar[int]
    answer_header_length: ClassVar[int]
    request_header_length: ClassVar[int]

    @abstractmethod
    def answer_length(self, header: bytes) -> int:
        """Total answer length from its first ``answer_header_length`` bytes (or LockerFrameError)."""

    @abstractmethod
    def request_length(self, header: bytes) -> int:
        """Total request length from its first ``request_header_length`` bytes (or LockerFrameError)."""

    # -- host side ----------------------------------------------------------------------------
    @abstractmethod
    def encode_open(self, board: int, lock: int) -> bytes: ...

    @abstractmethod
    def encode_status(self, board: int) -> bytes: ...

    @abstractmethod
    def parse_answer(self, frame: bytes) -> Answer:
        """One complete answer frame → message; only LockerFrameError/LockerChecksumError escape."""

    # -- board side (simulator) ---------------------------------------------------------------
    @abstractmethod
    def parse_request(self, frame: bytes) -> Request: ...

    @abstractmethod
    def encode_open_answer(self, answer: OpenAnswer) -> bytes: ...

    @abstractmethod
    def encode_status_answer(self, answer: StatusAnswer) -> bytes: ...

    # -- shared checks ------------------------------------------------------------------------
    def check_address(self, board: int, lock: int | None = None) -> None:
        """Refuse numbers that cannot be put on the wire, before anything is sent."""
        if not 0 <= board <= self.max_board:
            raise LockerAddressError(f"board {board} is outside 0..{self.max_board} for {self.name}")
        if lock is not None and not 0 <= lock < self.locks_per_board:
            raise LockerAddressError(
                f"lock {lock} is outside 0..{self.locks_per_board - 1} for {self.name}"
            )


def sum8(data: Sequence[int] | bytes) -> int:
    """Low byte of the sum of all bytes: the SUM check of CU48 and Kerong frames."""
    return sum(data) & 0xFF
