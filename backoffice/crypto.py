"""Personal data at rest: identity, phone and card photo are sealed with Fernet before they reach
the database, so a database dump or a replica alone discloses nobody.

Keys come from settings.FIELD_KEYS (newest first; older ones still open old rows, which is how a
key is rotated). Without a key a trial install derives one from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...], secret: str) -> MultiFernet:
    if not keys:
        derived = base64.urlsafe_b64encode(hashlib.sha256(("field-key:" + secret).encode()).digest())
        return MultiFernet([Fernet(derived)])
    return MultiFernet([Fernet(k.encode()) for k in keys])


def _box() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_KEYS), settings.SECRET_KEY)


def seal(data: bytes | str | None) -> bytes | None:
    if data is None:
        return None
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _box().encrypt(raw)


def unseal(token: bytes | memoryview | None) -> bytes | None:
    if token is None:
        return None
    return _box().decrypt(bytes(token))


def unseal_text(token: bytes | memoryview | None) -> str | None:
    raw = unseal(token)
    return None if raw is None else raw.decode("utf-8")


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧***: enough to tell cases apart on a list, no more."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def mask_id_number(number: str) -> str:
    return number[:4] + "*" * max(0, len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) == 11 else ""
