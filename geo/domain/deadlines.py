"""Time limits (时限) by urgency, natural and working-day clocks, and a case's deadlines.

DOMAIN.md's default limits (configurable per category and per duty rule):

| step                              | emergency | utility 水电气热 | general | complex |
|-----------------------------------|-----------|-----------------|---------|---------|
| dispatch after receipt            | 10 min    | 30 min          | 2 h     | 2 h     |
| respond (contact) after dispatch  | 1 h       | 2 h             | 24 h    | 24 h    |
| resolve after dispatch            | 2 h       | 24 h            | 7 days  | 15 days |

A working-day clock skips weekends and listed holidays (and counts listed make-up workdays, 调休),
on *local* dates: every deadline is counted through a Schedule — the stored calendar and the local
time zone (GRIDMAP_TIMEZONE) — by ``Schedule.add``, the one deadline function that intake, bulk
import, dispatch, reopen and extension all use.

>>> from datetime import datetime, timezone
>>> friday = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
>>> add_limit(friday, 1 * DAY, "working", Calendar())
datetime.datetime(2026, 11, 30, 9, 0, tzinfo=datetime.timezone.utc)
>>> from zoneinfo import ZoneInfo
>>> beijing = Schedule(Calendar(), ZoneInfo("Asia/Shanghai"))
>>> beijing.add(datetime(2026, 11, 27, 19, 0, tzinfo=timezone.utc), 1 * DAY, "working").isoformat()  # Sat 03:00 local
'2026-11-30T03:00:00+08:00'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import numpy as np
import pandas as pd

from geo.domain.errors import InvalidInput

__all__ = ["CLOCKS", "DAY", "DEFAULT_LIMITS", "DEFAULT_TIMEZONE", "URGENCIES", "Calendar", "Deadlines", "Schedule",
           "add_limit", "deadline_frame", "deadlines", "resolve_limit"]

#: The local time zone when GRIDMAP_TIMEZONE says nothing else.
DEFAULT_TIMEZONE = "Asia/Shanghai"

URGENCIES = ("emergency", "utility", "general", "complex")
URGENCY_NAMES = {"emergency": "紧急", "utility": "水电气热", "general": "一般", "complex": "疑难复杂"}
CLOCKS = ("natural", "working")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

#: step → urgency → limit
DEFAULT_LIMITS: dict[str, dict[str, timedelta]] = {
    "dispatch": {"emergency": timedelta(minutes=10), "utility": timedelta(minutes=30),
                 "general": 2 * HOUR, "complex": 2 * HOUR},
    "respond": {"emergency": HOUR, "utility": 2 * HOUR, "general": 24 * HOUR, "complex": 24 * HOUR},
    "resolve": {"emergency": 2 * HOUR, "utility": 24 * HOUR, "general": 7 * DAY, "complex": 15 * DAY},
}


@dataclass(frozen=True)
class Calendar:
    """Days off beyond weekends (holidays) and weekend days that are workdays (调休)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_workday(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass(frozen=True)
class Schedule:
    """Where deadlines are counted: the stored calendar (holidays, 调休 workdays) and the local zone."""

    calendar: Calendar
    timezone: tzinfo

    def add(self, start: datetime, limit: timedelta, clock: str) -> datetime:
        """``start`` plus ``limit`` on ``clock``, working days counted on local dates."""
        return add_limit(start.astimezone(self.timezone), limit, clock, self.calendar)


@dataclass(frozen=True)
class Deadlines:
    dispatch_due: datetime
    respond_due: datetime
    resolve_due: datetime


def check_urgency(urgency: str, *, field: str = "urgency") -> str:
    if urgency not in URGENCIES:
        raise InvalidInput(f"紧急程度 {urgency!r} 无效，可选：{', '.join(URGENCIES)}"
                           "（紧急、水电气热、一般、疑难复杂）。",
                           field=field, code="bad_urgency")
    return urgency


def add_limit(start: datetime, limit: timedelta, clock: str, calendar: Calendar) -> datetime:
    """``start`` plus ``limit`` on a natural clock, or counting only workdays on a working clock.

    On the working clock N whole days end at the same time of day on the Nth workday after the
    start's date (the start's own date never counts, workday or not: Saturday + 1 is Monday).
    Hours below a day run on.
    """
    if clock == "natural" or limit < DAY:
        return start + limit
    days, rest = divmod(limit, DAY)
    current = start
    remaining = int(days)
    while remaining > 0:
        current += DAY
        if calendar.is_workday(current.date()):
            remaining -= 1
    return current + rest


def resolve_limit(urgency: str, hours: float | None) -> timedelta:
    """The resolve limit: the duty rule's or the category's own hours when set, else the default."""
    if hours is not None and hours == hours:  # NaN from a data frame counts as unset
        return timedelta(hours=float(hours))
    return DEFAULT_LIMITS["resolve"][urgency]


def deadlines(
    received_at: datetime,
    urgency: str,
    *,
    schedule: Schedule,
    clock: str = "natural",
    resolve_hours: float | None = None,
) -> Deadlines:
    """A case's deadlines counted from ``received_at`` (respond and resolve as if dispatched then;
    dispatching later recounts them from the dispatch time, through this same function)."""
    check_urgency(urgency)
    return Deadlines(
        dispatch_due=schedule.add(received_at, DEFAULT_LIMITS["dispatch"][urgency], "natural"),
        respond_due=schedule.add(received_at, DEFAULT_LIMITS["respond"][urgency], "natural"),
        resolve_due=schedule.add(received_at, resolve_limit(urgency, resolve_hours), clock),
    )


def deadline_frame(received_at: pd.Series, urgency: pd.Series, clock: pd.Series, resolve_hours: pd.Series,
                   *, schedule: Schedule) -> pd.DataFrame:
    """``deadlines`` for many cases at once (bulk import): the same answers to the second.

    Natural clocks add their limit to the local time (what ``Schedule.add`` does for them). A
    working clock's whole days depend only on the local day and the limit, and keep the time of
    day, so ``Schedule.add`` runs once per distinct (day, limit) and the rest is a shift.
    """
    local = received_at.dt.tz_convert(schedule.timezone)
    hours = pd.to_numeric(pd.Series(resolve_hours.to_numpy(), dtype=object), errors="coerce").to_numpy(float)
    pair, (urgencies, limits) = _pairs(urgency.to_numpy(dtype=object), hours)
    limit = np.array([resolve_limit(u, h) for u, h in zip(urgencies, limits, strict=True)], dtype="timedelta64[us]")
    resolve = pd.Series(limit[pair], index=received_at.index).astype("timedelta64[ns]")
    due = local + resolve
    working = (clock == "working").to_numpy()
    if working.any():
        due[working] = _working_due(local[working], resolve[working], schedule)
    return pd.DataFrame({
        "dispatch_due": local + urgency.map(DEFAULT_LIMITS["dispatch"]).astype("timedelta64[ns]"),
        "respond_due": local + urgency.map(DEFAULT_LIMITS["respond"]).astype("timedelta64[ns]"),
        "resolve_due": due,
    }, index=received_at.index)


def _working_due(local: pd.Series, limit: pd.Series, schedule: Schedule) -> pd.Series:
    midnight = local.dt.normalize()
    pair, (days, limits) = _pairs(midnight, limit)
    shifted = np.array([
        schedule.add(day.to_pydatetime(), lim.to_pytimedelta(), "working") - day.to_pydatetime()
        for day, lim in zip(pd.DatetimeIndex(days), pd.TimedeltaIndex(limits), strict=True)
    ], dtype="timedelta64[us]")
    return local + pd.to_timedelta(shifted[pair])


def _pairs(a: Any, b: Any) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Each row's index into the distinct (a, b) pairs, and those pairs as two arrays (NaN is a
    value of its own): per-pair work then runs once per pair, not once per row."""
    a_idx, a_values = pd.factorize(a, use_na_sentinel=False)
    b_idx, b_values = pd.factorize(b, use_na_sentinel=False)
    key = a_idx.astype(np.int64) * max(len(b_values), 1) + b_idx
    _, first, pair = np.unique(key, return_index=True, return_inverse=True)
    return pair.reshape(-1), (a_values[a_idx[first]], b_values[b_idx[first]])
