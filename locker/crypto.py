"""Encryption of personal data at rest with a key file that never enters the database.

AES-256-GCM, a fresh random 96-bit nonce per item, and associated data naming the item's place
(``table/row/field``): a ciphertext copied into another row or field fails its tag exactly like a
tampered one. A stolen database (or backup of it) without the key file holds no readable personal
data. Blob layout: ``b"\\x01" + nonce(12) + ciphertext+tag``; the leading byte is the format version.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from locker.errors import DecryptionError, KeyFileError
from locker.fsutil import fsync_dir

log = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
FORMAT_V1 = b"\x01"


def associated_data(table: str, row: str | int, field: str) -> bytes:
    return f"{table}/{row}/{field}".encode()


class Cipher:
    """Encrypts and authenticates small items; also derives a MAC key for lookup codes."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise KeyFileError(f"encryption key must be {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)
        self._key = key
        # A separate key for MACs, so a MAC never equals anything computed with the AES key. A
        # store replaces it with its wrapped lookup key (locker.keys), which survives key rotation.
        self._mac_key = hmac.new(key, b"kiosk-store/mac-key/v1", hashlib.sha256).digest()
        self.audit_scheme = "hmac-v1"  # "sha256": a chain that was broken before keyed hashes came
        self.just_recorded = False  # True when this start recorded the key with the data (locker.keys)

    @property
    def key_id(self) -> str:
        return hmac.new(self._key, b"kiosk-store/key-id/v1", hashlib.sha256).hexdigest()[:16]

    def derive(self, purpose: bytes) -> bytes:
        """A sub-key for one purpose (audit chain HMAC, ...): never the data key itself."""
        return hmac.new(self._key, purpose, hashlib.sha256).digest()

    @property
    def audit_key(self) -> bytes | None:
        """The audit chain's HMAC key, or None while the chain stays plain (see locker.audit)."""
        return self.derive(b"kiosk-store/audit-chain/v1") if self.audit_scheme == "hmac-v1" else None

    @property
    def lookup_key(self) -> bytes:
        return self._mac_key

    def set_lookup_key(self, key: bytes) -> None:
        self._mac_key = key

    @classmethod
    def from_key_file(cls, path: str | Path, *, create: bool = False) -> Cipher:
        return cls(load_key_file(path, create=create))

    def encrypt(self, plaintext: bytes, *, table: str, row: str | int, field: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        ct = self._aead.encrypt(nonce, plaintext, associated_data(table, row, field))
        return FORMAT_V1 + nonce + ct

    def decrypt(self, blob: bytes, *, table: str, row: str | int, field: str) -> bytes:
        where = f"{table}/{row}/{field}"
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != FORMAT_V1:
            raise DecryptionError(f"ciphertext for {where} is truncated or of an unknown format")
        nonce, ct = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, ct, associated_data(table, row, field))
        except InvalidTag:
            raise DecryptionError(
                f"ciphertext for {where} failed authentication: altered, or copied from another "
                f"row/field, or encrypted with another key file"
            ) from None

    def mac(self, purpose: str, data: str) -> str:
        """Keyed hash for looking things up without storing them (pickup codes)."""
        return hmac.new(self._mac_key, f"{purpose}\x00{data}".encode(), hashlib.sha256).hexdigest()


def load_key_file(path: str | Path, *, create: bool = False) -> bytes:
    """Read the 32-byte key; create it (mode 0600) only when ``create`` is true."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        if not create:
            raise KeyFileError(
                f"key file {p} does not exist and creating it is not allowed by the configuration; "
                f"restore it from the key backup (without it existing personal data cannot be read)"
            ) from None
        return _create_key_file(p)
    except OSError as exc:
        raise KeyFileError(f"cannot stat key file {p}: {exc.strerror}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise KeyFileError(f"key file {p} is not a regular file")
    loose = stat.S_IMODE(st.st_mode) & 0o077
    if loose:
        raise KeyFileError(
            f"key file {p} has mode {stat.S_IMODE(st.st_mode):04o}, readable or writable by others; "
            f"fix it with: chmod 600 {p}"
        )
    try:
        key = p.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {p}: {exc.strerror}") from exc
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"key file {p} holds {len(key)} bytes, expected {KEY_BYTES}; it is damaged")
    return key


def _create_key_file(p: Path) -> bytes:
    key = AESGCM.generate_key(bit_length=256)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # created by a concurrent start; use that one
        return load_key_file(p, create=False)
    except OSError as exc:
        raise KeyFileError(f"cannot create key file {p}: {exc.strerror}") from exc
    try:
        os.fchmod(fd, 0o600)  # O_CREAT's mode is filtered by the umask; make it exact
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    fsync_dir(p.parent)
    log.warning("created a new encryption key file %s — back it up; without it data is unreadable", p)
    return key
