"""What a metrics scrape reads from PostGIS: case counts by status and by source, overdue open
cases, unsent notifications. Small aggregate queries, each one scan."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.store.vocabulary import OVERDUE_SQL

__all__ = ["cases_by_source", "cases_by_status", "outbox_unsent", "postgis_version", "schema_revision"]


def postgis_version(session: Session) -> str | None:
    return session.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")).scalar()


def schema_revision(session: Session) -> str | None:
    """The Alembic revision the database is at (None before the first migration). Read directly:
    Alembic's MigrationContext would log two lines on every readiness probe."""
    if session.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None:
        return None
    return session.execute(text("SELECT version_num FROM alembic_version")).scalar()


def cases_by_status(session: Session) -> list[tuple[str, int, int]]:
    """(status, cases, overdue cases) for every status that has a case; overdue by OVERDUE_SQL."""
    rows = session.execute(text(
        f"SELECT c.status, count(*), count(*) FILTER (WHERE {OVERDUE_SQL}) FROM cases c GROUP BY c.status"))
    return [(str(r[0]), int(r[1]), int(r[2])) for r in rows]


def cases_by_source(session: Session) -> list[tuple[str, int]]:
    rows = session.execute(text("SELECT source, count(*) FROM cases GROUP BY source"))
    return [(str(r[0]), int(r[1])) for r in rows]


def outbox_unsent(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar_one())
