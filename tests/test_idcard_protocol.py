"""SAM frame codec against the literal frames of PROTOCOLS.md section 1, plus round trips."""

from __future__ import annotations

import pytest

from devices.idcard.errors import IdCardChecksumError, IdCardLengthError, IdCardProtocolError
from devices.idcard.protocol import (
    CardData,
    Command,
    FrameReader,
    Response,
    SamId,
    Sw3,
    card_data_payload,
    decode_frame,
    encode_frame,
    parse_card_data,
    parse_request,
    parse_response,
    parse_sam_id,
    request,
    set_baud_request,
)

PRE = "AA AA AA 96 69 "


def h(text: str) -> bytes:
    return bytes.fromhex(text)


@pytest.mark.parametrize(
    ("command", "frame"),
    [
        (Command.FIND, "00 03 20 01 22"),
        (Command.SELECT, "00 03 20 02 21"),
        (Command.READ_TEXT_PHOTO, "00 03 30 01 32"),
        (Command.READ_TEXT_PHOTO_FINGERPRINT, "00 03 30 10 23"),
        (Command.READ_NEWEST_ADDRESS, "00 03 30 03 30"),
        (Command.SAM_RESET, "00 03 10 FF EC"),
        (Command.SAM_STATUS, "00 03 11 FF ED"),
        (Command.SAM_ID, "00 03 12 FF EE"),
    ],
)
def test_requests_are_the_documented_bytes(command: Command, frame: str) -> None:
    assert request(command).encode() == h(PRE + frame)
    assert parse_request(decode_frame(h(PRE + frame))).command is command


def test_set_baud_codes() -> None:
    assert set_baud_request(9600).encode() == encode_frame(b"\x60\x04")
    assert set_baud_request(115200).body() == b"\x60\x00"
    assert parse_request(b"\x60\x02").baudrate == 38400
    with pytest.raises(IdCardProtocolError):
        set_baud_request(12345)


def test_status_ok_and_find_failed_answers() -> None:
    ok = h(PRE + "00 04 00 00 90 94")
    assert Response(Sw3.OK).encode() == ok
    assert parse_response(decode_frame(ok)) == Response(Sw3.OK)
    failed = h(PRE + "00 04 00 00 80 84")
    assert Response(Sw3.FIND_FAILED).encode() == failed
    assert parse_response(decode_frame(failed)).sw3 is Sw3.FIND_FAILED


def test_find_and_select_answer_lengths() -> None:
    assert Response(Sw3.CARD_FOUND, bytes(4)).encode()[5:7] == h("00 08")
    assert Response(Sw3.OK, bytes(8)).encode()[5:7] == h("00 0C")


@pytest.mark.parametrize(("with_fp", "len_bytes", "size"), [(False, "05 08", 1295), (True, "09 0A", 2321)])
def test_read_answer_sizes(with_fp: bool, len_bytes: str, size: int) -> None:
    card = CardData(bytes(range(256)), bytes(1024), bytes([7]) * 1024)
    frame = Response(Sw3.OK, card_data_payload(card, with_fingerprint=with_fp)).encode()
    assert len(frame) == size
    assert frame[5:7] == h(len_bytes)
    assert frame[7:14] == h("00 00 90 01 00 04 00")
    back = parse_card_data(parse_response(decode_frame(frame)), with_fingerprint=with_fp)
    assert back.text == card.text and back.photo == card.photo
    assert back.fingerprint == (card.fingerprint if with_fp else None)


def test_read_with_fingerprint_of_a_card_without_one() -> None:
    card = CardData(bytes(256), bytes(1024), None)
    payload = card_data_payload(card, with_fingerprint=True)
    assert payload[:6] == h("01 00 04 00 00 00")
    assert parse_card_data(Response(Sw3.OK, payload), with_fingerprint=True).fingerprint is None


def test_bad_checksum_and_length_are_typed() -> None:
    frame = bytearray(h(PRE + "00 04 00 00 90 94"))
    frame[-1] ^= 1
    with pytest.raises(IdCardChecksumError):
        decode_frame(bytes(frame))
    with pytest.raises(IdCardLengthError):
        decode_frame(h(PRE + "00 05 00 00 90 94"))
    with pytest.raises(IdCardProtocolError):
        parse_response(h("01 00 90"))
    with pytest.raises(IdCardProtocolError) as err:
        parse_response(h("00 00 55"))
    assert err.value.code == "idcard.unknown_status"


def test_reader_resyncs_after_noise_and_split_reads() -> None:
    ok = Response(Sw3.OK).encode()
    found = Response(Sw3.CARD_FOUND, bytes(4)).encode()
    stream = b"\x00\xaa\xaa\x13" + ok + b"\xaa\xaa" + found
    reader = FrameReader()
    bodies = []
    for b in stream:  # one byte at a time, as a slow line delivers them
        reader.feed(bytes([b]))
        body = reader.next_frame()
        if body is not None:
            bodies.append(parse_response(body).sw3)
    assert bodies == [Sw3.OK, Sw3.CARD_FOUND]


def test_reader_wanted_reads_exactly_one_frame() -> None:
    answer = Response(Sw3.OK, bytes(8)).encode()
    stream = answer + Response(Sw3.OK).encode()
    reader, pos = FrameReader(), 0
    while (body := reader.next_frame()) is None:
        n = reader.wanted()
        reader.feed(stream[pos : pos + n])
        pos += n
    assert pos == len(answer) and parse_response(body).data == bytes(8)


def test_reader_drops_a_corrupt_frame_and_keeps_the_next() -> None:
    bad = bytearray(Response(Sw3.OK).encode())
    bad[-1] ^= 0xFF
    reader = FrameReader()
    reader.feed(bytes(bad) + Response(Sw3.FIND_FAILED).encode())
    with pytest.raises(IdCardChecksumError):
        reader.next_frame()
    assert parse_response(reader.next_frame() or b"").sw3 is Sw3.FIND_FAILED


def test_impossible_length_resyncs() -> None:
    reader = FrameReader()
    reader.feed(h(PRE + "FF FF") + Response(Sw3.OK).encode())
    with pytest.raises(IdCardLengthError):
        reader.next_frame()
    assert reader.next_frame() == h("00 00 90")


def test_sam_id_text() -> None:
    sam = SamId.from_parts(5, 1, 20200101, 12345, 987654321)
    assert str(sam) == "05.01-20200101-000012345-987654321"
    assert parse_sam_id(Response(Sw3.OK, sam.raw)) == sam
    assert Response(Sw3.OK, sam.raw).encode()[5:7] == h("00 14")


def test_sw3_table_has_a_meaning_for_every_code() -> None:
    assert len(Sw3) == 18
    assert all(code.meaning for code in Sw3)
    assert Sw3.parse("41") is Sw3.READ_FAILED
    assert Sw3.parse("sam_self_test_failed") is Sw3.SAM_SELF_TEST_FAILED
    assert Sw3.parse("0x66") is Sw3.SAM_NOT_AUTHORISED
