"""The fingerprint packet codec against PROTOCOLS.md section 2, round trips and fuzzing."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.fingerprint.errors import (
    FingerprintChecksumError,
    FingerprintFrameError,
    FingerprintProtocolError,
    FingerprintUnknownCodeError,
)
from devices.fingerprint.protocol import (
    PACKET_SIZES,
    Ack,
    Confirmation,
    Instruction,
    Packet,
    PacketReader,
    PacketType,
    SystemParameters,
    decode_ack,
    decode_header,
    decode_index_table,
    decode_packet,
    decode_search,
    decode_sys_para,
    encode_ack,
    encode_command,
    encode_data,
    encode_index_table,
    encode_packet,
    join_data,
    packet_size_code,
    split_data,
)

GEN_IMG = bytes.fromhex("EF01 FFFFFFFF 01 0003 01 0005")
VFY_PWD_0 = bytes.fromhex("EF01 FFFFFFFF 01 0007 13 00000000 001B")
ACK_OK = bytes.fromhex("EF01 FFFFFFFF 07 0003 00 000A")
ACK_NO_FINGER = bytes.fromhex("EF01 FFFFFFFF 07 0003 02 000C")


def test_commands_encode_to_the_documented_frames() -> None:
    assert encode_command(Instruction.GEN_IMG) == GEN_IMG
    assert encode_command(Instruction.VFY_PWD, bytes(4)) == VFY_PWD_0
    assert encode_ack(Confirmation.OK) == ACK_OK
    assert encode_ack(Confirmation.NO_FINGER) == ACK_NO_FINGER


def test_documented_frames_decode() -> None:
    assert decode_packet(GEN_IMG) == Packet(PacketType.COMMAND, b"\x01", 0xFFFFFFFF)
    assert decode_packet(VFY_PWD_0).payload == b"\x13\x00\x00\x00\x00"
    assert decode_ack(decode_packet(ACK_OK)) == Ack(Confirmation.OK)
    no_finger = decode_ack(decode_packet(ACK_NO_FINGER))
    assert no_finger.confirmation is Confirmation.NO_FINGER and not no_finger.ok
    assert no_finger.confirmation.meaning == "no finger on the sensor"


def test_every_confirmation_code_has_a_meaning() -> None:
    assert all(code.meaning for code in Confirmation)


def test_checksum_keeps_the_low_16_bits_and_address_is_big_endian() -> None:
    payload = b"\xff" * 256
    frame = encode_packet(PacketType.DATA, payload, 0x12345678)
    assert frame[2:6] == bytes.fromhex("12345678")
    assert frame[7:9] == (258).to_bytes(2, "big")
    assert int.from_bytes(frame[-2:], "big") == (2 + 1 + 2 + 255 * 256) & 0xFFFF
    assert decode_packet(frame) == Packet(PacketType.DATA, payload, 0x12345678)


def test_bad_checksum_start_type_and_length_are_typed_errors() -> None:
    with pytest.raises(FingerprintChecksumError):
        decode_packet(ACK_OK[:-1] + b"\x0b")
    with pytest.raises(FingerprintFrameError):
        decode_packet(b"\xef\x02" + ACK_OK[2:])
    with pytest.raises(FingerprintFrameError):
        decode_packet(ACK_OK[:6] + b"\x05" + ACK_OK[7:])
    with pytest.raises(FingerprintFrameError):
        decode_packet(ACK_OK + b"\x00")
    with pytest.raises(FingerprintFrameError):
        decode_header(bytes.fromhex("EF01 FFFFFFFF 07 0001"))


def test_unknown_confirmation_code_is_a_protocol_error() -> None:
    with pytest.raises(FingerprintUnknownCodeError):
        decode_ack(Packet(PacketType.ACK, b"\x77"))
    with pytest.raises(FingerprintFrameError):
        decode_ack(Packet(PacketType.COMMAND, b"\x00"))


def test_reader_resyncs_after_noise_and_split_delivery() -> None:
    reader = PacketReader()
    stream = b"\x00\xef\xef" + GEN_IMG + b"\xef\x01\xff" + ACK_NO_FINGER
    out = []
    for i in range(len(stream)):
        out += reader.feed(stream[i : i + 1])
    assert [p.payload for p in out if isinstance(p, Packet)] == [b"\x01", b"\x02"]


def test_reader_reports_a_corrupted_packet_and_carries_on() -> None:
    reader = PacketReader()
    out = reader.feed(ACK_OK[:-1] + b"\x00" + ACK_NO_FINGER)
    assert isinstance(out[0], FingerprintChecksumError)
    assert out[1] == Packet(PacketType.ACK, b"\x02")
    assert reader.pending == 0


@pytest.mark.parametrize("size", PACKET_SIZES)
def test_template_splits_into_data_packets_of_the_packet_size(size: int) -> None:
    template = bytes(range(256)) * 2
    parts = split_data(template, size)
    assert [pid for pid, _ in parts] == [PacketType.DATA] * (512 // size - 1) + [PacketType.END_DATA]
    assert all(len(chunk) == size for _, chunk in parts)
    reader = PacketReader()
    packets = reader.feed(encode_data(template, size))
    assert join_data(packets) == template  # type: ignore[arg-type]


def test_join_needs_the_last_packet_and_only_data_packets() -> None:
    with pytest.raises(FingerprintFrameError):
        join_data([Packet(PacketType.DATA, b"ab")])
    with pytest.raises(FingerprintFrameError):
        join_data([Packet(PacketType.ACK, b"\x00")])
    with pytest.raises(FingerprintFrameError):
        split_data(b"x", 100)


def test_sys_para_round_trip_and_fields() -> None:
    params = SystemParameters(0x0004, 0x0009, 300, 3, 0xFFFFFFFF, 2, 6)
    data = params.encode()
    assert data == bytes.fromhex("0004 0009 012C 0003 FFFFFFFF 0002 0006")
    decoded = decode_sys_para(data)
    assert decoded == params
    assert (decoded.packet_size, decoded.baudrate, decoded.password_verified) == (128, 57600, True)
    assert packet_size_code(256) == 3
    with pytest.raises(FingerprintFrameError):
        decode_sys_para(data[:15])


def test_index_table_bits_are_lsb_first_per_index_page() -> None:
    table = encode_index_table({0, 9, 255, 256, 300}, 0)
    assert table[0] == 0x01 and table[1] == 0x02 and table[31] == 0x80
    assert decode_index_table(Ack(Confirmation.OK, table), 0) == [0, 9, 255]
    assert decode_index_table(Ack(Confirmation.OK, encode_index_table({256, 300}, 1)), 1) == [256, 300]


def test_search_answer_decodes_page_and_score() -> None:
    assert decode_search(Ack(Confirmation.OK, bytes.fromhex("0003 00AB"))) == (3, 0xAB)
    with pytest.raises(FingerprintFrameError):
        decode_search(Ack(Confirmation.OK, b"\x00"))


# -- fuzzing: only the protocol's own error may come out ---------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_decode_packet(data: bytes) -> None:
    try:
        packet = decode_packet(data)
    except FingerprintProtocolError:
        return
    assert packet.encode() == data


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([GEN_IMG, VFY_PWD_0, ACK_OK, ACK_NO_FINGER]), st.data())
def test_fuzz_truncated_frames(frame: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(frame) - 1))
    with pytest.raises(FingerprintProtocolError):
        decode_packet(frame[:cut])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_fuzz_reader_never_raises(chunks: list[bytes]) -> None:
    reader = PacketReader()
    for chunk in chunks:
        for item in reader.feed(chunk):
            assert isinstance(item, Packet | FingerprintProtocolError)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40).map(lambda b: b.replace(b"\xef", b"")), st.binary(max_size=40))
def test_fuzz_reader_finds_a_packet_after_noise(noise: bytes, payload: bytes) -> None:
    # Noise without a start byte cannot hold a half header that would swallow the real packet.
    frame = encode_packet(PacketType.COMMAND, payload)
    assert PacketReader().feed(noise + frame) == [Packet(PacketType.COMMAND, payload)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.integers(0, 3))
def test_fuzz_answer_decoders(data: bytes, index_page: int) -> None:
    for fn in (
        lambda: decode_ack(Packet(PacketType.ACK, data)),
        lambda: decode_sys_para(data),
        lambda: decode_search(Ack(Confirmation.OK, data)),
        lambda: decode_index_table(Ack(Confirmation.OK, data), index_page),
    ):
        with contextlib.suppress(FingerprintProtocolError):
            fn()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(PacketType)), st.binary(max_size=300)), max_size=5))
def test_fuzz_join_data(parts: list[tuple[PacketType, bytes]]) -> None:
    with contextlib.suppress(FingerprintProtocolError):
        data = join_data([Packet(pid, payload) for pid, payload in parts], limit=512)
        assert data == b"".join(payload for _, payload in parts)
