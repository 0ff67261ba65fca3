"""Due dates counted in working days, as the service guide promises ("约 N 个工作日").

With the ``chinesecalendar`` package (module ``chinese_calendar``) installed, statutory holidays
and their make-up working weekends count; without it, or for a year it does not cover, only
Saturdays and Sundays are skipped.
"""

from __future__ import annotations

import datetime as dt

try:  # pragma: no cover - depends on the install
    import chinese_calendar as _cc
except ImportError:  # pragma: no cover
    _cc = None


def is_working_day(day: dt.date) -> bool:
    if _cc is not None:
        try:
            return bool(_cc.is_workday(day))
        except NotImplementedError:
            pass
    return day.weekday() < 5


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` working days after ``start`` (the day of receipt does not count)."""
    day = start
    left = max(0, days)
    while left:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            left -= 1
    return day


def holiday_calendar_in_use() -> bool:
    return _cc is not None
