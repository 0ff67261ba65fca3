"""The 256-byte UCS-2LE text block as typed records, and back (for the simulator and tests).

Three layouts share the block; the character at byte 248 says which (PROTOCOLS.md section 1):
'I' foreigner permanent-residence card, 'J' Hong Kong/Macau/Taiwan residence permit, anything else
the resident ID card. ``repr``/``str`` never show a full ID or pass number, so a record can be
logged as it is.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, fields

from devices.errors import Recovery
from devices.idcard.codes import Sex, is_valid_id_number, nation_name
from devices.idcard.errors import IdCardRecordError
from devices.idcard.protocol import TEXT_SIZE, decode_ucs2
from devices.privacy import mask_id_number, mask_name

LONG_TERM = "长期"

# (byte offset, byte length) of each field
_RESIDENT = {
    "name": (0, 30),
    "sex": (30, 2),
    "nation_code": (32, 4),
    "birth_date": (36, 16),
    "address": (52, 70),
    "id_number": (122, 36),
    "issuer": (158, 30),
    "valid_from": (188, 16),
    "valid_to": (204, 16),
}
_PERMIT_EXTRA = {"pass_number": (220, 18), "issue_count": (238, 4)}
_FOREIGNER = {
    "english_name": (0, 120),
    "sex": (120, 2),
    "id_number": (122, 30),
    "nationality": (152, 6),
    "chinese_name": (158, 30),
    "valid_from": (188, 16),
    "valid_to": (204, 16),
    "birth_date": (220, 16),
    "card_version": (236, 4),
    "authority_code": (240, 8),
}
_TYPE_AT = (248, 2)


def _date(text: str, what: str) -> dt.date:
    if len(text) != 8 or not text.isascii() or not text.isdigit():
        raise IdCardRecordError(f"{what} is not a YYYYMMDD date")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise IdCardRecordError(f"{what} is not a valid date") from None


def _valid_to(text: str) -> dt.date | None:
    return None if text == LONG_TERM else _date(text, "valid to")


def _sex(text: str) -> Sex:
    try:
        return Sex(text)
    except ValueError:
        raise IdCardRecordError("unknown sex code") from None


@dataclass(frozen=True, repr=False)
class IdentityRecord:
    """What every card type has: a number, a validity period, a name to address the person by."""

    id_number: str
    sex: Sex
    birth_date: dt.date
    valid_from: dt.date
    valid_to: dt.date | None  # None = 长期, no expiry

    card_type = "identity"

    @property
    def display_name(self) -> str:
        raise NotImplementedError

    @property
    def masked_id_number(self) -> str:
        return mask_id_number(self.id_number)

    @property
    def id_number_valid(self) -> bool:
        """GB 11643 check character; False for the old 15-character foreigner numbers."""
        return is_valid_id_number(self.id_number)

    def is_expired(self, on: dt.date) -> bool:
        """A card is still valid on its last day; 长期 cards never expire."""
        return self.valid_to is not None and on > self.valid_to

    def _masked_fields(self) -> dict[str, str]:
        # Everything that names or locates the person is masked: a record is logged as it is.
        hidden = "'<hidden>'"
        masked = {"id_number": self.masked_id_number, "birth_date": hidden}
        for name in ("name", "chinese_name", "english_name"):
            value = getattr(self, name, None)
            if isinstance(value, str):
                masked[name] = repr(mask_name(value))
        if isinstance(getattr(self, "address", None), str):
            masked["address"] = hidden
        return masked

    def __repr__(self) -> str:
        masked = self._masked_fields()
        parts = [f"{f.name}={masked.get(f.name, repr(getattr(self, f.name)))}" for f in fields(self)]
        return f"{type(self).__name__}({', '.join(parts)})"

    def __str__(self) -> str:
        until = "长期" if self.valid_to is None else self.valid_to.isoformat()
        return f"{self.card_type} card of {mask_name(self.display_name)} ({self.masked_id_number}), valid until {until}"

    def encode(self) -> bytes:
        """The 256-byte text block for this record."""
        raise NotImplementedError


@dataclass(frozen=True, repr=False)
class ResidentIdCard(IdentityRecord):
    """居民身份证."""

    name: str = ""
    nation_code: str = "01"
    address: str = ""
    issuer: str = ""

    card_type = "resident"

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def nation(self) -> str | None:
        return nation_name(self.nation_code)

    def _values(self) -> dict[str, str]:
        return {
            "name": self.name,
            "sex": self.sex.value,
            "nation_code": self.nation_code,
            "birth_date": self.birth_date.strftime("%Y%m%d"),
            "address": self.address,
            "id_number": self.id_number,
            "issuer": self.issuer,
            "valid_from": self.valid_from.strftime("%Y%m%d"),
            "valid_to": LONG_TERM if self.valid_to is None else self.valid_to.strftime("%Y%m%d"),
        }

    def encode(self) -> bytes:
        return _encode(_RESIDENT, self._values(), type_char=" ")


@dataclass(frozen=True, repr=False)
class ResidencePermit(ResidentIdCard):
    """港澳台居民居住证 ('J'): the resident layout plus the travel pass number and issue count."""

    pass_number: str = ""
    issue_count: str = ""

    card_type = "permit"

    def _masked_fields(self) -> dict[str, str]:
        return {**super()._masked_fields(), "pass_number": mask_id_number(self.pass_number)}

    def encode(self) -> bytes:
        values = {**self._values(), "pass_number": self.pass_number, "issue_count": self.issue_count}
        return _encode({**_RESIDENT, **_PERMIT_EXTRA}, values, type_char="J")


@dataclass(frozen=True, repr=False)
class ForeignerPermanentResidenceCard(IdentityRecord):
    """外国人永久居留身份证 ('I')."""

    english_name: str = ""
    chinese_name: str = ""
    nationality: str = ""  # ISO 3166-1 alpha-3 code
    card_version: str = ""
    authority_code: str = ""

    card_type = "foreigner"

    @property
    def display_name(self) -> str:
        return self.chinese_name or self.english_name

    def encode(self) -> bytes:
        values = {
            "english_name": self.english_name,
            "sex": self.sex.value,
            "id_number": self.id_number,
            "nationality": self.nationality,
            "chinese_name": self.chinese_name,
            "valid_from": self.valid_from.strftime("%Y%m%d"),
            "valid_to": LONG_TERM if self.valid_to is None else self.valid_to.strftime("%Y%m%d"),
            "birth_date": self.birth_date.strftime("%Y%m%d"),
            "card_version": self.card_version,
            "authority_code": self.authority_code,
        }
        return _encode(_FOREIGNER, values, type_char="I")


def _encode(layout: dict[str, tuple[int, int]], values: dict[str, str], *, type_char: str) -> bytes:
    block = bytearray(" ".encode("utf-16-le") * (TEXT_SIZE // 2))
    for key, (offset, size) in {**layout, "card_type": _TYPE_AT}.items():
        text = type_char if key == "card_type" else values[key]
        try:
            raw = text.encode("utf-16-le")
        except UnicodeEncodeError:
            raise IdCardRecordError(f"{key} cannot be written as UCS-2") from None
        if len(raw) > size or any(ord(c) > 0xFFFF for c in text):
            raise IdCardRecordError(f"{key} is longer than its {size // 2} characters")
        block[offset : offset + len(raw)] = raw
    return bytes(block)


def _fields(text: bytes, layout: dict[str, tuple[int, int]]) -> dict[str, str]:
    return {key: decode_ucs2(text[off : off + size]) for key, (off, size) in layout.items()}


def card_type_char(text: bytes) -> str:
    return decode_ucs2(text[_TYPE_AT[0] : _TYPE_AT[0] + _TYPE_AT[1]])


class IdCardInvalid(IdCardRecordError):
    """The card's text decodes but cannot be a genuine card: a bad ID number or control characters.

    The resident can do nothing at the kiosk but take the card back (recovery USER, so the reader is
    not taken for broken); the screen sends them to the counter.
    """

    code = "idcard.invalid_card"
    recovery = Recovery.USER


_FOREIGNER_OLD = re.compile(r"^[A-Z]{3}\d{12}$")


def _no_control_characters(fields: dict[str, str]) -> None:
    """Card text is printed text: a control or format character is a forged or damaged card.

    Such characters would also reach logs, screens and receipts (a newline forging a log line).
    """
    for key, value in fields.items():
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
            raise IdCardInvalid(f"card text field {key} holds control characters")


def _check_number(record: IdentityRecord) -> None:
    """GB 11643 check character for resident cards and permits; the foreigner formats by shape."""
    n = record.id_number
    if not n:
        raise IdCardInvalid("the card holds no ID number")
    if isinstance(record, ForeignerPermanentResidenceCard) and len(n) != 18:
        if not _FOREIGNER_OLD.match(n):
            raise IdCardInvalid(f"foreigner card number {mask_id_number(n)} is not of the 15-character format")
        return
    if not is_valid_id_number(n):
        raise IdCardInvalid(f"ID number {mask_id_number(n)} fails its GB 11643 check character")


def decode_text(text: bytes) -> IdentityRecord:
    """Turn the 256-byte text block into the record of its card type (IdCardInvalid: not a real card)."""
    record = _decode_text(text)
    _check_number(record)
    return record


def _decode_text(text: bytes) -> IdentityRecord:
    if len(text) != TEXT_SIZE:
        raise IdCardRecordError(f"text block has {len(text)} bytes, expected {TEXT_SIZE}")
    kind = card_type_char(text)
    if kind == "I":
        f = _fields(text, _FOREIGNER)
        _no_control_characters(f)
        return ForeignerPermanentResidenceCard(
            id_number=f["id_number"],
            sex=_sex(f["sex"]),
            birth_date=_date(f["birth_date"], "birth date"),
            valid_from=_date(f["valid_from"], "valid from"),
            valid_to=_valid_to(f["valid_to"]),
            english_name=f["english_name"],
            chinese_name=f["chinese_name"],
            nationality=f["nationality"],
            card_version=f["card_version"],
            authority_code=f["authority_code"],
        )
    layout = {**_RESIDENT, **_PERMIT_EXTRA} if kind == "J" else _RESIDENT
    f = _fields(text, layout)
    _no_control_characters(f)
    common = dict(
        id_number=f["id_number"],
        sex=_sex(f["sex"]),
        birth_date=_date(f["birth_date"], "birth date"),
        valid_from=_date(f["valid_from"], "valid from"),
        valid_to=_valid_to(f["valid_to"]),
        name=f["name"],
        nation_code=f["nation_code"],
        address=f["address"],
        issuer=f["issuer"],
    )
    if kind == "J":
        return ResidencePermit(**common, pass_number=f["pass_number"], issue_count=f["issue_count"])
    return ResidentIdCard(**common)


_TYPES: dict[str, type[IdentityRecord]] = {
    "resident": ResidentIdCard,
    "permit": ResidencePermit,
    "foreigner": ForeignerPermanentResidenceCard,
}


def record_from_dict(data: dict[str, object]) -> IdentityRecord:
    """Build a record from plain values (simulator panel, ``kiosk sim``): dates as ``YYYYMMDD`` or
    ISO text, ``valid_to`` ``长期``/empty for no expiry, ``sex`` as code, ``type`` one of
    resident/permit/foreigner."""
    values = dict(data)
    kind = str(values.pop("type", "resident"))
    cls = _TYPES.get(kind)
    if cls is None:
        raise IdCardRecordError(f"unknown card type {kind!r}; known: {sorted(_TYPES)}")
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise IdCardRecordError(f"unknown fields {sorted(unknown)} for a {kind} card")
    out: dict[str, object] = {}
    for key, value in values.items():
        if key in ("birth_date", "valid_from", "valid_to"):
            out[key] = _date_value(value, key)
        elif key == "sex":
            out[key] = value if isinstance(value, Sex) else _sex(str(value))
        else:
            out[key] = str(value)
    missing = {"id_number", "sex", "birth_date", "valid_from", "valid_to"} - set(out)
    if missing:
        raise IdCardRecordError(f"missing fields {sorted(missing)}")
    return cls(**out)  # type: ignore[arg-type]


def _date_value(value: object, key: str) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    if key == "valid_to" and value in (None, "", LONG_TERM):
        return None
    text = str(value).replace("-", "")
    return _date(text, key)


__all__ = [
    "LONG_TERM",
    "ForeignerPermanentResidenceCard",
    "IdentityRecord",
    "ResidencePermit",
    "ResidentIdCard",
    "card_type_char",
    "decode_text",
    "record_from_dict",
]
