"""Fictional cards for the simulator, tests and demos; the photos are the crops prepared by
``sim_photos`` (faces from the face_recognition project's public test images).

All ID numbers carry valid GB 11643 check characters except the foreigner card's old-style
15-character number, which has none.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from devices.idcard.codes import Sex
from devices.idcard.records import (
    ForeignerPermanentResidenceCard,
    IdentityRecord,
    ResidencePermit,
    ResidentIdCard,
)

PHOTOS = Path(__file__).resolve().parents[2] / "assets" / "sim" / "idcard"


@dataclass
class SimCard:
    """A card the simulator can place on its reader."""

    record: IdentityRecord
    photo: str | Path | np.ndarray | None = None  # None: a blank photo field
    fingerprint: bytes | None = None  # 1024 bytes of fingerprint data on the card, or none
    newest_address: str = ""  # 最新住址 page, read by 30 03
    serial: bytes = field(default=b"")

    def __post_init__(self) -> None:
        if not self.serial:
            # a stable 8-byte serial per ID number, as the select answer carries one
            self.serial = hashlib.sha256(self.record.id_number.encode()).digest()[:8]


def _fingerprint(seed: str) -> bytes:
    """Deterministic stand-in for two 512-byte fingerprint templates."""
    out = b""
    counter = 0
    while len(out) < 1024:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return out[:1024]


ZHANG_SAN = ResidentIdCard(
    name="张三",
    sex=Sex.MALE,
    nation_code="01",
    birth_date=dt.date(1990, 3, 7),
    address="北京市朝阳区建国路88号院3号楼2单元501室",
    id_number="110105199003071239",
    issuer="北京市公安局朝阳分局",
    valid_from=dt.date(2016, 5, 20),
    valid_to=dt.date(2036, 5, 20),
)

LI_SI = ResidentIdCard(
    name="李四",
    sex=Sex.MALE,
    nation_code="11",
    birth_date=dt.date(1985, 6, 12),
    address="上海市浦东新区世纪大道100号",
    id_number="310115198506122347",
    issuer="上海市公安局浦东分局",
    valid_from=dt.date(2020, 1, 8),
    valid_to=dt.date(2040, 1, 8),
)

# 张三's previous card: same person and number, validity over.
ZHANG_SAN_EXPIRED = ResidentIdCard(
    name="张三",
    sex=Sex.MALE,
    nation_code="01",
    birth_date=dt.date(1990, 3, 7),
    address="北京市朝阳区建国路88号院3号楼2单元501室",
    id_number="110105199003071239",
    issuer="北京市公安局朝阳分局",
    valid_from=dt.date(2006, 5, 20),
    valid_to=dt.date(2016, 5, 20),
)

WANG_WU_LONG_TERM = ResidentIdCard(
    name="王五",
    sex=Sex.MALE,
    nation_code="04",
    birth_date=dt.date(1960, 1, 1),
    address="广东省深圳市福田区深南大道1号",
    id_number="440306196001013457",
    issuer="深圳市公安局福田分局",
    valid_from=dt.date(2012, 9, 1),
    valid_to=None,
)

FOREIGNER = ForeignerPermanentResidenceCard(
    english_name="SMITH, JOHN",
    chinese_name="史密斯",
    sex=Sex.MALE,
    id_number="USA110090082501",
    nationality="USA",
    birth_date=dt.date(1982, 8, 15),
    valid_from=dt.date(2019, 4, 1),
    valid_to=dt.date(2029, 4, 1),
    card_version="01",
    authority_code="1500",
)

PERMIT = ResidencePermit(
    name="陈七",
    sex=Sex.FEMALE,
    nation_code="",
    birth_date=dt.date(1991, 1, 1),
    address="广东省深圳市南山区科技园南路2号",
    id_number="810000199101011238",
    issuer="深圳市公安局南山分局",
    valid_from=dt.date(2021, 3, 15),
    valid_to=dt.date(2026, 3, 15),
    pass_number="H12345678",
    issue_count="02",
)


def sample_cards() -> dict[str, SimCard]:
    """Prepared identities by name (fresh objects: callers may change them)."""
    return {
        "zhang_san": SimCard(
            ZHANG_SAN,
            PHOTOS / "obama_1.png",
            fingerprint=_fingerprint("zhang_san"),
            newest_address="北京市朝阳区光华路9号",
        ),
        "li_si": SimCard(LI_SI, PHOTOS / "biden_1.png", fingerprint=_fingerprint("li_si")),
        "expired": SimCard(ZHANG_SAN_EXPIRED, PHOTOS / "obama_2.png"),
        "long_term": SimCard(WANG_WU_LONG_TERM, PHOTOS / "biden_2.png"),
        "foreigner": SimCard(FOREIGNER, PHOTOS / "biden_2.png"),
        "permit": SimCard(PERMIT, PHOTOS / "obama_2.png"),
    }


DEFAULT_CARD = "zhang_san"
