"""When the entrance door reader may open the door: after the centre's staffed hours.

The rules name weekdays ("mon-fri 17:30-08:30", "sat-sun 00:00-24:00"), but a weekday is not what
decides whether staff are in: China's public holidays close the centre on weekdays, and the
make-up working days (调休) open it on a Saturday or Sunday. So every date is first classified:

- a public holiday (from the maintained ``chinese_calendar`` package, updated every year when the
  State Council publishes the next year's arrangement) or a local closure from the configuration:
  the centre is closed, the door works all day;
- a make-up working day: the working-day rule applies, the one written for the adjacent working
  weekday (a Saturday follows Friday's rule, a Sunday Monday's);
- any other date: the rule of its own weekday.

A window belongs to the weekday it *starts* on and may run past midnight. Rules are evaluated in
an ordinary week, so the morning after a holiday still gets the previous working day's overnight
window: after a long holiday the door keeps working until the staff arrive.

A year the calendar package does not know yet falls back to weekdays only; ``coverage_problem``
says so, and ``kiosk doctor`` shows it, so the package gets updated before the holidays come.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from flows.errors import FlowError

log = logging.getLogger(__name__)

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RULE = re.compile(
    r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d{1,2}):(?P<m1>\d{2})-(?P<h2>\d{1,2}):(?P<m2>\d{2})$"
)
_DATES = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?$")
MAX_LOOKAHEAD_DAYS = 60  # how far staffed_resume / after_hours_periods look ahead
#: the idle screen's periods cover this long: a kiosk restarts at least with every update, and the
#: holiday data and the configuration only change with one (0.1 s to compute at start)
IDLE_HORIZON_DAYS = 400


class DoorScheduleError(FlowError):
    code = "door.schedule_invalid"


class DayKind(StrEnum):
    ORDINARY = "ordinary"  # the rule of its own weekday
    HOLIDAY = "holiday"  # public holiday (including its in-lieu days): no staff, door all day
    CLOSURE = "closure"  # a local closure from the configuration: no staff, door all day
    MAKEUP_WORKDAY = "makeup_workday"  # 调休: a weekend day worked, the working-day rule applies


@dataclass(frozen=True)
class _Window:
    days: frozenset[int]  # weekday() numbers the window *starts* on
    start: int  # minutes after midnight
    end: int  # may be ≤ start: the window runs past midnight into the next day


@dataclass(frozen=True)
class DayInfo:
    date: dt.date
    kind: DayKind
    name: str = ""  # the holiday's name ("Spring Festival"), or "" for an ordinary day
    known: bool = True  # False: the calendar has no data for this year; weekdays only


def parse_dates(items: Iterable[str], what: str) -> frozenset[dt.date]:
    """``["2026-12-24", "2027-01-04..2027-01-05"]`` → the dates (ranges inclusive)."""
    out: set[dt.date] = set()
    for item in items:
        m = _DATES.match(str(item).strip())
        try:
            if not m:
                raise ValueError
            first = dt.date.fromisoformat(m[1])
            last = dt.date.fromisoformat(m[2]) if m[2] else first
        except ValueError:
            raise DoorScheduleError(f"{what}: {item!r} is not a date like 2026-12-24 or a range "
                                    "2027-01-04..2027-01-05") from None
        if last < first or (last - first).days > 366:
            raise DoorScheduleError(f"{what}: {item!r} runs backwards or over more than a year")
        out.update(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return frozenset(out)


@lru_cache(maxsize=4096)
def _calendar_day(day: dt.date) -> tuple[bool, str | None] | None:
    """(is_rest_day, holiday name) from chinese_calendar, or None when it has no data for the year."""
    try:
        import chinese_calendar
    except ImportError:  # pragma: no cover - a dependency; doctor reports it like an unknown year
        return None
    try:
        rest, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:  # "no available data for year 2027"
        return None
    return bool(rest), name


def classify(day: dt.date, *, closures: frozenset[dt.date] = frozenset(),
             workdays: frozenset[dt.date] = frozenset()) -> DayInfo:
    """What kind of day ``day`` is for the centre's staff (see the module doc for the order)."""
    if day in closures:
        return DayInfo(day, DayKind.CLOSURE, "local closure")
    if day in workdays:
        return DayInfo(day, DayKind.MAKEUP_WORKDAY if day.weekday() >= 5 else DayKind.ORDINARY, "configured workday")
    cal = _calendar_day(day)
    if cal is None:
        return DayInfo(day, DayKind.ORDINARY, known=False)
    rest, name = cal
    if rest and name:  # a rest day with a festival's name: a public holiday (or its in-lieu day)
        return DayInfo(day, DayKind.HOLIDAY, name)
    if not rest and day.weekday() >= 5:  # a weekend day that is worked: 调休
        return DayInfo(day, DayKind.MAKEUP_WORKDAY, name or "")
    return DayInfo(day, DayKind.ORDINARY)


class AfterHoursSchedule:
    """When the door reader may open the door, e.g. ``["mon-fri 17:30-08:30", "sat-sun 00:00-24:00"]``.

    A window whose end is before its start runs over midnight (Friday 17:30 → Saturday 08:30).
    Public holidays and local ``closures`` open the door all day; make-up working days (and the
    configured ``workdays``, for a year the calendar package does not know yet) follow the
    working-day rule.
    """

    def __init__(self, rules: Iterable[str], *, closures: Iterable[str] = (), workdays: Iterable[str] = (),
                 holidays: bool = True) -> None:
        self.rules = tuple(rules)
        self.windows = tuple(self._parse(r) for r in self.rules)
        self.closures = parse_dates(closures, "door_entry.closures")
        self.workdays = parse_dates(workdays, "door_entry.workdays")
        both = sorted(self.closures & self.workdays)
        if both:
            raise DoorScheduleError(f"door_entry: {both[0].isoformat()} is both a closure and a workday")
        self.holidays = holidays
        self._edges = sorted({0} | {w.start % 1440 for w in self.windows} | {w.end % 1440 for w in self.windows})

    @staticmethod
    def _parse(rule: str) -> _Window:
        m = _RULE.match(rule.strip().lower())
        if not m:
            raise DoorScheduleError(f"door schedule rule {rule!r} is not like 'mon-fri 17:30-08:30'")
        try:
            d1 = _DAYS.index(m["d1"])
            d2 = _DAYS.index(m["d2"] or m["d1"])
        except ValueError:
            raise DoorScheduleError(f"door schedule rule {rule!r}: days are mon..sun") from None
        days = frozenset(range(d1, d2 + 1)) if d1 <= d2 else frozenset([*range(d1, 7), *range(0, d2 + 1)])
        h1, m1, h2, m2 = int(m["h1"]), int(m["m1"]), int(m["h2"]), int(m["m2"])
        if h1 > 24 or h2 > 24 or m1 > 59 or m2 > 59 or (h1 == 24 and m1) or (h2 == 24 and m2):
            raise DoorScheduleError(f"door schedule rule {rule!r}: bad time")
        return _Window(days, h1 * 60 + m1, h2 * 60 + m2)

    # -- days ------------------------------------------------------------------------------------
    def day(self, day: dt.date) -> DayInfo:
        if not self.holidays:
            if day in self.closures:
                return DayInfo(day, DayKind.CLOSURE, "local closure")
            return DayInfo(day, DayKind.ORDINARY)
        return classify(day, closures=self.closures, workdays=self.workdays)

    def _weekday_rule(self, info: DayInfo) -> int:
        """The weekday whose rule the day follows: its own, or for 调休 the adjacent working weekday."""
        wd = info.date.weekday()
        if info.kind is DayKind.MAKEUP_WORKDAY and wd >= 5:
            return 4 if wd == 5 else 0  # Saturday → Friday's rule, Sunday → Monday's
        return wd

    def _rule_allows(self, weekday: int, minute: int) -> bool:
        yesterday = (weekday - 1) % 7
        for w in self.windows:
            if w.end > w.start:
                if weekday in w.days and w.start <= minute < w.end:
                    return True
            else:  # over midnight (or the whole day when start == end == 0 and end is 24:00 written as 0)
                if weekday in w.days and minute >= w.start:
                    return True
                if yesterday in w.days and minute < w.end:
                    return True
        return False

    def allows(self, when: dt.datetime) -> bool:
        info = self.day(when.date())
        if info.kind in (DayKind.HOLIDAY, DayKind.CLOSURE):
            return True
        return self._rule_allows(self._weekday_rule(info), when.hour * 60 + when.minute)

    # -- what the idle screen and kiosk doctor show ---------------------------------------------------
    def _candidates(self, start: dt.datetime, days: int) -> Iterable[dt.datetime]:
        """Every minute at which allows() can change, from ``start`` on (plus ``start`` itself)."""
        yield start.replace(second=0, microsecond=0)
        first = start.date()
        for i in range(days + 1):
            midnight = dt.datetime.combine(first + dt.timedelta(days=i), dt.time(0), tzinfo=start.tzinfo)
            for edge in self._edges:
                t = midnight + dt.timedelta(minutes=edge)
                if t > start:
                    yield t

    def staffed_resume(self, now: dt.datetime, *, days: int = MAX_LOOKAHEAD_DAYS) -> dt.datetime | None:
        """When the centre's staffed hours next begin (the door reader stops opening), seen from ``now``.

        None when staff are in now (the door reader is refused) or when no staffed hours come within
        ``days`` (a 24-hour schedule).
        """
        if not self.allows(now):
            return None
        for t in self._candidates(now, days):
            if not self.allows(t):
                return t
        return None

    def after_hours_periods(self, now: dt.datetime, *, days: int = MAX_LOOKAHEAD_DAYS
                            ) -> list[tuple[dt.datetime, dt.datetime]]:
        """[(after hours begin, staffed hours resume), …] from ``now`` for ``days`` days.

        The idle screen gets these once and picks the period containing the current time, so its
        "staffed hours resume at …" line stays right without asking the flows again.
        """
        periods: list[tuple[dt.datetime, dt.datetime]] = []
        begin: dt.datetime | None = None
        for t in self._candidates(now, days):
            allowed = self.allows(t)
            if allowed and begin is None:
                begin = t
            elif not allowed and begin is not None:
                periods.append((begin, t))
                begin = None
        return periods

    def coverage_problem(self, today: dt.date, *, days: int = MAX_LOOKAHEAD_DAYS) -> str:
        """"" when the holiday calendar knows the coming ``days``; else what to do about it."""
        if not self.holidays:
            return ""
        for i in range(days + 1):
            d = today + dt.timedelta(days=i)
            if not self.day(d).known:
                return (f"the holiday calendar (chinesecalendar package) has no data for {d.year}: the door follows "
                        f"weekdays only from {d.isoformat()}; update the kiosk, or list that year's holidays in "
                        "door_entry.closures and its make-up working days in door_entry.workdays")
        return ""


def staffed_resume_from_periods(periods: Iterable[tuple[str, str]], now: dt.datetime) -> dt.datetime | None:
    """For the idle screen: the resume time of the after-hours period containing ``now`` (ISO strings)."""
    for begin, end in periods:
        b, e = dt.datetime.fromisoformat(begin), dt.datetime.fromisoformat(end)
        if b <= now < e:
            return e
    return None
