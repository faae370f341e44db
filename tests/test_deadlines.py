"""Time limits by urgency; natural and working-day clocks."""

from datetime import date, datetime, timedelta, timezone

import pytest

from geo.domain.deadlines import DAY, Calendar, add_limit, deadlines

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone(timedelta(hours=8)))  # a Friday


@pytest.mark.parametrize(("urgency", "dispatch", "respond", "resolve"), [
    ("emergency", timedelta(minutes=10), timedelta(hours=1), timedelta(hours=2)),
    ("utility", timedelta(minutes=30), timedelta(hours=2), timedelta(hours=24)),
    ("general", timedelta(hours=2), timedelta(hours=24), timedelta(days=7)),
    ("complex", timedelta(hours=2), timedelta(hours=24), timedelta(days=15)),
])
def test_default_limits(urgency, dispatch, respond, resolve):
    due = deadlines(T0, urgency)
    assert (due.dispatch_due - T0, due.respond_due - T0, due.resolve_due - T0) == (dispatch, respond, resolve)


def test_working_days_skip_the_weekend():
    assert add_limit(T0, 2 * DAY, "working", Calendar()) == T0 + timedelta(days=4)  # Fri → Tue


def test_working_days_skip_holidays_and_count_make_up_days():
    calendar = Calendar(holidays=frozenset({date(2026, 11, 30)}), workdays=frozenset({date(2026, 11, 29)}))
    # Fri + 1 working day: Sat is off, Sun is a make-up workday.
    assert add_limit(T0, DAY, "working", calendar) == T0 + timedelta(days=2)
    # Fri + 2: Sun, then Mon is a holiday, so Tue.
    assert add_limit(T0, 2 * DAY, "working", calendar) == T0 + timedelta(days=4)


def test_start_on_a_day_off_counts_from_the_next_workday():
    saturday = T0 + DAY
    assert add_limit(saturday, DAY, "working", Calendar()) == T0 + timedelta(days=4)  # Mon 09:00 + 1 → Tue


def test_category_limit_and_clock_override_the_default():
    due = deadlines(T0, "general", clock="working", resolve_limit=timedelta(days=1))
    assert due.resolve_due == T0 + timedelta(days=3)  # Fri + 1 working day = Mon
