"""The map's case counts from the counter table ``case_count`` (migration 0021_counters), kept by
triggers on ``cases``: street and community totals without scanning the cases.

Counters answer only the filters they are keyed by — statuses, categories, and an area (the
reader's scope or a chosen boundary) no longer than a community code — plus overdue / not overdue.
Everything else (reporting dates, source, "my reports", a department's cases, a grid) is a scan
(geo.store.case_map): ``aggregates`` returns None for it.

Overdue is time: a case is overdue once its next deadline (geo.store.vocabulary.next_due_sql) has
passed, so the counters are keyed by the UTC day of that deadline. Days before today are overdue
as a whole; of today's, only the cases due before now, read through ``ix_cases_next_due``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.filters import CaseFilters
from geo.store.case_filters import like_prefix, where_clause
from geo.store.vocabulary import next_due_sql

__all__ = ["aggregates", "differences", "fold_past", "rebuild", "served"]

_NEXT_DUE = next_due_sql("c")
#: The counter key: what a row of case_count counts (as the migration's trigger computes it).
_KEY = "street_code, community_code, category_code, status, due_day"
_DUE_DAY = f"floor(extract(epoch FROM {next_due_sql('')}) / 86400)::int"
#: Days since 1970-01-01 (UTC) of now (once per query, an integer: numeric per row was most of the
#: time), and the instant today began.
_TODAY = "(SELECT floor(extract(epoch FROM now()) / 86400)::int)"
_TODAY_START = "to_timestamp(floor(extract(epoch FROM now()) / 86400) * 86400)"


def served(filters: CaseFilters) -> bool:
    """Whether the counters can answer ``filters`` (area lengths are checked against the data later)."""
    return not (filters.reported_from or filters.reported_to or filters.source or filters.reported_by is not None
                or filters.departments is not None)


def aggregates(session: Session, filters: CaseFilters, *, level: str) -> list[dict[str, Any]] | None:
    """Case counts per current boundary of ``level`` (street or community) from the counters, the
    same rows as a scan (geo.store.case_map); None when the counters cannot answer ``filters``."""
    if not served(filters):
        return None
    prefixes = [p for p in (filters.area, filters.visible_area) if p]
    if prefixes and not _communities_cover(session, max(len(p) for p in prefixes)):
        return None
    rows = _counted(session, filters, level)
    return _with_overdue_filter(rows, filters.overdue)


def _communities_cover(session: Session, length: int) -> bool:
    """A grid-code prefix of ``length`` is a community-code prefix for every counted case (codes nest:
    geo.domain.boundaries checks a child's code starts with its parent's)."""
    return not session.execute(text(
        "SELECT EXISTS (SELECT 1 FROM case_count WHERE cases <> 0 "
        "AND (community_code IS NULL OR length(community_code) < :n))"), {"n": length}).scalar_one()


def _counter_where(filters: CaseFilters) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = ["true"]
    params: dict[str, Any] = {}
    if filters.statuses:
        clauses.append("k.status = ANY(:statuses)")
        params["statuses"] = list(filters.statuses)
    if filters.categories:
        clauses.append("k.category_code = ANY(:categories)")
        params["categories"] = list(filters.categories)
    if filters.area:
        clauses.append("k.community_code LIKE :area")
        params["area"] = like_prefix(filters.area)
    if filters.visible_area:
        clauses.append("k.community_code LIKE :visible")
        params["visible"] = filters.visible_area + "%"
    return " AND ".join(clauses), params


def _counted(session: Session, filters: CaseFilters, level: str) -> list[dict[str, Any]]:
    column = {"street": "street_code", "community": "community_code"}[level]
    kwhere, params = _counter_where(filters)
    cwhere, cparams = where_clause(replace(filters, overdue=None, bbox=None))
    params |= cparams | {"level": level}
    rows = session.execute(text(f"""
        WITH counted AS (
            SELECT k.{column} AS code, sum(k.cases) AS cases,
                   coalesce(sum(k.cases) FILTER (WHERE k.due_day < {_TODAY}), 0) AS late
            FROM case_count k WHERE {kwhere} GROUP BY 1),
        today AS (
            SELECT c.{column} AS code, count(*) AS late FROM cases c
            WHERE {cwhere} AND {_NEXT_DUE} >= {_TODAY_START} AND {_NEXT_DUE} < now() GROUP BY 1)
        SELECT b.code, b.name, counted.cases, counted.late + coalesce(today.late, 0) AS overdue,
               ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat
        FROM counted LEFT JOIN today USING (code)
        JOIN boundary b ON b.code = counted.code AND b.level = :level
        JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL
        WHERE counted.cases > 0
        ORDER BY b.code"""), params).mappings().all()
    return [dict(r) for r in rows]


def _with_overdue_filter(rows: list[dict[str, Any]], overdue: bool | None) -> list[dict[str, Any]]:
    """Only overdue cases (all counted are overdue) or only the others (none is); empty areas go."""
    if overdue is None:
        return rows
    out = []
    for r in rows:
        cases = r["overdue"] if overdue else r["cases"] - r["overdue"]
        if cases:
            out.append({**r, "cases": cases, "overdue": r["overdue"] if overdue else 0})
    return out


def rebuild(session: Session) -> int:
    """Recount every counter from the cases (writers wait meanwhile); the number of counter rows."""
    return int(session.execute(text("SELECT case_count_rebuild()")).scalar_one())


def fold_past(session: Session) -> int:
    """Add the counters of deadline days before today into one row per key (day 0); the rows folded."""
    return int(session.execute(text("SELECT case_count_fold()")).scalar_one())


def differences(session: Session) -> list[dict[str, Any]]:
    """Counter rows that disagree with a count of the cases (empty when the counters are right); days
    before today count as one (they all mean overdue: see fold_past)."""
    day = f"CASE WHEN due_day < {_TODAY} THEN 0 ELSE due_day END"
    rows = session.execute(text(f"""
        SELECT street_code, community_code, category_code, status, {day} AS due_day,
               sum(counted)::bigint AS counted, sum(actual)::bigint AS actual FROM (
            SELECT {_KEY}, cases AS counted, 0 AS actual FROM case_count
            UNION ALL
            SELECT street_code, community_code, category_code, status, {_DUE_DAY}, 0, 1 FROM cases) m
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(counted) <> sum(actual)
        ORDER BY 1, 2, 3, 4, 5"""), {}).mappings().all()
    return [dict(r) for r in rows]
