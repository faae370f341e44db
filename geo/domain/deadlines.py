"""Time limits (时限) by urgency, natural and working-day clocks, and a case's deadlines.

DOMAIN.md's default limits (configurable per category and per duty rule):

| step                              | emergency | utility 水电气热 | general | complex |
|-----------------------------------|-----------|-----------------|---------|---------|
| dispatch after receipt            | 10 min    | 30 min          | 2 h     | 2 h     |
| respond (contact) after dispatch  | 1 h       | 2 h             | 24 h    | 24 h    |
| resolve after dispatch            | 2 h       | 24 h            | 7 days  | 15 days |

A working-day clock skips weekends and listed holidays (and counts listed make-up workdays, 调休).

>>> from datetime import datetime, timezone
>>> friday = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)
>>> add_limit(friday, 1 * DAY, "working", Calendar())
datetime.datetime(2026, 11, 30, 9, 0, tzinfo=datetime.timezone.utc)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from geo.domain.errors import InvalidInput

__all__ = ["CLOCKS", "DAY", "DEFAULT_LIMITS", "URGENCIES", "Calendar", "Deadlines", "add_limit", "deadlines"]

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

    On the working clock whole days are counted on workdays and the time of day is kept; a
    start on a day off counts from the next workday's same time. Hours below a day run on.
    """
    if clock == "natural" or limit < DAY:
        return start + limit
    days, rest = divmod(limit, DAY)
    current = start
    while not calendar.is_workday(current.date()):
        current += DAY
    remaining = int(days)
    while remaining > 0:
        current += DAY
        if calendar.is_workday(current.date()):
            remaining -= 1
    return current + rest


def deadlines(
    received_at: datetime,
    urgency: str,
    *,
    clock: str = "natural",
    resolve_limit: timedelta | None = None,
    calendar: Calendar | None = None,
    limits: dict[str, dict[str, timedelta]] | None = None,
) -> Deadlines:
    """A case's deadlines counted from ``received_at`` (respond and resolve as if dispatched then;
    dispatching later recounts them from the dispatch time).
    """
    check_urgency(urgency)
    table = limits or DEFAULT_LIMITS
    calendar = calendar or Calendar()
    resolve = resolve_limit if resolve_limit is not None else table["resolve"][urgency]
    return Deadlines(
        dispatch_due=add_limit(received_at, table["dispatch"][urgency], "natural", calendar),
        respond_due=add_limit(received_at, table["respond"][urgency], "natural", calendar),
        resolve_due=add_limit(received_at, resolve, clock, calendar),
    )
