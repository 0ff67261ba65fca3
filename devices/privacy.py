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
