"""The map's counters (geo.store.case_counts): check them against the cases, and recount them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from geo.store import case_counts as store

__all__ = ["check_counts", "fold_past", "recount"]


def check_counts(session: Session) -> list[dict[str, Any]]:
    """Counter rows that disagree with the cases (empty: the map's counts are right).

    A difference means a write bypassed the triggers (only the schema's owner can disable them)."""
    return store.differences(session)


def recount(session: Session) -> int:
    """Recount every counter from the cases (case writes wait meanwhile); the number of counter rows."""
    return store.rebuild(session)


def fold_past(session: Session) -> int:
    """Fold the counters of deadline days gone by into one row per key (they all mean overdue now)."""
    return store.fold_past(session)
