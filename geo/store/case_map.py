"""What the map draws: one small row per marker, or counts per street or community."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.filters import CaseFilters
from geo.store import case_counts
from geo.store.case_filters import where_clause
from geo.store.vocabulary import OVERDUE_SQL

__all__ = ["map_aggregates", "map_points"]


#: Cases under a whistle that is still open (highlighted on the map).
_UNDER_WHISTLE_SQL = """EXISTS (SELECT 1 FROM whistle_case wc JOIN whistle w ON w.id = wc.whistle_id
                               WHERE wc.case_id = c.id AND w.status = 'open')"""


def map_points(session: Session, filters: CaseFilters, *, limit: int, decimals: int) -> list[str]:
    """One GeoJSON Feature text per marker (id, status, category and its name, overdue, under a
    whistle; coordinates to ``decimals``), newest first, at most ``limit``. PostGIS writes the JSON:
    5,000 rows as Python dicts and then json.dumps cost several times the query (bench/README.md)."""
    where, params = where_clause(filters)
    params.update(limit=limit, decimals=decimals)
    return list(session.execute(text(
        f"SELECT json_build_object('type', 'Feature', 'id', c.case_no, 'geometry', json_build_object("
        f"'type', 'Point', 'coordinates', json_build_array(round(ST_X(c.geom)::numeric, :decimals), "
        f"round(ST_Y(c.geom)::numeric, :decimals))), 'properties', json_build_object('id', c.case_no, "
        f"'status', c.status, 'category', c.category_code, 'category_name', cat.name, "
        f"'overdue', coalesce({OVERDUE_SQL}, false), 'whistle', {_UNDER_WHISTLE_SQL}))::text "
        f"FROM cases c JOIN category cat ON cat.code = c.category_code WHERE {where} "
        f"ORDER BY c.id DESC LIMIT :limit"), params).scalars())


def map_aggregates(session: Session, filters: CaseFilters, *, level: str,
                   counters: bool = True) -> list[dict[str, Any]]:
    """Case counts per current boundary of ``level`` (street or community), at a point inside it:
    from the counters when they can answer ``filters`` (geo.store.case_counts), else a scan of the
    cases (``counters=False`` always scans: the benchmark and the tests compare both)."""
    rows = case_counts.aggregates(session, filters, level=level) if counters else None
    return rows if rows is not None else _scanned_aggregates(session, filters, level)


def _scanned_aggregates(session: Session, filters: CaseFilters, level: str) -> list[dict[str, Any]]:
    column = {"street": "street_code", "community": "community_code"}[level]
    where, params = where_clause(filters)
    params["level"] = level
    rows = session.execute(text(f"""
        WITH counts AS (
            SELECT c.{column} AS code, count(*) AS cases, count(*) FILTER (WHERE {OVERDUE_SQL}) AS overdue
            FROM cases c WHERE {where} GROUP BY 1)
        SELECT b.code, b.name, counts.cases, counts.overdue,
               ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat
        FROM counts JOIN boundary b ON b.code = counts.code AND b.level = :level
        JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL
        ORDER BY b.code"""), params).mappings().all()
    return [dict(r) for r in rows]
