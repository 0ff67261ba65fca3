"""Door entry: the door reader (PC/SC via pcscd + vpcd) opens the LCUS relay (pty simulator) after hours."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_support import wait_until
from pcsc_support import DOOR_READER, PCSCD, PCSCD_STACK, SKIP_REASON

from devices.pcsc import CardWatcher, PcscError, PcscReader, VirtualCardSimulator
from devices.relay import LcusRelay, RelaySimulator
from flows.door_entry import AfterHoursSchedule, DoorDecision, DoorEntry, DoorScheduleError, load_deny_list
from locker.audit import AuditLog
from locker.db import Database

SCHEDULE = AfterHoursSchedule(["mon-fri 17:30-08:30", "sat-sun 00:00-24:00"])
FRIDAY_EVENING = dt.datetime(2026, 11, 20, 22, 15)  # a Friday
SATURDAY_EARLY = dt.datetime(2026, 11, 21, 7, 0)
TUESDAY_NOON = dt.datetime(2026, 11, 17, 12, 0)


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def door(tmp_path: Path) -> Iterator[tuple[DoorEntry, RelaySimulator, AuditLog, Clock]]:
    with RelaySimulator(pacing=False) as sim:
        relay = LcusRelay(sim.port, timeout=0.5)
        relay.open()
        db = Database(tmp_path / "k.sqlite3")
        audit = AuditLog(db)
        clock = Clock(FRIDAY_EVENING)
        (tmp_path / "deny.txt").write_text("# lost cards\n04:DE:AD:01  # reported 2026-11-02\n")
        entry = DoorEntry(
            relay, audit, SCHEDULE, deny=load_deny_list(tmp_path / "deny.txt"), open_seconds=0.3, now=clock
        )
        yield entry, sim, audit, clock
        relay.release()
        relay.close()
        db.close()


def test_schedule_windows_run_over_midnight_and_reject_nonsense() -> None:
    assert SCHEDULE.allows(FRIDAY_EVENING) and SCHEDULE.allows(SATURDAY_EARLY)
    assert SCHEDULE.allows(dt.datetime(2026, 11, 17, 6, 59))  # Tuesday early: Monday's window
    assert not SCHEDULE.allows(TUESDAY_NOON)
    assert not SCHEDULE.allows(dt.datetime(2026, 11, 17, 8, 30))
    for bad in ("mon-fri 25:00-08:00", "someday 10:00-11:00", "mon 10-11"):
        with pytest.raises(DoorScheduleError):
            AfterHoursSchedule([bad])


def test_after_hours_tap_opens_the_relay_for_a_few_seconds_and_is_logged_masked(door) -> None:  # noqa: ANN001
    entry, sim, audit, _clock = door
    assert entry.card_tapped("04a1b2c3d4") is DoorDecision.OPENED
    assert sim.relays == [True]
    wait_until(lambda: sim.relays == [False], 3, "relay off again")
    row = audit.rows()[-1]
    assert row["action"] == "door.entry" and row["detail"]["card"] == "04******D4"
    assert "04A1B2C3D4" not in str(audit.rows())


def test_office_hours_and_deny_list_are_refused_and_logged(door) -> None:  # noqa: ANN001
    entry, sim, audit, clock = door
    assert entry.card_tapped("04dead01") is DoorDecision.DENIED_LIST
    clock.now = TUESDAY_NOON
    assert entry.card_tapped("04a1b2c3") is DoorDecision.OUTSIDE_HOURS
    assert sim.relays == [False] and not any(on for _t, _c, on in sim.history)
    assert [r["detail"]["decision"] for r in audit.rows()] == ["denied_list", "outside_hours"]


@pytest.mark.pcsc
@pytest.mark.skipif(PCSCD is None, reason=SKIP_REASON)
def test_card_on_the_pcsc_door_reader_opens_the_door(door) -> None:  # noqa: ANN001
    entry, sim, _audit, _clock = door
    PCSCD_STACK.ensure()
    decisions: list[DoorDecision] = []
    watcher = CardWatcher(
        PcscReader(DOOR_READER, device="door_reader"), lambda uid: decisions.append(entry.card_tapped(uid))
    )
    card = VirtualCardSimulator(port=35964)
    watcher.start()
    try:
        card.ctl_tap(uid="0455AA77")
        wait_until(lambda: decisions, 10, "door decision")
        assert decisions == [DoorDecision.OPENED]
        assert any(on for _t, _c, on in sim.history)
    finally:
        card.stop()
        watcher.stop()
        with contextlib.suppress(PcscError):
            PcscReader(DOOR_READER).wait_removed(timeout=5)
