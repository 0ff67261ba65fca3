"""Text block decode/encode for the three card layouts, code tables, masking, check digits."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from devices.idcard.codes import NATIONS, Sex, id_check_char, is_valid_id_number
from devices.idcard.errors import IdCardRecordError
from devices.idcard.records import (
    ForeignerPermanentResidenceCard,
    ResidencePermit,
    ResidentIdCard,
    decode_text,
    record_from_dict,
)
from devices.idcard.sample_cards import (
    FOREIGNER,
    PERMIT,
    WANG_WU_LONG_TERM,
    ZHANG_SAN,
    ZHANG_SAN_EXPIRED,
    sample_cards,
)


def ucs2(text: str, size: int) -> bytes:
    raw = text.encode("utf-16-le")
    return raw + " ".encode("utf-16-le") * ((size - len(raw)) // 2)


def test_hand_built_resident_block_decodes_field_by_field() -> None:
    # Built from the offsets in PROTOCOLS.md, independently of the encoder.
    block = (
        ucs2("张三", 30)
        + ucs2("1", 2)
        + ucs2("10", 4)
        + ucs2("19900307", 16)
        + ucs2("北京市朝阳区", 70)
        + ucs2("110105199003071239", 36)
        + ucs2("北京市公安局", 30)
        + ucs2("20160520", 16)
        + ucs2("长期", 16)
        + ucs2("", 36)
    )
    assert len(block) == 256
    rec = decode_text(block)
    assert isinstance(rec, ResidentIdCard)
    assert rec.name == "张三" and rec.sex is Sex.MALE and rec.nation == "朝鲜"
    assert rec.birth_date == dt.date(1990, 3, 7)
    assert rec.address == "北京市朝阳区" and rec.issuer == "北京市公安局"
    assert rec.valid_from == dt.date(2016, 5, 20) and rec.valid_to is None
    assert rec.id_number == "110105199003071239" and rec.id_number_valid
    assert rec.encode() == block


@pytest.mark.parametrize("card", sample_cards().values(), ids=list(sample_cards()))
def test_every_sample_card_round_trips(card) -> None:
    block = card.record.encode()
    assert len(block) == 256
    assert decode_text(block) == card.record


def test_foreigner_layout() -> None:
    block = FOREIGNER.encode()
    assert block[248:250] == "I".encode("utf-16-le")
    assert block[0:22] == "SMITH, JOHN".encode("utf-16-le")
    assert block[152:158] == "USA".encode("utf-16-le")
    assert block[158:164] == "史密斯".encode("utf-16-le")
    assert block[220:236] == "19820815".encode("utf-16-le")
    rec = decode_text(block)
    assert isinstance(rec, ForeignerPermanentResidenceCard)
    assert rec.display_name == "史密斯" and rec.nationality == "USA"
    assert not rec.id_number_valid  # old 15-character numbers carry no GB 11643 check digit


def test_permit_layout() -> None:
    block = PERMIT.encode()
    assert block[248:250] == "J".encode("utf-16-le")
    assert block[220:238] == "H12345678".encode("utf-16-le")
    assert block[238:242] == "02".encode("utf-16-le")
    rec = decode_text(block)
    assert isinstance(rec, ResidencePermit)
    assert rec.pass_number == "H12345678" and rec.issue_count == "02" and rec.nation is None


def test_expiry() -> None:
    assert ZHANG_SAN_EXPIRED.is_expired(dt.date(2024, 1, 1))
    assert not ZHANG_SAN_EXPIRED.is_expired(dt.date(2016, 5, 20))  # valid on its last day
    assert ZHANG_SAN_EXPIRED.is_expired(dt.date(2016, 5, 21))
    assert not ZHANG_SAN.is_expired(dt.date(2024, 1, 1))
    assert WANG_WU_LONG_TERM.valid_to is None
    assert not WANG_WU_LONG_TERM.is_expired(dt.date(2999, 12, 31))


def test_repr_and_str_never_show_the_number(caplog: pytest.LogCaptureFixture) -> None:
    for rec in (ZHANG_SAN, PERMIT, FOREIGNER):
        assert rec.id_number not in repr(rec)
        assert rec.id_number not in str(rec)
        assert rec.masked_id_number in repr(rec)
    assert ZHANG_SAN.masked_id_number == "1101************39"
    assert "H12345678" not in repr(PERMIT)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("read %s / %r", ZHANG_SAN, ZHANG_SAN)
    assert ZHANG_SAN.id_number not in caplog.text


def test_nation_table_is_gb3304() -> None:
    assert len(NATIONS) == 58
    assert NATIONS["01"] == "汉" and NATIONS["02"] == "蒙古" and NATIONS["10"] == "朝鲜"
    assert NATIONS["11"] == "满" and NATIONS["29"] == "柯尔克孜" and NATIONS["56"] == "基诺"
    assert NATIONS["97"] == "其他" and NATIONS["98"] == "外国血统中国籍人士"


def test_id_check_digit() -> None:
    # GB 11643's own example number
    assert id_check_char("11010519491231002") == "X"
    assert is_valid_id_number("11010519491231002X")
    assert is_valid_id_number("11010519491231002x")
    assert not is_valid_id_number("110105194912310021")
    assert not is_valid_id_number("1101051949123100")
    for card in sample_cards().values():
        if card.record.card_type != "foreigner":
            assert card.record.id_number_valid


@pytest.mark.parametrize(
    ("offset", "text"),
    [(36, "19901399"), (188, "2016-5-2"), (30, "7"), (204, "永久有效")],
)
def test_bad_fields_raise_record_errors(offset: int, text: str) -> None:
    block = bytearray(ZHANG_SAN.encode())
    raw = text.encode("utf-16-le")
    block[offset : offset + len(raw)] = raw
    with pytest.raises(IdCardRecordError):
        decode_text(bytes(block))


def test_encoder_refuses_overlong_fields() -> None:
    with pytest.raises(IdCardRecordError):
        record_from_dict(
            {
                "name": "名" * 16,
                "id_number": "1",
                "sex": "1",
                "birth_date": "19900101",
                "valid_from": "20200101",
                "valid_to": "长期",
            }
        ).encode()


def test_record_from_dict() -> None:
    rec = record_from_dict(
        {
            "type": "resident",
            "name": "赵六",
            "sex": "2",
            "nation_code": "03",
            "birth_date": "1970-02-03",
            "address": "天津市",
            "id_number": "110105197002030000",
            "issuer": "天津市公安局",
            "valid_from": "20100101",
            "valid_to": "长期",
        }
    )
    assert isinstance(rec, ResidentIdCard) and rec.valid_to is None and rec.nation == "回"
    with pytest.raises(IdCardRecordError):
        record_from_dict({"type": "passport"})
    with pytest.raises(IdCardRecordError):
        record_from_dict({"name": "x", "height": 3})
