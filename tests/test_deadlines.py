"""Time limits by urgency; natural and working-day clocks."""

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from geo.domain.deadlines import DAY, Calendar, Schedule, add_limit, deadline_frame, deadlines

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone(timedelta(hours=8)))  # a Friday
BEIJING = ZoneInfo("Asia/Shanghai")
PLAIN = Schedule(Calendar(), BEIJING)


@pytest.mark.parametrize(("urgency", "dispatch", "respond", "resolve"), [
    ("emergency", timedelta(minutes=10), timedelta(hours=1), timedelta(hours=2)),
    ("utility", timedelta(minutes=30), timedelta(hours=2), timedelta(hours=24)),
    ("general", timedelta(hours=2), timedelta(hours=24), timedelta(days=7)),
    ("complex", timedelta(hours=2), timedelta(hours=24), timedelta(days=15)),
])
def test_default_limits(urgency, dispatch, respond, resolve):
    due = deadlines(T0, urgency, schedule=PLAIN)
    assert (due.dispatch_due - T0, due.respond_due - T0, due.resolve_due - T0) == (dispatch, respond, resolve)


def test_working_days_skip_the_weekend():
    assert add_limit(T0, 2 * DAY, "working", Calendar()) == T0 + timedelta(days=4)  # Fri → Tue


def test_working_days_skip_holidays_and_count_make_up_days():
    calendar = Calendar(holidays=frozenset({date(2026, 11, 30)}), workdays=frozenset({date(2026, 11, 29)}))
    # Fri + 1 working day: Sat is off, Sun is a make-up workday.
    assert add_limit(T0, DAY, "working", calendar) == T0 + timedelta(days=2)
    # Fri + 2: Sun, then Mon is a holiday, so Tue.
    assert add_limit(T0, 2 * DAY, "working", calendar) == T0 + timedelta(days=4)


def test_a_start_on_a_day_off_counts_the_next_workday_as_the_first():
    """DOMAIN: N working days end on the Nth working day after the start's local date."""
    saturday = T0 + DAY
    assert add_limit(saturday, DAY, "working", Calendar()) == T0 + timedelta(days=3)  # Sat 09:00 + 1 → Mon


def test_the_domain_example():
    """Received Friday 2026-11-27 01:00, Monday 11-30 a holiday, 7 working days → Wed 12-09 01:00."""
    schedule = Schedule(Calendar(holidays=frozenset({date(2026, 11, 30)})), BEIJING)
    received = datetime(2026, 11, 27, 1, 0, tzinfo=BEIJING)
    assert schedule.add(received, 7 * DAY, "working") == datetime(2026, 12, 9, 1, 0, tzinfo=BEIJING)


def test_category_limit_and_clock_override_the_default():
    due = deadlines(T0, "general", clock="working", resolve_hours=24, schedule=PLAIN)
    assert due.resolve_due == T0 + timedelta(days=3)  # Fri + 1 working day = Mon


def test_working_days_are_counted_on_local_dates_not_utc():
    """03:04 Beijing time on a Wednesday is still Tuesday in UTC: 7 working days end on a Friday
    (on UTC dates they ended on a Saturday)."""
    wednesday = datetime(2026, 12, 2, 3, 4, tzinfo=BEIJING).astimezone(UTC)
    due = PLAIN.add(wednesday, 7 * DAY, "working")
    assert due.astimezone(BEIJING) == datetime(2026, 12, 11, 3, 4, tzinfo=BEIJING)
    assert due.astimezone(BEIJING).weekday() == 4


HOLIDAYS = Schedule(Calendar(holidays=frozenset({date(2026, 12, 7)}), workdays=frozenset({date(2026, 12, 6)})),
                    BEIJING)


@pytest.mark.parametrize("local", [
    datetime(2026, 12, 4, 0, 30), datetime(2026, 12, 4, 7, 59), datetime(2026, 12, 4, 23, 59),  # a Friday
    datetime(2026, 12, 5, 12, 0),  # Saturday, before the make-up Sunday
    datetime(2026, 12, 6, 23, 59),  # the make-up Sunday, before the Monday holiday
])
@pytest.mark.parametrize(("urgency", "clock", "hours"), [
    ("general", "working", None), ("complex", "working", None), ("general", "natural", 30.0),
    ("utility", "working", 72.0), ("emergency", "natural", None)])
def test_the_bulk_deadlines_agree_with_the_single_ones_to_the_second(local, urgency, clock, hours):
    received = local.replace(tzinfo=BEIJING).astimezone(UTC)
    one = deadlines(received, urgency, clock=clock, resolve_hours=hours, schedule=HOLIDAYS)
    many = deadline_frame(pd.Series([pd.Timestamp(received)]), pd.Series([urgency]), pd.Series([clock]),
                          pd.Series([hours], dtype="float64"), schedule=HOLIDAYS).iloc[0]
    assert [many["dispatch_due"], many["respond_due"], many["resolve_due"]] == [
        one.dispatch_due, one.respond_due, one.resolve_due]
