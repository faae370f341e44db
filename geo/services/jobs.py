"""Background-job bookkeeping: who leads the scheduler (a PostgreSQL advisory lock, so exactly one
process across every server and machine runs the periodic jobs), one run of a job at a time, and
what each job did last (``/metrics``, ``gridmap jobs list``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from geo.store import jobs as store

__all__ = ["job_runs", "leader_present", "next_runs", "record_run", "release_job", "release_leader", "take_job",
           "take_leader"]


def take_leader(connection: Connection) -> bool:
    """Become the scheduler's leader if nobody is (an autocommit connection kept open while leading)."""
    return store.try_lock(connection, store.LEADER_LOCK)


def release_leader(connection: Connection) -> None:
    store.unlock(connection, store.LEADER_LOCK)


def take_job(connection: Connection, name: str) -> bool:
    """Claim the one run of job ``name`` allowed at a time; False when it is running elsewhere."""
    return store.try_lock(connection, store.job_lock_key(name))


def release_job(connection: Connection, name: str) -> None:
    store.unlock(connection, store.job_lock_key(name))


def leader_present(session: Session) -> bool:
    return store.leader_present(session)


def record_run(session: Session, name: str, *, started_at: datetime, seconds: float, ok: bool,
               error: str | None = None, result: int | None = None, host: str = "") -> None:
    store.record_run(session, name, started_at=started_at, seconds=seconds, ok=ok, error=error, result=result,
                     host=host)


def job_runs(session: Session) -> dict[str, dict[str, Any]]:
    """{job: {runs, failures, last_started_at, last_seconds, last_ok, last_error, last_result, last_host}}."""
    return store.runs(session)


def next_runs(session: Session) -> dict[str, datetime]:
    """{job: its next scheduled run} from the scheduler's job store."""
    return store.next_runs(session)
