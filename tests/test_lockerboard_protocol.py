"""CU48 codec against the literal frames of PROTOCOLS.md section 3, round-trips and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import ProtocolError
from devices.lockerboard import (
    Cu48Protocol,
    DoorState,
    LockerAddressError,
    LockerChecksumError,
    LockerConfigError,
    LockerFrameError,
    OpenAnswer,
    OpenRequest,
    StatusAnswer,
    StatusRequest,
    get_protocol,
)
from devices.lockerboard.errors import LockerError

CU48 = Cu48Protocol()


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def test_literal_request_frames() -> None:
    assert CU48.encode_open(0, 0) == h("02 00 00 61 03 66")
    assert CU48.encode_status(0) == h("02 00 00 60 03 65")
    # SUM = low byte of the sum: 02+01+2f+61+03 = 0x96
    assert CU48.encode_open(1, 47) == h("02 01 2f 61 03 96")


def test_literal_answers_parse() -> None:
    # open answer "02 board lock 75 00 SUM": 02+00+00+75+00 = 77
    assert CU48.parse_answer(h("02 00 00 75 00 77")) == OpenAnswer(0, 0, accepted=True)
    # status: board 0, bitmap all closed except lock 0 and lock 47 open
    frame = h("02 00 00 75 06 fe ff ff ff ff 7f")
    frame += bytes([sum(frame) & 0xFF])
    answer = CU48.parse_answer(frame)
    assert isinstance(answer, StatusAnswer)
    assert len(answer.doors) == 48
    assert [i for i, d in answer.doors.items() if d is DoorState.OPEN] == [0, 47]


def test_bit_order_is_lsb_first_lock0_in_bit0_of_first_byte() -> None:
    # node-pc's own example: first data byte 01 → (its 1-based) lock 1 = our lock 0 closed.
    doors = {i: DoorState.OPEN for i in range(48)}
    doors[0] = DoorState.CLOSED
    doors[9] = DoorState.CLOSED  # second byte, bit 1
    frame = CU48.encode_status_answer(StatusAnswer(3, doors))
    assert frame[:5] == h("02 03 00 75 06")
    assert frame[5:11] == h("01 02 00 00 00 00")
    assert frame[11] == sum(frame[:11]) & 0xFF


def test_round_trips_both_directions() -> None:
    for board, lock in [(0, 0), (1, 17), (255, 47)]:
        assert CU48.parse_request(CU48.encode_open(board, lock)) == OpenRequest(board, lock)
        assert CU48.parse_request(CU48.encode_status(board)) == StatusRequest(board)
        for accepted in (True, False):
            ans = OpenAnswer(board, lock, accepted)
            assert CU48.parse_answer(CU48.encode_open_answer(ans)) == ans


@given(st.integers(0, 255), st.lists(st.booleans(), min_size=48, max_size=48))
def test_status_round_trip(board: int, closed: list[bool]) -> None:
    doors = {i: DoorState.CLOSED if c else DoorState.OPEN for i, c in enumerate(closed)}
    assert CU48.parse_answer(CU48.encode_status_answer(StatusAnswer(board, doors))) == StatusAnswer(board, doors)


def test_bad_frames_raise_typed_protocol_errors() -> None:
    with pytest.raises(LockerChecksumError):
        CU48.parse_answer(h("02 00 00 75 00 78"))
    with pytest.raises(LockerFrameError):
        CU48.parse_answer(h("02 00 00 75 03 00 00 00 7a"))  # data length 3 does not exist
    with pytest.raises(LockerFrameError):
        CU48.parse_answer(h("02 00 00 75"))
    with pytest.raises(LockerFrameError):
        CU48.parse_request(h("02 00 00 62 03 67"))  # unknown command
    with pytest.raises(LockerChecksumError):
        CU48.parse_request(h("02 00 00 61 03 67"))


def test_addresses_outside_the_board_are_refused_before_encoding() -> None:
    with pytest.raises(LockerAddressError):
        CU48.encode_open(0, 48)
    with pytest.raises(LockerAddressError):
        CU48.encode_status(256)
    with pytest.raises(LockerConfigError):
        get_protocol("no-such-board")


@settings(max_examples=300)
@given(st.binary(max_size=20))
def test_fuzz_answer_parser_only_raises_its_own_errors(data: bytes) -> None:
    try:
        CU48.parse_answer(data)
    except ProtocolError as exc:
        assert isinstance(exc, LockerError)


@settings(max_examples=300)
@given(st.binary(max_size=12))
def test_fuzz_request_parser_and_framer(data: bytes) -> None:
    for fn in (CU48.parse_request, CU48.answer_length):
        try:
            fn(data)
        except ProtocolError as exc:
            assert isinstance(exc, LockerError)


@given(st.integers(0, 255), st.integers(0, 47), st.data())
def test_truncated_valid_frames_are_frame_errors(board: int, lock: int, data: st.DataObject) -> None:
    frame = CU48.encode_status_answer(StatusAnswer(board, {lock: DoorState.OPEN}))
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(LockerFrameError):
        CU48.parse_answer(frame[:cut])
