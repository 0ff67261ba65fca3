"""Random and truncated bytes into every ID-card parser: only the protocol's own errors come out."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.idcard.errors import IdCardProtocolError, WltDecodeError
from devices.idcard.protocol import (
    FrameReader,
    Response,
    Sw3,
    decode_frame,
    encode_frame,
    parse_card_data,
    parse_find,
    parse_newest_address,
    parse_request,
    parse_response,
    parse_sam_id,
    parse_select,
)
from devices.idcard.records import decode_text
from devices.idcard.sample_cards import sample_cards
from devices.idcard.wlt import SIM_MAGIC, SimulatorPhotoDecoder

FAST = settings(max_examples=150, deadline=None)
PRE = b"\xaa\xaa\xaa\x96\x69"
frames = st.builds(lambda b: encode_frame(b), st.binary(min_size=2, max_size=40))


@FAST
@given(st.binary(max_size=64))
def test_decode_frame(data: bytes) -> None:
    with contextlib.suppress(IdCardProtocolError):
        decode_frame(data)


@FAST
@given(st.one_of(st.binary(max_size=40), frames.map(lambda f: f[:-1]), frames.map(lambda f: PRE + f[5:9])))
def test_decode_frame_prefixed_and_truncated(data: bytes) -> None:
    with contextlib.suppress(IdCardProtocolError):
        decode_frame(PRE + data[5:] if data.startswith(PRE) else data)


@FAST
@given(st.lists(st.one_of(st.binary(max_size=20), frames), max_size=8), st.integers(1, 17))
def test_frame_reader_never_hangs_or_leaks(chunks: list[bytes], step: int) -> None:
    stream = b"".join(chunks)
    reader = FrameReader()
    for i in range(0, len(stream), step):
        reader.feed(stream[i : i + step])
        for _ in range(len(stream) + 2):  # bounded: each call consumes or returns None
            try:
                body = reader.next_frame()
            except IdCardProtocolError:
                continue
            if body is None:
                break
        assert reader.wanted() >= 1


@FAST
@given(frames)
def test_every_valid_frame_comes_out_of_noise(frame: bytes) -> None:
    reader = FrameReader()
    reader.feed(b"\x96\xaa\x69\xaa" + frame)
    assert reader.next_frame() == frame[7:-1]


@FAST
@given(st.binary(max_size=2400), st.booleans())
def test_answer_parsers(body: bytes, with_fp: bool) -> None:
    for parser in (
        parse_find,
        parse_select,
        parse_newest_address,
        parse_sam_id,
        lambda r: parse_card_data(r, with_fingerprint=with_fp),
    ):
        with contextlib.suppress(IdCardProtocolError):
            parser(parse_response(body))
        with contextlib.suppress(IdCardProtocolError):
            parser(Response(Sw3.OK, body))


@FAST
@given(st.binary(max_size=8))
def test_parse_request(body: bytes) -> None:
    with contextlib.suppress(IdCardProtocolError):
        parse_request(body)


@FAST
@given(st.binary(min_size=256, max_size=256))
def test_decode_text_random(block: bytes) -> None:
    with contextlib.suppress(IdCardProtocolError):
        decode_text(block)


@FAST
@given(st.sampled_from(list(sample_cards().values())), st.integers(0, 255), st.integers(0, 255), st.integers(0, 256))
def test_decode_text_mutated_and_truncated(card, pos: int, value: int, cut: int) -> None:
    block = bytearray(card.record.encode())
    block[pos] = value
    with contextlib.suppress(IdCardProtocolError):
        decode_text(bytes(block[:cut]) if cut < 256 else bytes(block))


@FAST
@given(
    st.one_of(
        st.binary(max_size=1100),
        st.binary(min_size=1014, max_size=1014).map(lambda b: SIM_MAGIC + b"\x03\xf0" + b),
    )
)
def test_simulator_photo_decoder(field: bytes) -> None:
    with contextlib.suppress(WltDecodeError):
        SimulatorPhotoDecoder().decode(field)
