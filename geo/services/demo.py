"""Demo data: a handling history for the demo 12345 cases (see geo.domain.demo)."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from sqlalchemy.orm import Session

from geo.domain.demo import plan_history
from geo.store import demo as store

__all__ = ["simulate_history"]


def simulate_history(session: Session, *, now: datetime | None = None, seed: int = 12345) -> int:
    """Give the cases nobody has touched a plausible history up to ``now``; returns events written."""
    cases = store.untouched_cases(session)
    if cases.empty:
        return 0
    events = plan_history(cases, now=pd.Timestamp(now or datetime.now(UTC)), seed=seed)
    return store.write_history(session, events)
