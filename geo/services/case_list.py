"""The map's workplace reads: the case list beside the map (sorted, paged, with its total) and the search
box (cases by number or 12345 ticket number, boundaries by code or name, addresses from the gazetteer).
Every case read is narrowed to the reader's scope first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from geo.domain.errors import InvalidInput
from geo.domain.filters import SORTS, CaseFilters
from geo.domain.permissions import User, scoped_filters, visible_area
from geo.services import addresses as address_service
from geo.services import boundaries as boundary_service
from geo.services.cases import CASE_STATUSES, _feature
from geo.store import case_list as store

__all__ = ["PAGE_MAX", "QUERY_MAX", "list_page", "search"]

#: Most rows one page of the list carries.
PAGE_MAX = 200
#: Longest search text.
QUERY_MAX = 64


def _check(filters: CaseFilters, sort: str, page: int, limit: int) -> None:
    if sort not in SORTS:
        raise InvalidInput(f"排序 sort={sort!r} 无效，可选：{', '.join(SORTS)}。", field="sort", code="bad_sort")
    if page < 1:
        raise InvalidInput("页码 page 从 1 开始。", field="page", code="bad_page")
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(f"每页条数 limit 应为 1–{PAGE_MAX}。", field="limit", code="bad_limit")
    for status in filters.statuses:
        if status not in CASE_STATUSES:
            raise InvalidInput(f"状态 {status!r} 无效，可选：{', '.join(CASE_STATUSES)}。", field="status",
                               code="bad_status")


def list_page(session: Session, filters: CaseFilters, *, user: User | None, sort: str = "overdue", page: int = 1,
              limit: int = 50) -> dict[str, Any]:
    """Page ``page`` of the cases ``user`` may see matching ``filters``, in ``sort`` order (geo.domain.filters.SORTS),
    as a FeatureCollection with ``total``, ``page``, ``pages`` and ``sort``; each case carries ``next_due``,
    ``overdue_seconds`` and ``overdue_step`` (geo.domain.statuses' rule, as SQL)."""
    _check(filters, sort, page, limit)
    filters = scoped_filters(filters, user)
    total = store.count(session, filters)
    rows = store.page(session, filters, sort=sort, offset=(page - 1) * limit, limit=limit)
    features = []
    for row in rows:
        extra = {k: row.pop(k) for k in ("next_due", "overdue_seconds", "overdue_step")}
        feature = _feature(row)
        props = feature["properties"]
        props["next_due"] = extra["next_due"].isoformat() if isinstance(extra["next_due"], datetime) else None
        props["overdue_seconds"] = None if extra["overdue_seconds"] is None else float(extra["overdue_seconds"])
        props["overdue_step"] = extra["overdue_step"]
        features.append(feature)
    return {"type": "FeatureCollection", "features": features, "total": total, "page": page,
            "pages": max(1, -(-total // limit)), "sort": sort, "next": None}


def search(session: Session, query: str, *, user: User | None, limit: int = 10) -> dict[str, Any]:
    """What the search box finds for ``query``: cases ``user`` may see by case number or external ticket
    number, boundaries by code or name, gazetteer addresses (in the reader's area first)."""
    query = query.strip().replace("\x00", "")
    if len(query) > QUERY_MAX:
        raise InvalidInput(f"搜索词太长（最多 {QUERY_MAX} 个字）。", field="q", code="too_long")
    if not query:
        return {"cases": [], "boundaries": [], "addresses": []}
    filters = scoped_filters(CaseFilters(), user)
    cases = [{"id": r["case_no"], "external_id": r["external_id"], "source": r["source"], "status": r["status"],
              "category": r["category_code"], "category_name": r["category_name"], "lon": r["lon"],
              "lat": r["lat"], "address": r["address"]}
             for r in store.find(session, filters, query, limit=limit)]
    boundaries = boundary_service.search_boundaries(session, query, limit=limit)
    area = visible_area(user) if user is not None and user.role != "department_staff" else ""
    addresses = address_service.search_addresses(session, query, limit=limit, area=area or None)
    if area and len(addresses) < limit:  # then the rest of the city: a street's edge is no wall for addresses
        seen = {a["id"] for a in addresses}
        addresses += [a for a in address_service.search_addresses(session, query, limit=limit)
                      if a["id"] not in seen][:limit - len(addresses)]
    return {"cases": cases, "boundaries": boundaries, "addresses": addresses}
