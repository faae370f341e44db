"""The case list beside the map: a sorted, paged read with its total, and the case search (by number or
external ticket number). Both narrow through ``where_clause``, as every read of cases does."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.filters import CaseFilters
from geo.store.case_filters import like_prefix, where_clause
from geo.store.cases import CASE_COLUMNS
from geo.store.vocabulary import OVERDUE_STEP_SQL, next_due_sql, overdue_seconds_sql, status_order_sql

__all__ = ["count", "find", "page"]

_NEXT_DUE = next_due_sql("c")
_OVERDUE_SECONDS = overdue_seconds_sql("c")
#: sort → ORDER BY (geo.domain.filters.SORTS); ties newest first, so pages are stable.
_ORDER = {
    "newest": "c.id DESC",
    "overdue": f"(CASE WHEN ({_NEXT_DUE}) < now() THEN ({_NEXT_DUE}) END) ASC NULLS LAST, c.id DESC",
    "due": f"({_NEXT_DUE}) ASC NULLS LAST, c.id DESC",
    "status": f"{status_order_sql('c.status')}, c.id DESC",
    "category": "c.category_code, c.id DESC",
}


def page(session: Session, filters: CaseFilters, *, sort: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """One page of matching cases in ``sort`` order, each with its next deadline and overdue time."""
    where, params = where_clause(filters)
    params.update(offset=offset, limit=limit)
    rows = session.execute(text(
        f"SELECT {CASE_COLUMNS}, {_NEXT_DUE} AS next_due, {_OVERDUE_SECONDS} AS overdue_seconds, "
        f"{OVERDUE_STEP_SQL} AS overdue_step "
        f"FROM cases c JOIN category cat ON cat.code = c.category_code WHERE {where} "
        f"ORDER BY {_ORDER[sort]} OFFSET :offset LIMIT :limit"), params).mappings().all()
    return [dict(r) for r in rows]


def count(session: Session, filters: CaseFilters) -> int:
    where, params = where_clause(filters)
    return int(session.execute(text(f"SELECT count(*) FROM cases c WHERE {where}"), params).scalar() or 0)


def find(session: Session, filters: CaseFilters, query: str, *, limit: int) -> list[dict[str, Any]]:
    """Cases whose number starts with ``query`` or whose external ticket number (工单号) is or starts
    with it; exact hits first."""
    where, params = where_clause(filters)
    params.update(q=query, prefix=like_prefix(query), limit=limit)
    rows = session.execute(text(f"""
        SELECT c.case_no, c.external_id, c.source, c.status, c.category_code, cat.name AS category_name,
               ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.address
        FROM cases c JOIN category cat ON cat.code = c.category_code
        WHERE {where} AND (c.case_no LIKE :prefix OR c.external_id LIKE :prefix)
        ORDER BY (c.case_no = :q OR c.external_id = :q) DESC, c.id DESC LIMIT :limit"""), params).mappings().all()
    return [dict(r) for r in rows]
