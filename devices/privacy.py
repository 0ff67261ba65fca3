"""Masking of personal data before it reaches a log line or the screen."""

from __future__ import annotations


def mask_id_number(number: str) -> str:
    """Keep the first 4 and the last 2 characters: 44010119900101123X → 4401************3X.

    Enough for a resident to recognise their own card and for staff to tell two cases apart,
    not enough to use the number.
    """
    n = number.strip()
    if len(n) <= 6:
        return "*" * len(n)
    return n[:4] + "*" * (len(n) - 6) + n[-2:]


def mask_name(name: str) -> str:
    """Chinese-style name masking for screens in public view: 张三丰 → 张*丰, 李四 → 李*."""
    n = name.strip()
    if len(n) <= 1:
        return n
    if len(n) == 2:
        return n[0] + "*"
    return n[0] + "*" * (len(n) - 2) + n[-1]


def mask_uid(uid: str) -> str:
    """A badge or door-card UID with only its first and last byte shown: 04A1B2C3 → 04****C3.

    A full UID is all a cloner needs to present the card again (UIDs are not secret on the air,
    but the log is kept for months and read by more people than stand near the door); two bytes
    still let staff tell their badges apart in a log line.
    """
    u = "".join(ch for ch in uid.upper() if ch.isalnum())
    if len(u) <= 4:
        return "*" * len(u)
    return u[:2] + "*" * (len(u) - 4) + u[-2:]


def mask_phone(phone: str) -> str:
    """138****5678: enough to recognise one's own number, not enough to call it."""
    p = phone.strip()
    if len(p) <= 7:
        return "*" * len(p)
    return p[:3] + "*" * (len(p) - 7) + p[-4:]


def mask_code(code: str) -> str:
    """A secret code (a pickup code) never appears, not even in part: only its length."""
    return "*" * len(code.strip())
