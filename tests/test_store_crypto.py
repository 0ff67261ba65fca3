"""Encryption at rest: round trip, tampering and row-swapping refused, key file permissions enforced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from locker.crypto import Cipher, load_key_file
from locker.errors import DecryptionError, KeyFileError
from locker.store import Store
from locker.submissions import Identity


def cipher(tmp_path: Path) -> Cipher:
    return Cipher.from_key_file(tmp_path / "k.key", create=True)


def test_round_trip_with_a_fresh_nonce_each_time(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    a = c.encrypt(b"44010119900101123X", table="cases", row="ABCD2345", field="identity")
    b = c.encrypt(b"44010119900101123X", table="cases", row="ABCD2345", field="identity")
    assert a != b
    assert c.decrypt(a, table="cases", row="ABCD2345", field="identity") == b"44010119900101123X"


@pytest.mark.parametrize("position", [0, 5, 20, -1])
def test_any_flipped_byte_is_refused(tmp_path: Path, position: int) -> None:
    c = cipher(tmp_path)
    blob = bytearray(c.encrypt(b"fingerprint template", table="cases", row="R", field="fingerprint"))
    blob[position] ^= 0x40
    with pytest.raises(DecryptionError):
        c.decrypt(bytes(blob), table="cases", row="R", field="fingerprint")


def test_truncated_ciphertext_is_refused(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    blob = c.encrypt(b"x", table="t", row=1, field="f")
    for cut in (0, 1, 13, len(blob) - 1):
        with pytest.raises(DecryptionError):
            c.decrypt(blob[:cut], table="t", row=1, field="f")


def test_ciphertext_moved_to_another_field_or_key_is_refused(tmp_path: Path) -> None:
    c = cipher(tmp_path)
    blob = c.encrypt(b"photo", table="cases", row="R", field="card_photo")
    with pytest.raises(DecryptionError):
        c.decrypt(blob, table="cases", row="R", field="fingerprint")
    other = Cipher.from_key_file(tmp_path / "other.key", create=True)
    with pytest.raises(DecryptionError, match="another key"):
        other.decrypt(blob, table="cases", row="R", field="card_photo")


def test_identity_swapped_between_two_cases_in_the_database_is_refused(tmp_path: Path) -> None:
    with Store.open(tmp_path / "d", tmp_path / "k.key", create_key=True) as s:
        a = s.submissions.open_draft(service_id="x", required_papers=[], identity=Identity("甲", "44010119900101123X"))
        b = s.submissions.open_draft(service_id="x", required_papers=[], identity=Identity("乙", "11010519491231002X"))
        s.db.execute(
            "UPDATE cases SET identity_enc = (SELECT identity_enc FROM cases WHERE case_code = ?) WHERE case_code = ?",
            (a.case_code, b.case_code),
        )
        assert s.submissions.identity(a.case_code).name == "甲"
        with pytest.raises(DecryptionError, match=b.case_code):
            s.submissions.identity(b.case_code)


def test_key_file_is_created_0600_only_when_allowed(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "store.key"
    with pytest.raises(KeyFileError, match="does not exist"):
        load_key_file(path, create=False)
    old = os.umask(0)  # even a permissive umask must not loosen the new file
    try:
        key = load_key_file(path, create=True)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(key) == 32 and load_key_file(path) == key


def test_key_file_with_loose_mode_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "store.key"
    load_key_file(path, create=True)
    path.chmod(0o644)
    with pytest.raises(KeyFileError) as err:
        load_key_file(path, create=True)
    assert f"chmod 600 {path}" in str(err.value)
    assert err.value.recovery.value == "maintenance"


def test_key_file_of_wrong_length_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "store.key"
    path.write_bytes(b"short")
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match="5 bytes"):
        load_key_file(path)
