"""`kiosk audit verify`, `kiosk doctor` and `kiosk purge` on a real store, as a technician runs them."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from locker.store import DB_NAME, Store
from locker.submissions import Identity

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def kiosk_dir(tmp_path: Path) -> Path:
    (tmp_path / "kiosk.toml").write_text(f"""
[kiosk]
state_dir = "{tmp_path / 'state'}"
[store]
retention_days = 30
min_free_mb = 1
""")
    store = Store.open(tmp_path / "state/data", tmp_path / "state/keys/kiosk.key", create_key=True)
    with store:
        for papers in (["身份证", "户口本"], ["身份证"]):
            ticket = store.submissions.open_draft(service_id="rural-house", required_papers=papers,
                                                  identity=Identity("张三丰", "44010119900101123X"))
            for paper in papers:
                store.submissions.add_scan(ticket.case_code, paper, 1, b"%PDF-1.4 page")
            store.submissions.commit_submission(ticket.case_code, compartment_id="A01", actor="resident")
    return tmp_path


def kiosk(kiosk_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(kiosk_dir / "kiosk.toml"), *args],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_audit_verify_passes_then_names_the_tampered_row(kiosk_dir: Path) -> None:
    ok = kiosk(kiosk_dir, "audit", "verify")
    assert ok.returncode == 0 and "audit chain OK" in ok.stdout
    con = sqlite3.connect(kiosk_dir / "state/data" / DB_NAME)
    con.execute("UPDATE audit_log SET actor = 'intruder' WHERE seq = 2")
    con.commit()
    con.close()
    bad = kiosk(kiosk_dir, "audit", "verify")
    assert bad.returncode == 1
    assert "BROKEN" in bad.stdout and "row 2: altered" in bad.stdout


def test_doctor_is_green_then_names_a_loose_key_file_with_its_fix(kiosk_dir: Path) -> None:
    ok = kiosk(kiosk_dir, "doctor", "--no-devices")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    for what in ("configuration", "disk space", "key file", "database", "audit chain", "scan files", "staff alerts"):
        assert what in ok.stdout
    key = kiosk_dir / "state/keys/kiosk.key"
    key.chmod(0o644)
    bad = kiosk(kiosk_dir, "doctor", "--no-devices")
    assert bad.returncode == 1
    assert "FAIL key file" in bad.stdout and f"chmod 600 {key}" in bad.stdout


def test_doctor_finds_an_altered_scan_file(kiosk_dir: Path) -> None:
    scans = sorted((kiosk_dir / "state/data/scans").rglob("*"))
    victim = next(p for p in scans if p.is_file())
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    bad = kiosk(kiosk_dir, "doctor", "--no-devices")
    assert bad.returncode == 1 and "FAIL scan files" in bad.stdout


def test_purge_keeps_cases_that_are_not_collected(kiosk_dir: Path) -> None:
    out = kiosk(kiosk_dir, "purge")
    assert out.returncode == 0 and "purged personal data of 0 case(s)" in out.stdout


def test_staff_add_asks_the_pin_twice_and_stores_no_plain_pin(kiosk_dir: Path) -> None:
    config = str(kiosk_dir / "kiosk.toml")
    run = [sys.executable, "-m", "kiosk.cli", "--config", config, "staff"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    differ = subprocess.run([*run, "add", "04A1B2C3", "王芳"], input="246813\n246810\n", capture_output=True,
                            text=True, timeout=60, env=env, cwd=ROOT)
    assert differ.returncode == 2 and "nothing was saved" in differ.stdout
    added = subprocess.run([*run, "add", "04A1B2C3", "王芳"], input="246813\n246813\n", capture_output=True,
                           text=True, timeout=60, env=env, cwd=ROOT)
    assert added.returncode == 0, added.stdout + added.stderr
    listed = subprocess.run([*run, "list"], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert "04A1B2C3" in listed.stdout and "王芳" in listed.stdout
    raw = b"".join(p.read_bytes() for p in (kiosk_dir / "state/data").glob(f"{DB_NAME}*"))
    assert b"246813" not in raw
