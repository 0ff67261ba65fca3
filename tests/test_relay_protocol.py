"""LCUS relay codec: the literal switch frames, the ASCII status answer, round-trips, fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.errors import ProtocolError
from devices.relay import RelayChecksumError, RelayConfigError, RelayError, RelayFrameError
from devices.relay.protocol import (
    SwitchCommand,
    encode_status_answer,
    encode_switch,
    parse_status_answer,
    parse_switch,
    status_answer_length,
)


def test_literal_switch_frames() -> None:
    assert encode_switch(1, True) == bytes.fromhex("A0 01 01 A2")
    assert encode_switch(1, False) == bytes.fromhex("A0 01 00 A1")
    assert encode_switch(2, True) == bytes.fromhex("A0 02 01 A3")


def test_status_answer_literal_and_fixed_length() -> None:
    data = encode_status_answer([True, False])
    assert data == b"CH1: ON \r\nCH2: OFF\r\n"
    assert len(data) == status_answer_length(2)
    assert parse_status_answer(data) == {1: True, 2: False}


@given(st.integers(1, 8), st.booleans())
def test_switch_round_trip(channel: int, on: bool) -> None:
    assert parse_switch(encode_switch(channel, on)) == SwitchCommand(channel, on)


@given(st.lists(st.booleans(), min_size=1, max_size=8))
def test_status_round_trip(states: list[bool]) -> None:
    assert parse_status_answer(encode_status_answer(states)) == dict(enumerate(states, 1))


def test_bad_frames_and_channels() -> None:
    with pytest.raises(RelayChecksumError):
        parse_switch(bytes.fromhex("A0 01 01 A1"))
    with pytest.raises(RelayFrameError):
        parse_switch(bytes.fromhex("A0 01 02 A3"))
    with pytest.raises(RelayFrameError):
        parse_status_answer(b"CH1: MAYBE\r\n")
    with pytest.raises(RelayConfigError):
        encode_switch(9, True)


@settings(max_examples=300)
@given(st.binary(max_size=24))
def test_fuzz_parsers_raise_only_their_own_errors(data: bytes) -> None:
    for fn in (parse_switch, parse_status_answer):
        try:
            fn(data)
        except ProtocolError as exc:
            assert isinstance(exc, RelayError)


@given(st.lists(st.booleans(), min_size=1, max_size=8), st.data())
def test_truncated_status_answers_are_frame_errors(states: list[bool], data: st.DataObject) -> None:
    answer = encode_status_answer(states)
    cut = data.draw(st.integers(0, len(answer) - 1))
    if cut % 10 == 0 and cut > 0:
        return  # a cut exactly between lines is a valid shorter answer
    with pytest.raises(RelayFrameError):
        parse_status_answer(answer[:cut])
