"""The database gone or cut at start: deleted, 0 bytes, its write-ahead log lost or damaged after a crash.

Fault injected from outside: cases are committed by a kiosk process that is SIGKILLed (so the
newest ones live only in the write-ahead log), then the files are deleted, emptied or damaged
on disk. Checked: the start-up check refuses to serve residents (the runtime's ``store`` status is
down, so the app shows out of service), staff get an alert, the log, `kiosk doctor` and
`kiosk audit verify` name the backup to restore; a sound database starts normally and is backed up.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from runtime_support import ROOT, write_config

from flows.view import Screen
from kiosk.config import load_config
from locker.integrity import backup_database, check_store, inspect_files
from locker.store import DB_NAME, Store
from locker.submissions import CaseState, Identity

WRITER = """
import os, signal, sys
sys.path.insert(0, {root!r})
from locker.store import Store
from locker.submissions import Identity
store = Store.open({data!r}, {key!r}, create_key=True)
who = Identity("张三", "11010119900307777X")
for i in range({n}):
    t = store.submissions.open_draft(service_id="s", required_papers=[], identity=who)
    store.submissions.commit_submission(t.case_code, compartment_id="S01")
    print(t.case_code, flush=True)
if {kill}:
    os.kill(os.getpid(), signal.SIGKILL)
store.close()
"""


def write_cases(data: Path, key: Path, n: int, *, kill: bool) -> list[str]:
    """Commit ``n`` cases in a separate kiosk process; ``kill``: SIGKILL it before it closes the file."""
    code = WRITER.format(root=str(ROOT), data=str(data), key=str(key), n=n, kill=kill)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == (-signal.SIGKILL if kill else 0), proc.stderr
    return proc.stdout.split()


def damage(db: Path, how: str) -> None:
    wal, shm = db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")
    if how == "deleted":
        for f in (db, wal, shm):
            f.unlink(missing_ok=True)
    elif how == "zero_bytes":
        db.write_bytes(b"")
        wal.unlink(missing_ok=True)
        shm.unlink(missing_ok=True)
    elif how == "wal_lost":
        assert wal.stat().st_size > 0, "the newest cases should be in the WAL only"
        wal.unlink()
        shm.unlink(missing_ok=True)
    elif how == "wal_damaged":
        size = wal.stat().st_size
        with wal.open("r+b") as f:  # scribble over the first frame's page: its checksum fails
            f.seek(32 + 24 + 100)
            f.write(os.urandom(64))
        assert wal.stat().st_size == size
        shm.unlink(missing_ok=True)


@pytest.mark.parametrize("how", ["deleted", "zero_bytes", "wal_lost", "wal_damaged"])
def test_a_database_that_lost_cases_is_refused_and_the_backup_named(tmp_path: Path, how: str) -> None:
    data, key = tmp_path / "data", tmp_path / "keys" / "kiosk.key"
    kept = write_cases(data, key, 2, kill=False)  # checkpointed into the main file at close
    db = data / DB_NAME
    backup = backup_database(db)
    lost = write_cases(data, key, 3, kill=True)  # these live in the WAL only
    damage(db, how)

    facts = inspect_files(db)
    with Store.open(data, key) as store:
        report = check_store(store.audit, facts)
        have = {c.case_code for c in store.submissions.list_cases(CaseState.COMMITTED)}
    assert not set(lost) <= have, "the fault did not lose anything; the test injects nothing"
    assert not report.serve
    assert any("missing" in p or "0 bytes" in p for p in report.problems), report.problems
    assert report.backup == backup and str(backup) in report.summary()
    if how.startswith("wal"):
        assert have == set(kept)  # the checkpointed cases are still there; the newest are not


def test_a_sound_database_is_served_and_backed_up(tmp_path: Path) -> None:
    data, key = tmp_path / "data", tmp_path / "keys" / "kiosk.key"
    write_cases(data, key, 2, kill=True)  # a crash with the WAL intact: SQLite replays it
    facts = inspect_files(data / DB_NAME)
    with Store.open(data, key) as store:
        report = check_store(store.audit, facts)
        assert len(store.submissions.list_cases(CaseState.COMMITTED)) == 2
    assert report.serve and report.quick_check == "ok" and not report.problems


def kiosk_cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "--config", str(config), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deleted_database_at_start_takes_the_kiosk_out_of_service(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from kiosk.runtime import KioskRuntime

    config = write_config(tmp_path, pcsc=False)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("urls = []", 'urls = ["json://127.0.0.1:9/kiosk-alerts"]', 1), encoding="utf-8")
    cfg = load_config(config)
    runtime = KioskRuntime(cfg, supervise_interval=5).start()  # a sound first start makes a backup
    try:
        assert runtime.trackers()["store"].status.usable
    finally:
        runtime.close()
    backups = sorted((cfg.store.data_dir / "backups").glob("kiosk-*.sqlite3"))
    assert len(backups) == 1
    db = cfg.store.data_dir / DB_NAME
    write_cases(cfg.store.data_dir, cfg.store.key_file, 2, kill=False)  # residents got receipts
    damage(db, "deleted")

    verify = kiosk_cli(config, "audit", "verify")
    assert verify.returncode == 1 and "nothing to do" not in verify.stdout
    assert "missing" in verify.stdout and str(backups[0]) in verify.stdout
    doctor = kiosk_cli(config, "doctor", "--no-devices")
    assert str(backups[0]) in doctor.stdout, doctor.stdout + doctor.stderr

    caplog.set_level(logging.ERROR, logger="kiosk.runtime")
    runtime = KioskRuntime(cfg, supervise_interval=5).start()
    try:
        store = runtime.trackers()["store"]
        assert not store.status.usable and "missing" in store.detail
        assert "store" in runtime.required_devices()  # the app's out-of-service switch watches it
        os.environ.setdefault("KIVY_NO_ARGS", "1")
        from kiosk.app import DeviceWatch

        oos = DeviceWatch(runtime.trackers(), runtime.required_devices(), lambda: None).view()
        assert oos is not None and oos.screen is Screen.OUT_OF_SERVICE  # what a resident sees
        assert "store" in [d["device"] for d in oos.params["devices"]] and oos.actions == ()
        alerts = runtime.store.db.query("SELECT title, body FROM outbox WHERE kind = 'store.integrity'")
        assert alerts and str(backups[0]) in alerts[0]["body"]
        assert any(str(backups[0]) in r.getMessage() for r in caplog.records)
        assert not list((cfg.store.data_dir / "backups").glob("kiosk-*.sqlite3"))[1:]  # no backup of a bad db
    finally:
        runtime.close()


def test_staff_see_nothing_of_it_when_nothing_was_lost(tmp_path: Path) -> None:
    """An ordinary restart with an intact database: no alert, the store is up."""
    data, key = tmp_path / "data", tmp_path / "keys" / "kiosk.key"
    write_cases(data, key, 1, kill=False)
    with Store.open(data, key) as store:
        report = check_store(store.audit, inspect_files(data / DB_NAME))
        _ = store.submissions.open_draft(service_id="s", required_papers=[], identity=Identity("李四", "110"))
    assert report.serve and report.backup is None


def test_daily_backup_is_fresh_and_never_of_a_bad_database(tmp_path: Path) -> None:
    from devices.status import DeviceStatus
    from kiosk.runtime import KioskRuntime

    runtime = KioskRuntime(load_config(write_config(tmp_path, pcsc=False)))  # not started: its backup only
    data, key = tmp_path / "data", tmp_path / "keys" / "kiosk.key"
    write_cases(data, key, 1, kill=False)
    backups = data / "backups"
    with Store.open(data, key) as store:
        runtime.store = store
        runtime._daily_backup()
        runtime._daily_backup()  # less than a day later: nothing new
        assert len(list(backups.glob("kiosk-*.sqlite3"))) == 1
        old = next(backups.glob("kiosk-*.sqlite3"))
        os.utime(old, (old.stat().st_atime - 2 * 86400, old.stat().st_mtime - 2 * 86400))
        old.rename(backups / "kiosk-20000101-000000.sqlite3")
        runtime.health["store"].set(DeviceStatus.HARDWARE_ERROR, "rows missing")
        runtime._daily_backup()  # a database that lost rows never pushes a good backup out
        assert [p.name for p in backups.glob("kiosk-*.sqlite3")] == ["kiosk-20000101-000000.sqlite3"]
        runtime.health["store"].set(DeviceStatus.ONLINE, "")
        runtime._daily_backup()
        assert len(list(backups.glob("kiosk-*.sqlite3"))) == 2
        runtime.store = None
