"""Personal data at rest: identity, phone and card photo are sealed with Fernet before they reach
the database, and scan bytes (blobs and upload chunks) with AES-GCM bound to where they are kept,
so a database dump or a replica alone discloses nobody.

Keys come from settings.FIELD_KEYS (newest first; older ones still open old rows, which is how a
key is rotated). Without a key a trial install derives one from SECRET_KEY.
"""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
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


def _blob_keys(keys: tuple[str, ...], secret: str) -> list[AESGCM]:
    """One AES-256 key per field key (newest first), derived so the Fernet keys are never reused."""
    sources = keys or ("field-key:" + secret,)
    return [AESGCM(hashlib.sha256(("scan-blob:" + k).encode()).digest()) for k in sources]


@lru_cache(maxsize=4)
def _blob_box(keys: tuple[str, ...], secret: str) -> list[AESGCM]:
    return _blob_keys(keys, secret)


def seal_blob(data: bytes, where: str) -> bytes:
    """Scan bytes → nonce + AES-GCM ciphertext, bound to ``where`` (the blob name or chunk place):
    raw rather than Fernet's base64, because scans are megabytes and the bytea grows by a third."""
    nonce = os.urandom(12)
    box = _blob_box(tuple(settings.FIELD_KEYS), settings.SECRET_KEY)[0]
    return nonce + box.encrypt(nonce, data, where.encode())


def unseal_blob(token: bytes, where: str) -> bytes:
    """Opens with the newest key that fits, so older rows stay readable across a key rotation."""
    last: Exception | None = None
    for box in _blob_box(tuple(settings.FIELD_KEYS), settings.SECRET_KEY):
        try:
            return box.decrypt(token[:12], token[12:], where.encode())
        except InvalidTag as exc:
            last = exc
    raise ValueError(f"scan bytes of {where} cannot be opened with any configured key") from last


def mask_name(name: str) -> str:
    """张三 → 张*, 欧阳小明 → 欧***: enough to tell cases apart on a list, no more."""
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


def mask_id_number(number: str) -> str:
    return number[:4] + "*" * max(0, len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)


def mask_phone(phone: str | None) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if phone and len(phone) == 11 else ""
