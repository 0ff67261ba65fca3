"""Staff accounts: hashed PINs, persisted lock-out, the CLI helper."""

from __future__ import annotations

from pathlib import Path

import pytest

from locker.audit import AuditLog
from locker.db import Database
from locker.staff import (
    BadgeLocked,
    BadPin,
    StaffAccounts,
    StaffExists,
    UnknownBadge,
    WrongPin,
    cli_add_staff,
)

FAST_N = 2**10  # keeps the tests quick; production uses 2**14


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def accounts(path: Path, clock: Clock) -> tuple[StaffAccounts, Database]:
    db = Database(path)
    return StaffAccounts(db, AuditLog(db, clock=clock), clock=clock, scrypt_n=FAST_N), db


def test_pin_is_stored_hashed_and_verifies(tmp_path: Path) -> None:
    clock = Clock()
    staff, db = accounts(tmp_path / "k.sqlite3", clock)
    member = staff.add_staff("04:a2:1b:9c", "Wang Fang", "73915862")
    assert member.badge_uid == "04A21B9C" and member.actor == "staff:04****9C"
    assert staff.verify("04a21b9c", "73915862") == member
    with pytest.raises(StaffExists):
        staff.add_staff("04A21B9C", "Someone", "11112222")
    with pytest.raises(BadPin):
        staff.add_staff("05", "Li", "12ab56")
    with pytest.raises(UnknownBadge):
        staff.verify("FFFF", "73915862")
    db.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("k.sqlite3"))
    assert b"73915862" not in raw
    salts = Database(tmp_path / "k.sqlite3").query("SELECT pin_salt, pin_hash FROM staff")
    assert len(salts[0]["pin_salt"]) == 16 and len(salts[0]["pin_hash"]) == 32


def test_five_wrong_pins_lock_the_badge_for_five_minutes_across_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    staff, db = accounts(tmp_path / "k.sqlite3", clock)
    staff.add_staff("AA01", "Zhao", "246813")
    lefts = []
    for _ in range(3):
        with pytest.raises(WrongPin) as err:
            staff.verify("AA01", "000000")
        lefts.append(err.value.tries_left)
    assert lefts == [4, 3, 2]
    db.close()
    staff, db = accounts(tmp_path / "k.sqlite3", clock)  # the kiosk restarts: the count is kept
    with pytest.raises(WrongPin) as err:
        staff.verify("AA01", "000000")
    assert err.value.tries_left == 1
    with pytest.raises(BadgeLocked) as locked:
        staff.verify("AA01", "000000")
    assert locked.value.until == clock.now + 300
    db.close()
    staff, db = accounts(tmp_path / "k.sqlite3", clock)
    with pytest.raises(BadgeLocked):
        staff.verify("AA01", "246813")  # even the right PIN while locked
    clock.now += 299
    with pytest.raises(BadgeLocked):
        staff.verify("AA01", "246813")
    clock.now += 2
    assert staff.verify("AA01", "246813").name == "Zhao"
    with pytest.raises(WrongPin) as err:
        staff.verify("AA01", "111111")
    assert err.value.tries_left == 4  # a good PIN resets the count
    actions = [r["action"] for r in AuditLog(db).rows()]
    assert actions.count("staff.badge_locked") == 1 and actions.count("staff.login") == 1
    db.close()


def test_cli_helper_asks_twice_and_adds(tmp_path: Path) -> None:
    clock = Clock()
    staff, db = accounts(tmp_path / "k.sqlite3", clock)
    said: list[str] = []
    answers = iter(["123456", "654321"])
    assert cli_add_staff(staff, "B1", "Chen", read_pin=lambda _: next(answers), out=said.append) == 2
    assert staff.list_staff() == []
    assert cli_add_staff(staff, "B1", "Chen", read_pin=lambda _: "123456", out=said.append) == 0
    assert [m.name for m in staff.list_staff()] == ["Chen"]
    assert cli_add_staff(staff, "B1", "Chen", read_pin=lambda _: "123456", out=said.append) == 1
    staff.deactivate("B1")
    with pytest.raises(UnknownBadge):
        staff.verify("B1", "123456")
    db.close()
