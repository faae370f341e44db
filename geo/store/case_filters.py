"""A case filter (geo.domain.filters.CaseFilters) as an SQL WHERE clause over ``cases c``, with its
parameters: every read of cases (lists, exports, the map) narrows through here."""

from __future__ import annotations

from typing import Any

from geo.domain.filters import CaseFilters
from geo.store.vocabulary import OVERDUE_SQL

__all__ = ["like_prefix", "where_clause"]


def like_prefix(value: str) -> str:
    """A LIKE pattern for "starts with ``value``": % and _ from a request are literal characters
    (``area=%`` must match nothing, not everything), so are backslashes.

    >>> like_prefix("1101_%")
    '1101\\\\_\\\\%%'
    """
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def where_clause(filters: CaseFilters) -> tuple[str, dict[str, Any]]:
    clauses: list[str] = ["true"]
    params: dict[str, Any] = {}
    if filters.statuses:
        clauses.append("c.status = ANY(:statuses)")
        params["statuses"] = list(filters.statuses)
    if filters.categories:
        clauses.append("c.category_code = ANY(:categories)")
        params["categories"] = list(filters.categories)
    if filters.area:
        clauses.append("c.grid_code LIKE :area")
        params["area"] = like_prefix(filters.area)
    if filters.bbox:
        clauses.append("c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)")
        params.update(x0=filters.bbox[0], y0=filters.bbox[1], x1=filters.bbox[2], y1=filters.bbox[3])
    if filters.reported_from:
        clauses.append("c.reported_at >= :rfrom")
        params["rfrom"] = filters.reported_from
    if filters.reported_to:
        clauses.append("c.reported_at < :rto")
        params["rto"] = filters.reported_to
    if filters.source:
        clauses.append("c.source = :source")
        params["source"] = filters.source
    if filters.overdue is not None:
        # a clock without a deadline is NULL in OVERDUE_SQL: such a case is not overdue (statuses.overdue_by)
        clauses.append(OVERDUE_SQL if filters.overdue else f"NOT coalesce({OVERDUE_SQL}, false)")
    if filters.reported_by is not None:
        clauses.append("EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.action = 'receive' "
                       "AND e.actor_user_id = :reporter)")
        params["reporter"] = filters.reported_by
    if filters.visible_area:
        clauses.append("c.grid_code LIKE :visible")
        params["visible"] = filters.visible_area + "%"
    if filters.departments is not None:
        clauses.append("(c.lead_department = ANY(:depts) OR c.co_departments && CAST(:depts AS varchar[]) "
                       "OR (c.lead_department IS NULL AND c.street_code = ANY(:depts)) "
                       "OR EXISTS (SELECT 1 FROM whistle_case wc JOIN whistle_summons s "
                       "ON s.whistle_id = wc.whistle_id WHERE wc.case_id = c.id AND s.department_code = ANY(:depts)))")
        params["depts"] = list(filters.departments)
    return " AND ".join(clauses), params
