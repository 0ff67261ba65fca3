"""Issue 12, keys: the data key is recorded (id + check value) with the data, a wrong or missing key
is refused with the backup to restore, `kiosk key rotate` survives kill -9, the audit chain is keyed,
and staff PIN hashes cannot be checked with the database alone."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from locker.audit import GENESIS, row_hash
from locker.crypto import KEY_BYTES
from locker.errors import KeyFileError
from locker.keys import key_id
from locker.staff import StaffAccounts
from locker.store import DB_NAME, Store
from locker.submissions import Identity

ROOT = Path(__file__).resolve().parent.parent
FAST_N = 2**10


def make_store(root: Path, cases: int = 3) -> list[str]:
    """A store with committed cases (identity, scans); returns their pickup codes."""
    codes = []
    with Store.open(root / "state/data", root / "state/keys/kiosk.key", create_key=True) as store:
        for i in range(cases):
            ticket = store.submissions.open_draft(service_id="rural-house", required_papers=["身份证"],
                                                  identity=Identity(f"张三{i}", f"44010119900101{i:03d}X"))
            store.submissions.add_scan(ticket.case_code, "身份证", 1, f"%PDF-1.4 page {i}".encode())
            store.submissions.commit_submission(ticket.case_code, compartment_id=f"A0{i}", actor="resident")
            codes.append(ticket.pickup_code)
        StaffAccounts(store.db, store.audit, cipher=store.cipher, scrypt_n=FAST_N).add_staff("04A1B2C3", "王", "246810")
    return codes


def reopen(root: Path, *, create: bool = False) -> Store:
    return Store.open(root / "state/data", root / "state/keys/kiosk.key", create_key=create)


def all_readable(root: Path, codes: list[str]) -> None:
    with reopen(root) as store:
        for code in codes:
            case = store.submissions.find_by_pickup_code(code)
            assert store.submissions.identity(case.case_code).name.startswith("张三")
            assert store.submissions.read_scan(case.case_code, "身份证", 1).startswith(b"%PDF-1.4 page")
        assert store.verify_audit().ok, store.verify_audit()
        assert StaffAccounts(store.db, store.audit, cipher=store.cipher).verify("04A1B2C3", "246810")


def kiosk(root: Path, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
    cfg = root / "kiosk.toml"
    if not cfg.exists():
        cfg.write_text(f'[kiosk]\nstate_dir = "{root / "state"}"\n[store]\nmin_free_mb = 1\n')
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(cfg), *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, **kw)


def test_a_missing_key_is_not_replaced_while_encrypted_data_exists(tmp_path: Path) -> None:
    make_store(tmp_path)
    key_file = tmp_path / "state/keys/kiosk.key"
    recorded = key_id(key_file.read_bytes())
    key_file.unlink()
    with pytest.raises(KeyFileError) as err:
        reopen(tmp_path, create=True)
    assert f"key id {recorded}" in str(err.value) and "restore the backup" in str(err.value)
    assert not key_file.exists(), "a new key was created over existing data"
    app = kiosk(tmp_path, "purge")
    assert app.returncode == 2 and recorded in app.stderr


def test_a_wrong_32_byte_key_is_refused_at_start_naming_the_right_key_id(tmp_path: Path) -> None:
    codes = make_store(tmp_path)
    key_file = tmp_path / "state/keys/kiosk.key"
    recorded = key_id(key_file.read_bytes())
    good = key_file.read_bytes()
    key_file.write_bytes(os.urandom(KEY_BYTES))  # another kiosk's key, or a damaged one of the right length
    with pytest.raises(KeyFileError) as err:
        reopen(tmp_path)
    assert f"encrypted with key id {recorded}" in str(err.value)
    key_file.write_bytes(good)
    all_readable(tmp_path, codes)


def test_a_store_from_before_key_ids_is_adopted_only_with_the_key_that_reads_it(tmp_path: Path) -> None:
    import hashlib
    import hmac

    from locker.keys import legacy_mac_key

    codes = make_store(tmp_path)
    key_file = tmp_path / "state/keys/kiosk.key"
    good = key_file.read_bytes()
    with reopen(tmp_path) as store:
        case_of = {code: store.submissions.find_by_pickup_code(code).case_code for code in codes}
    # as written by the release before key ids: no key_meta, pickup MACs under the derived key, plain chain
    db, anchor = tmp_path / "state/data" / DB_NAME, tmp_path / "state/data" / (DB_NAME + ".audit-anchor")
    con = sqlite3.connect(db)
    con.execute("DROP TABLE key_meta")
    for code, case_code in case_of.items():
        mac = hmac.new(legacy_mac_key(good), f"pickup\x00{code}".encode(), hashlib.sha256).hexdigest()
        con.execute("UPDATE cases SET pickup_mac = ? WHERE case_code = ?", (mac, case_code))
    con.commit()
    con.close()
    _rechain_plain(db, anchor)
    key_file.write_bytes(os.urandom(KEY_BYTES))
    with pytest.raises(KeyFileError, match="does not decrypt the data already"):
        reopen(tmp_path)
    key_file.write_bytes(good)
    all_readable(tmp_path, codes)  # pickup codes still found, chain now keyed and verified


def test_key_rotate_re_encrypts_everything_and_the_old_key_opens_nothing(tmp_path: Path) -> None:
    codes = make_store(tmp_path)
    key_file = tmp_path / "state/keys/kiosk.key"
    old = key_file.read_bytes()
    db_before = (tmp_path / "state/data" / DB_NAME).read_bytes()
    out = kiosk(tmp_path, "key", "rotate")
    assert out.returncode == 0, out.stderr
    assert key_file.read_bytes() != old and key_id(key_file.read_bytes()) in out.stdout
    assert (key_file.stat().st_mode & 0o077) == 0
    all_readable(tmp_path, codes)  # pickup codes, identities, scans, staff PINs, audit chain
    assert db_before  # (kept for the assertion message)
    key_file.write_bytes(old)
    with pytest.raises(KeyFileError, match="encrypted with key id"):
        reopen(tmp_path)


def test_key_rotate_refuses_while_the_kiosk_has_the_store_open(tmp_path: Path) -> None:
    make_store(tmp_path)
    with reopen(tmp_path):
        out = kiosk(tmp_path, "key", "rotate")
    assert out.returncode == 2 and "stop the kiosk" in out.stderr


@pytest.mark.parametrize("kill_after", [0.4, 1.6])
def test_key_rotate_killed_mid_way_leaves_every_case_readable(tmp_path: Path, kill_after: float) -> None:
    """kill -9 while scan files are being re-encrypted (0.4 s) or after (1.6 s: commit or the renames)."""
    codes = make_store(tmp_path, cases=4)
    cfg_args = ("key", "rotate", "--pause", "0.3")
    kiosk(tmp_path, "key", "id")  # writes kiosk.toml
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--config", str(tmp_path / "kiosk.toml"), *cfg_args],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(kill_after + 0.8)  # interpreter start-up
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    all_readable(tmp_path, codes)  # the next opener finished or undid the rotation
    assert not list((tmp_path / "state/data/scans").glob("*/*.rotating"))
    assert not (tmp_path / "state/keys/kiosk.key.next").exists()
    again = kiosk(tmp_path, "key", "rotate")
    assert again.returncode == 0, again.stderr
    all_readable(tmp_path, codes)


def _rechain_plain(db: Path, anchor: Path) -> None:
    """What an intruder with write access and no key can do: recompute a plain SHA-256 chain and anchor."""
    con = sqlite3.connect(db)
    prev, last = GENESIS, None
    for seq, at, actor, action, case, detail in con.execute(
        "SELECT seq, at, actor, action, case_code, detail FROM audit_log ORDER BY seq"
    ).fetchall():
        h = row_hash(prev, seq, at, actor, action, case, detail)
        con.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, h, seq))
        prev, last = h, (seq, h)
    con.commit()
    con.close()
    if last:
        anchor.write_text(json.dumps({"seq": last[0], "hash": last[1]}))


@pytest.mark.parametrize(
    "attack", ["edit_rechain", "cut_tail_rewrite_anchor", "delete_renumber", "delete_all", "delete_all_and_key_meta"]
)
def test_audit_tampering_that_recomputes_plain_hashes_is_caught(tmp_path: Path, attack: str) -> None:
    make_store(tmp_path)
    db, anchor = tmp_path / "state/data" / DB_NAME, tmp_path / "state/data" / (DB_NAME + ".audit-anchor")
    con = sqlite3.connect(db)
    n = con.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
    if attack == "edit_rechain":
        con.execute("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3")
    elif attack == "cut_tail_rewrite_anchor":
        con.execute("DELETE FROM audit_log WHERE seq > ?", (n - 2,))
    elif attack == "delete_renumber":
        con.execute("DELETE FROM audit_log WHERE seq = 3")
        con.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 3")
    else:
        con.execute("DELETE FROM audit_log")
        if attack == "delete_all_and_key_meta":  # so the store looks like one from before key ids
            con.execute("DROP TABLE key_meta")
    con.commit()
    con.close()
    if attack.startswith("delete_all"):
        anchor.unlink()
    else:
        _rechain_plain(db, anchor)
    out = kiosk(tmp_path, "audit", "verify")
    assert out.returncode == 1 and "BROKEN" in out.stdout, out.stdout + out.stderr


def test_a_broken_chain_at_start_raises_a_staff_alert(tmp_path: Path) -> None:
    from locker.audit import check_at_start
    from locker.outbox import Outbox

    make_store(tmp_path)
    con = sqlite3.connect(tmp_path / "state/data" / DB_NAME)
    con.execute("UPDATE audit_log SET detail = '{}' WHERE seq = 2")
    con.commit()
    con.close()
    with reopen(tmp_path) as store:
        outbox = Outbox(store.db, ["json://127.0.0.1:9/alerts"])
        report = check_at_start(store.audit, outbox)
        assert not report.ok
        alerts = [i for i in outbox.items() if i.kind == "audit_chain_broken"]
        body = store.db.query_one("SELECT body FROM outbox WHERE kind = ?", ("audit_chain_broken",))["body"]
        assert len(alerts) == 1 and "row 2" in body


def test_pin_hashes_need_the_key_and_old_hashes_are_peppered_in_place(tmp_path: Path) -> None:
    import hashlib

    with Store.open(tmp_path / "data", tmp_path / "keys/k.key", create_key=True) as store:
        plain = StaffAccounts(store.db, store.audit, scrypt_n=FAST_N)  # as before the pepper
        plain.add_staff("04000001", "旧", "135790")
        StaffAccounts(store.db, store.audit, cipher=store.cipher, scrypt_n=FAST_N)  # start: migrates
        row = store.db.query_one("SELECT * FROM staff WHERE badge_uid = '04000001'")
        assert row["pin_kdf"].endswith("+aead")
        # an offline attacker with the database alone: no PIN reproduces the stored bytes
        spec = row["pin_kdf"].removesuffix("+aead").split(":")
        digest = hashlib.scrypt(b"135790", salt=row["pin_salt"], n=int(spec[1]), r=int(spec[2]), p=int(spec[3]),
                                dklen=32, maxmem=64 * 1024 * 1024)
        assert digest != bytes(row["pin_hash"]) and digest not in bytes(row["pin_hash"])
        accounts = StaffAccounts(store.db, store.audit, cipher=store.cipher, scrypt_n=FAST_N)
        assert accounts.verify("04000001", "135790").name == "旧"


def test_key_rotate_from_a_root_shell_reseals_a_sealed_credential(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    if shutil.which("systemd-creds") is None:
        pytest.skip("systemd-creds is not installed here")
    codes = make_store(tmp_path)
    key_file = tmp_path / "state/keys/kiosk.key"
    credstore = tmp_path / "credstore"
    credstore.mkdir(mode=0o700)
    cred = credstore / "kiosk-data-key"
    # what make install does (tpm2-absent: a null sealing key, so no TPM or host secret is needed here)
    subprocess.run(["systemd-creds", "encrypt", "--name=kiosk-data-key", "--with-key=tpm2-absent", str(key_file),
                    str(cred)], check=True, capture_output=True, timeout=60)
    old_id = key_id(key_file.read_bytes())
    key_file.unlink()  # the key is no longer on the data disk
    monkeypatch.setenv("KIOSK_CREDSTORE", str(credstore))
    monkeypatch.setenv("KIOSK_CREDS_WITH_KEY", "tpm2-absent")
    before = cred.read_bytes()
    out = kiosk(tmp_path, "key", "rotate")
    assert out.returncode == 0, out.stderr
    assert cred.read_bytes() != before and not (credstore / "kiosk-data-key.next").exists()
    shown = kiosk(tmp_path, "key", "id")
    ids = set(re.findall(r"key id ([0-9a-f]{16})", shown.stdout))
    assert len(ids) == 1 and old_id not in ids, shown.stdout  # the sealed key and the data agree: a new id
    all_readable(tmp_path, codes)
    assert not key_file.exists()
