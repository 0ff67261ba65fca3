"""The door schedule knows China's public holidays, the make-up working days (调休) and local closures.

Dates are the State Council's 2026 arrangement (国办发明电〔2025〕7号) as the chinesecalendar
package has it: Spring Festival 15–23 Feb with Saturdays 14 and 28 Feb worked; National Day
1–7 Oct with Sunday 20 Sep and Saturday 10 Oct worked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.relay import LcusRelay, RelaySimulator
from flows.door_entry import DoorDecision, DoorEntry
from flows.door_schedule import (
    AfterHoursSchedule,
    DayKind,
    DoorScheduleError,
    staffed_resume_from_periods,
)
from locker.audit import AuditLog
from locker.db import Database

RULES = ["mon-fri 17:30-08:30", "sat-sun 00:00-24:00", "mon 00:00-08:30"]
SCHEDULE = AfterHoursSchedule(RULES)
T = dt.datetime


def test_a_public_holiday_on_a_weekday_opens_the_door_all_day() -> None:
    assert SCHEDULE.day(dt.date(2026, 2, 16)).kind is DayKind.HOLIDAY  # Monday of the Spring Festival
    assert SCHEDULE.allows(T(2026, 2, 16, 12, 0))
    assert SCHEDULE.allows(T(2026, 10, 6, 10, 0))  # Tuesday in the National Day week
    assert not SCHEDULE.allows(T(2026, 3, 9, 12, 0))  # an ordinary Monday noon: staff are in


def test_a_make_up_saturday_follows_the_working_day_rule() -> None:
    saturday = dt.date(2026, 2, 14)
    assert SCHEDULE.day(saturday).kind is DayKind.MAKEUP_WORKDAY
    assert not SCHEDULE.allows(T(2026, 2, 14, 12, 0))  # staffed: come in through the centre
    assert SCHEDULE.allows(T(2026, 2, 14, 7, 0))  # Friday night's window still runs until 08:30
    assert SCHEDULE.allows(T(2026, 2, 14, 18, 0))  # and the evening is after hours again
    assert SCHEDULE.allows(T(2026, 3, 7, 12, 0))  # an ordinary Saturday: the door works all day
    assert not SCHEDULE.allows(T(2026, 9, 20, 9, 0))  # a make-up Sunday too


def test_the_morning_after_a_long_holiday_is_after_hours_until_staff_arrive() -> None:
    assert SCHEDULE.allows(T(2026, 2, 24, 7, 0))  # Tuesday after the Spring Festival, 07:00
    assert not SCHEDULE.allows(T(2026, 2, 24, 8, 30))
    assert SCHEDULE.allows(T(2026, 10, 8, 6, 0)) and not SCHEDULE.allows(T(2026, 10, 8, 9, 0))


def test_local_closures_open_the_door_and_bad_dates_are_named() -> None:
    schedule = AfterHoursSchedule(RULES, closures=["2026-12-24", "2026-12-28..2026-12-29"])
    for day in (24, 28, 29):
        assert schedule.allows(T(2026, 12, day, 11, 0)), day
        assert schedule.day(dt.date(2026, 12, day)).kind is DayKind.CLOSURE
    assert not schedule.allows(T(2026, 12, 30, 11, 0))
    for bad, words in ((["2026-13-01"], "not a date"), (["2026-12-29..2026-12-28"], "backwards"),
                       (["christmas"], "not a date")):
        with pytest.raises(DoorScheduleError, match=words):
            AfterHoursSchedule(RULES, closures=bad)
    with pytest.raises(DoorScheduleError, match="both a closure and a workday"):
        AfterHoursSchedule(RULES, closures=["2027-02-06"], workdays=["2027-02-06"])


def test_a_year_the_calendar_does_not_know_is_reported_and_can_be_configured() -> None:
    # chinesecalendar 1.11 stops at 2026: from today (December 2026) the next 60 days reach 2027
    problem = SCHEDULE.coverage_problem(dt.date(2026, 12, 6))
    assert "2027" in problem and "door_entry.closures" in problem
    assert SCHEDULE.coverage_problem(dt.date(2026, 3, 1)) == ""
    # until the package is updated, the technician lists the published days
    schedule = AfterHoursSchedule(RULES, closures=["2027-02-08..2027-02-12"], workdays=["2027-02-06"])
    assert not schedule.allows(T(2027, 2, 6, 12, 0))  # a configured make-up Saturday
    assert schedule.allows(T(2027, 2, 10, 12, 0))  # a configured holiday Wednesday
    assert not schedule.allows(T(2027, 2, 17, 12, 0))  # an ordinary Wednesday of an unknown year


def test_staffed_hours_resume_is_the_next_staffed_minute() -> None:
    # Friday evening before the Spring Festival: Saturday 14 Feb is worked
    assert SCHEDULE.staffed_resume(T(2026, 2, 13, 20, 0)) == T(2026, 2, 14, 8, 30)
    # the evening before National Day: nobody until Thursday 8 October
    assert SCHEDULE.staffed_resume(T(2026, 9, 30, 18, 0)) == T(2026, 10, 8, 8, 30)
    # an ordinary weekend: Monday morning
    assert SCHEDULE.staffed_resume(T(2026, 3, 6, 22, 0)) == T(2026, 3, 9, 8, 30)
    assert SCHEDULE.staffed_resume(T(2026, 3, 9, 12, 0)) is None  # staffed now
    assert AfterHoursSchedule(["mon-sun 00:00-24:00"]).staffed_resume(T(2026, 3, 9, 12, 0)) is None


def test_after_hours_periods_give_the_idle_screen_the_same_answer() -> None:
    now = T(2026, 9, 28, 12, 0)
    periods = [(a.isoformat(), b.isoformat()) for a, b in SCHEDULE.after_hours_periods(now, days=14)]
    for probe in (T(2026, 9, 30, 18, 0), T(2026, 10, 3, 3, 0), T(2026, 10, 9, 7, 59), T(2026, 10, 10, 20, 0)):
        assert staffed_resume_from_periods(periods, probe) == SCHEDULE.staffed_resume(probe), probe
    assert staffed_resume_from_periods(periods, T(2026, 10, 8, 12, 0)) is None


@pytest.fixture
def door(tmp_path: Path) -> Iterator[tuple[DoorEntry, RelaySimulator, list[dt.datetime]]]:
    with RelaySimulator(pacing=False) as sim:
        relay = LcusRelay(sim.port, timeout=0.5)
        relay.open()
        db = Database(tmp_path / "k.sqlite3")
        clock = [T(2026, 10, 1, 11, 0)]
        yield DoorEntry(relay, AuditLog(db), SCHEDULE, open_seconds=0.2, now=lambda: clock[0]), sim, clock
        relay.release()
        relay.close()
        db.close()


def test_the_door_reader_opens_at_noon_on_national_day_but_not_on_the_make_up_saturday(door) -> None:  # noqa: ANN001
    entry, sim, clock = door
    assert entry.card_tapped("04A1B2C3D4") is DoorDecision.OPENED  # 1 October, a holiday Thursday
    assert sim.relays[0] is True
    clock[0] = T(2026, 10, 10, 11, 0)  # Saturday 10 October is worked
    assert entry.card_tapped("04A1B2C3D5") is DoorDecision.OUTSIDE_HOURS


def test_the_running_kiosk_gives_the_idle_screen_its_after_hours_periods(tmp_path: Path) -> None:
    """KioskRuntime's start step, on the shipped example configuration, fills the idle View."""
    from types import SimpleNamespace

    from flows.view import Screen, View
    from kiosk.config import load_config
    from kiosk.runtime import KioskRuntime

    conf = tmp_path / "kiosk.toml"
    text = (Path(__file__).resolve().parents[1] / "config" / "kiosk.example.toml").read_text(encoding="utf-8")
    conf.write_text(text.replace('closures = []', 'closures = ["2026-12-24"]'), encoding="utf-8")
    idle = View(Screen.IDLE, "idle", "idle.welcome", {"services": []})
    fake = SimpleNamespace(cfg=load_config(str(conf)), host=SimpleNamespace(idle_view=idle))
    KioskRuntime._show_staffed_hours(fake)  # type: ignore[arg-type]
    periods = idle.params["after_hours"]
    assert len(periods) > 200  # more than a year of evenings, weekends and holidays
    assert fake.schedule.allows(T(2026, 12, 24, 12, 0))  # the configured closure reached the schedule
    now = dt.datetime.now()
    assert staffed_resume_from_periods(periods, now) == fake.schedule.staffed_resume(now)
