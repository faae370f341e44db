"""Background jobs in PostgreSQL: advisory locks (one scheduler leader, one run of a job at a time,
across processes and machines) and the record of each job's runs."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

__all__ = ["LEADER_LOCK", "job_lock_key", "leader_present", "next_runs", "record_run", "runs", "try_lock", "unlock"]

#: The advisory-lock key the scheduler leader holds ("gridmap" as a 32-bit CRC; pg_locks shows it as objid).
LEADER_LOCK = zlib.crc32(b"gridmap-scheduler-leader")


def job_lock_key(name: str) -> int:
    """The advisory-lock key that keeps two runs of one job apart."""
    return zlib.crc32(f"gridmap-job:{name}".encode())


def try_lock(connection: Connection, key: int) -> bool:
    """Take a session-level advisory lock on this connection without waiting; it lasts until
    ``unlock`` or until the connection ends (a crashed process lets go of it)."""
    return bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar_one())


def unlock(connection: Connection, key: int) -> None:
    connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def leader_present(session: Session) -> bool:
    """Whether some connection holds the scheduler leader's lock now, in this database (pg_locks
    lists every database's locks: another gridmap on the same cluster has a leader of its own)."""
    return bool(session.execute(text(
        "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND classid = 0 AND objid = CAST(:k AS oid) AND objsubid = 1)"), {"k": LEADER_LOCK}).scalar_one())


def record_run(session: Session, name: str, *, started_at: datetime, seconds: float, ok: bool, error: str | None,
               result: int | None, host: str) -> None:
    session.execute(text(
        "INSERT INTO job_run (name, runs, failures, last_started_at, last_seconds, last_ok, last_error, last_result, "
        "last_host) VALUES (:name, 1, :failed, :started, :seconds, :ok, :error, :result, :host) "
        "ON CONFLICT (name) DO UPDATE SET runs = job_run.runs + 1, failures = job_run.failures + :failed, "
        "last_started_at = :started, last_seconds = :seconds, last_ok = :ok, last_error = :error, "
        "last_result = :result, last_host = :host"),
        {"name": name, "failed": 0 if ok else 1, "started": started_at, "seconds": seconds, "ok": ok,
         "error": error, "result": result, "host": host})


def runs(session: Session) -> dict[str, dict[str, Any]]:
    return {r["name"]: dict(r) for r in session.execute(text(
        "SELECT name, runs, failures, last_started_at, last_seconds, last_ok, last_error, last_result, last_host "
        "FROM job_run")).mappings()}


def next_runs(session: Session) -> dict[str, datetime]:
    """APScheduler's job store keeps the next run as POSIX seconds (NULL: paused)."""
    rows = session.execute(text("SELECT id, next_run_time FROM scheduler_job WHERE next_run_time IS NOT NULL"))
    return {str(r[0]): datetime.fromtimestamp(float(r[1]), UTC) for r in rows}
