"""Issue 12, staff authentication: escalating lock-out with alerts, concurrent guesses, unknown badges,
`kiosk staff revoke|set-pin|unlock`, and the demo account kept out of hardware mode."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from locker.audit import AuditLog
from locker.db import Database
from locker.outbox import Outbox
from locker.staff import LOCKED_UNTIL_UNLOCKED, BadgeLocked, StaffAccounts, UnknownBadge, WrongPin
from locker.store import Store

ROOT = Path(__file__).resolve().parent.parent
FAST_N = 2**10
BADGE, PIN = "04A1B2C3", "24681357"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def five_wrong(staff: StaffAccounts) -> BadgeLocked:
    for _ in range(4):
        with pytest.raises(WrongPin):
            staff.verify(BADGE, "000000")
    with pytest.raises(BadgeLocked) as locked:
        staff.verify(BADGE, "000000")
    return locked.value


def test_lock_out_escalates_5_then_30_minutes_then_until_unlocked_with_an_alert_each_time(tmp_path: Path) -> None:
    clock = Clock()
    db = Database(tmp_path / "k.sqlite3")
    outbox = Outbox(db, ["json://127.0.0.1:9/alerts"], clock=clock)
    staff = StaffAccounts(db, AuditLog(db, clock=clock), clock=clock, scrypt_n=FAST_N, alerts=outbox)
    staff.add_staff(BADGE, "王", PIN)
    assert five_wrong(staff).until == clock.now + 300
    clock.now += 301
    assert five_wrong(staff).until == clock.now + 1800
    clock.now += 1801
    third = five_wrong(staff)
    assert third.until >= LOCKED_UNTIL_UNLOCKED and "administrator" in third.message
    clock.now += 10 * 86400
    with pytest.raises(BadgeLocked):
        staff.verify(BADGE, PIN)  # ten days later: still locked, even with the right PIN
    alerts = [i for i in outbox.items() if i.kind == "staff_badge_locked"]
    assert len(alerts) == 3
    bodies = [r["body"] for r in db.query("SELECT body FROM outbox WHERE kind = 'staff_badge_locked' ORDER BY id")]
    assert "5 minutes" in bodies[0] and "30 minutes" in bodies[1] and "administrator" in bodies[2]
    assert all(BADGE not in b for b in bodies) and all("04****C3" in b for b in bodies)
    staff.unlock(BADGE)
    assert staff.verify(BADGE, PIN).name == "王"


def test_twenty_concurrent_wrong_pins_get_five_checks(tmp_path: Path) -> None:
    """Two kiosk processes' worth of connections, ten threads each, all guessing at once."""
    clock = Clock()
    dbs = [Database(tmp_path / "k.sqlite3"), Database(tmp_path / "k.sqlite3")]
    accounts = [StaffAccounts(db, AuditLog(db, clock=clock), clock=clock, scrypt_n=2**12) for db in dbs]
    accounts[0].add_staff(BADGE, "王", PIN)
    outcomes: list[str] = []
    start = threading.Barrier(20)

    def guess(staff: StaffAccounts, pin: str) -> None:
        start.wait()
        try:
            staff.verify(BADGE, pin)
            outcomes.append("in")
        except WrongPin:
            outcomes.append("wrong")
        except BadgeLocked:
            outcomes.append("locked")

    threads = [threading.Thread(target=guess, args=(accounts[i % 2], f"{100000 + i}")) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 20 and "in" not in outcomes
    checked = [r for r in dbs[0].query("SELECT action FROM audit_log") if r["action"] in
               ("staff.wrong_pin", "staff.badge_locked")]
    assert len(checked) == 5, outcomes  # 4 wrong + the locking one; the other 15 were refused unchecked
    assert outcomes.count("wrong") == 4 and outcomes.count("locked") == 16


def test_a_tap_by_an_unknown_badge_is_audited_masked(tmp_path: Path) -> None:
    db = Database(tmp_path / "k.sqlite3")
    staff = StaffAccounts(db, AuditLog(db), scrypt_n=FAST_N)
    with pytest.raises(UnknownBadge):
        staff.verify("DEADBEEF", "123456")
    row = db.query_one("SELECT actor, action, detail FROM audit_log")
    assert row["action"] == "staff.unknown_badge" and "DE****EF" in row["detail"] and "DEADBEEF" not in row["detail"]


def kiosk(root: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    cfg = root / "kiosk.toml"
    if not cfg.exists():
        cfg.write_text(f'[kiosk]\nstate_dir = "{root / "state"}"\n[store]\nmin_free_mb = 1\n')
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(cfg), *args], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, input=stdin, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_kiosk_staff_revoke_set_pin_and_unlock_from_the_command_line(tmp_path: Path) -> None:
    assert kiosk(tmp_path, "staff", "add", BADGE, "王", stdin=f"{PIN}\n{PIN}\n").returncode == 0
    store = lambda: Store.open(tmp_path / "state/data", tmp_path / "state/keys/kiosk.key")  # noqa: E731
    with store() as s:
        five_wrong(StaffAccounts(s.db, s.audit, cipher=s.cipher))
    with store() as s, pytest.raises(BadgeLocked):
        StaffAccounts(s.db, s.audit, cipher=s.cipher).verify(BADGE, PIN)
    out = kiosk(tmp_path, "staff", "unlock", BADGE)
    assert out.returncode == 0, out.stderr
    with store() as s:
        assert StaffAccounts(s.db, s.audit, cipher=s.cipher).verify(BADGE, PIN)
    out = kiosk(tmp_path, "staff", "set-pin", BADGE, stdin="123456789012\n123456789012\n")
    assert out.returncode == 0, out.stdout + out.stderr
    with store() as s:
        staff = StaffAccounts(s.db, s.audit, cipher=s.cipher)
        assert staff.verify(BADGE, "123456789012")  # a 12-digit PIN
        with pytest.raises(WrongPin):
            staff.verify(BADGE, PIN)
    assert kiosk(tmp_path, "staff", "revoke", BADGE).returncode == 0
    with store() as s, pytest.raises(UnknownBadge):
        StaffAccounts(s.db, s.audit, cipher=s.cipher).verify(BADGE, "123456789012")
    listed = kiosk(tmp_path, "staff", "list")
    assert BADGE not in listed.stdout
    assert kiosk(tmp_path, "staff", "unlock", "0BADBADB").returncode == 1


def test_demo_account_only_in_a_simulator_state_folder_and_hardware_mode_refuses_it(tmp_path: Path) -> None:
    from runtime_support import write_config

    from devices.errors import KioskError
    from kiosk.config import load_config
    from kiosk.runtime import DEMO_BADGE, DEMO_PIN, KioskRuntime

    sim_cfg = load_config(write_config(tmp_path, pcsc=False))
    # A state folder that already holds cases (a real kiosk's, copied to try the simulator) gets no demo account.
    with Store.open(sim_cfg.store.data_dir, sim_cfg.store.key_file, create_key=True) as store:
        from locker.submissions import Identity

        store.submissions.open_draft(service_id="s", required_papers=[],
                                     identity=Identity("张三", "110105199003071239"))
    runtime = KioskRuntime(sim_cfg)
    runtime.store = Store.open(sim_cfg.store.data_dir, sim_cfg.store.key_file)
    try:
        runtime.staff_accounts = StaffAccounts(runtime.store.db, runtime.store.audit, cipher=runtime.store.cipher)
        runtime._seed_demo_staff()
        assert not runtime.demo_staff_seeded and not runtime.staff_accounts.exists(DEMO_BADGE)
    finally:
        runtime.store.close()

    # A fresh simulator folder gets it, and is marked as one.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    cfg_path = write_config(fresh, pcsc=False)
    cfg = load_config(cfg_path)
    runtime = KioskRuntime(cfg)
    runtime.store = Store.open(cfg.store.data_dir, cfg.store.key_file, create_key=True)
    try:
        runtime.staff_accounts = StaffAccounts(runtime.store.db, runtime.store.audit, cipher=runtime.store.cipher)
        runtime._seed_demo_staff()
        assert runtime.demo_staff_seeded and runtime.staff_accounts.verify(DEMO_BADGE, DEMO_PIN)
    finally:
        runtime.store.close()
    assert (cfg.store.data_dir / ".simulator-state").exists()

    # The same folder switched to hardware mode: the kiosk refuses to start while the account exists.
    text = cfg_path.read_text().replace("[simulator]\nenabled = true", "[simulator]\nenabled = false")
    cfg_path.write_text(text.replace('url = "http://127.0.0.1:8765"', 'url = "https://127.0.0.1:8765"'))
    hw = load_config(cfg_path)
    assert not hw.simulator.enabled
    with pytest.raises(KioskError, match="demo staff account"):
        KioskRuntime(hw).start()
    with Store.open(hw.store.data_dir, hw.store.key_file) as store:
        StaffAccounts(store.db, store.audit, cipher=store.cipher).revoke(DEMO_BADGE)
        assert not StaffAccounts(store.db, store.audit).exists(DEMO_BADGE)
