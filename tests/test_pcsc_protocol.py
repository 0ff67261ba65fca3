"""PC/SC codecs and the virtual card's answers, without pcscd: literal bytes, round trips, fuzzing."""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.pcsc.errors import PcscProtocolError
from devices.pcsc.protocol import (
    GET_UID,
    IDCARD_GET_SERIAL,
    MIFARE_CLASSIC_1K_ATR,
    CardKind,
    VpcdControl,
    VpcdFrameDecoder,
    classify_atr,
    contactless_atr,
    decode_message,
    encode_frame,
    idcard_atr,
    parse_response,
    uid_hex,
)
from devices.pcsc.virtual_card import VirtualCardSimulator


def test_get_uid_is_the_pcsc_part3_pseudo_apdu() -> None:
    assert bytes([0xFF, 0xCA, 0x00, 0x00, 0x00]) == GET_UID
    assert bytes.fromhex("00 36 00 00 08") == IDCARD_GET_SERIAL


def test_mifare_atr_is_rebuilt_from_its_historical_bytes_with_the_right_tck() -> None:
    historical = bytes.fromhex("80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00")
    assert contactless_atr(historical) == bytes.fromhex(
        "3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A"
    )
    assert contactless_atr(historical) == MIFARE_CLASSIC_1K_ATR
    assert classify_atr(MIFARE_CLASSIC_1K_ATR) is CardKind.MIFARE_CLASSIC_1K


def test_idcard_atr_follows_the_type_b_rule_from_its_atqb() -> None:
    atqb = bytes.fromhex("50 00 00 00 00 D1 03 86 0C 00 80 80")
    app_data, protocol_info = atqb[5:9], atqb[9:12]
    atr = idcard_atr()
    assert atr[:4] == bytes.fromhex("3B 88 80 01")
    assert atr[4:12] == app_data + protocol_info + b"\x00"
    assert classify_atr(atr) is CardKind.IDCARD


def test_classify_atr_tells_storage_and_processor_cards_apart() -> None:
    ultralight = contactless_atr(bytes.fromhex("80 4F 0C A0 00 00 03 06 03 00 03 00 00 00 00"))
    assert classify_atr(ultralight) is CardKind.STORAGE
    assert classify_atr(contactless_atr(bytes.fromhex("78 77 94 02 80"))) is CardKind.ISO14443_4
    broken_tck = MIFARE_CLASSIC_1K_ATR[:-1] + b"\x00"
    assert classify_atr(broken_tck) is CardKind.UNKNOWN
    assert classify_atr(bytes.fromhex("3B 02 14 50")) is CardKind.UNKNOWN  # a contact card


def test_response_apdu_and_uid_text() -> None:
    answer = parse_response(bytes.fromhex("04 A1 B2 C3 90 00"))
    assert answer.ok and answer.data == bytes.fromhex("04A1B2C3")
    assert uid_hex(answer.data) == "04A1B2C3"
    assert parse_response(bytes.fromhex("6A 81")).sw == 0x6A81
    with pytest.raises(PcscProtocolError):
        parse_response(b"\x90")


def test_vpcd_frames_literal_and_round_trip() -> None:
    assert encode_frame(bytes([VpcdControl.ATR])) == bytes.fromhex("00 01 04")
    assert decode_message(b"\x04") is VpcdControl.ATR
    assert decode_message(b"\x00") is VpcdControl.POWER_OFF
    assert decode_message(GET_UID) == GET_UID
    decoder = VpcdFrameDecoder()
    assert decoder.feed(encode_frame(GET_UID) + encode_frame(b"\x01")) == [GET_UID, b"\x01"]
    with pytest.raises(PcscProtocolError):
        encode_frame(b"")  # vpcd would take an empty answer for the card leaving
    with pytest.raises(PcscProtocolError):
        decode_message(b"\x03")


@given(st.lists(st.binary(min_size=1, max_size=300), max_size=6), st.data())
def test_frames_survive_any_split_of_the_stream(payloads: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(encode_frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    decoder, out, last = VpcdFrameDecoder(), [], 0
    for cut in [*cuts, len(stream)]:
        out += decoder.feed(stream[last:cut])
        last = cut
    assert out == payloads and decoder.pending == 0


@given(st.binary(max_size=40))
def test_parsers_raise_only_their_protocol_error(raw: bytes) -> None:
    for parse in (parse_response, decode_message):
        with contextlib.suppress(PcscProtocolError):
            parse(raw)
    assert isinstance(classify_atr(raw), CardKind)
    VpcdFrameDecoder().feed(raw)


@given(st.binary(min_size=1, max_size=15))
def test_every_built_atr_has_a_zero_xor_check(historical: bytes) -> None:
    atr = contactless_atr(historical)
    check = 0
    for b in atr[1:]:
        check ^= b
    assert check == 0 and classify_atr(atr) is not CardKind.UNKNOWN


def test_virtual_card_answers() -> None:
    badge = VirtualCardSimulator()
    badge.uid, badge.kind = bytes.fromhex("04A1B2C3"), "badge"
    assert badge.answer(GET_UID) == bytes.fromhex("04 A1 B2 C3 90 00")
    assert badge.answer(bytes.fromhex("FF B0 00 04 10")) == bytes.fromhex("6A 81")
    assert badge.answer(bytes.fromhex("00 A4 04 00 00")) == bytes.fromhex("6D 00")
    assert badge.answer(IDCARD_GET_SERIAL) == bytes.fromhex("6D 00")
    card = VirtualCardSimulator()
    card.uid, card.kind = bytes.fromhex("0102030405060708"), "idcard"
    assert card.answer(IDCARD_GET_SERIAL) == bytes.fromhex("0102030405060708 9000")
    assert card.answer(GET_UID) == bytes.fromhex("0102030405060708 9000")
    card.pupi_only = True
    assert card.answer(GET_UID) == bytes.fromhex("00000000 9000")


def test_tap_refuses_bad_uids_and_kinds() -> None:
    sim = VirtualCardSimulator(port=1, name="door_reader").start()
    assert sim.name == "door_reader" and not sim.ctl_state()["present"]
    with pytest.raises(ValueError):
        sim.control("tap", uid="XYZ")
    with pytest.raises(ValueError):
        sim.control("tap", uid="04A1B2C3", kind="idcard")  # an ID card serial has 8 bytes
    with pytest.raises(ValueError):
        sim.control("tap", kind="passport")
    with pytest.raises(KeyError):
        sim.control("jam")
    assert {"tap", "remove", "state", "pull_during_read"} <= set(sim.actions())


def test_virtual_card_speaks_vpcd_bytes_to_a_fake_vpcd() -> None:
    """The exact exchange vpcd has with a card: ATR poll, power on, one APDU, then the card leaves."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    got: list[bytes] = []
    answered = threading.Event()

    def vpcd() -> None:
        conn, _ = server.accept()
        with conn:
            f = conn.makefile("rb")
            for request in (b"\x04", b"\x01", GET_UID):
                conn.sendall(encode_frame(request))
                if request == b"\x01":
                    continue  # power on has no answer
                size = int.from_bytes(f.read(2), "big")
                got.append(f.read(size))
            answered.set()
            got.append(f.read(2))  # b"" once the card leaves

    thread = threading.Thread(target=vpcd)
    thread.start()
    sim = VirtualCardSimulator(port=port)
    sim.ctl_tap(uid="04A1B2C3")
    assert answered.wait(5)
    state = sim.ctl_state()
    sim.ctl_remove()
    thread.join(5)
    server.close()
    assert got[:2] == [MIFARE_CLASSIC_1K_ATR, bytes.fromhex("04A1B2C3 9000")]
    assert got[2] == b""
    assert state["powered"] and state["atr_requests"] == 1 and sim.apdus == [GET_UID]
