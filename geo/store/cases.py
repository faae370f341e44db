"""Case storage: the one-round-trip routing facts, inserts with readable ids, reads, bulk COPY."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.cases import CASE_NO_DIGITS
from geo.domain.filters import CaseFilters
from geo.domain.placement import Placement
from geo.domain.routing import Coverage, DutyRule
from geo.domain.statuses import TERMINAL
from geo.store.case_filters import where_clause
from geo.store.reference import CALENDAR_STAMP_SQL
from geo.store.vocabulary import OVERDUE_SQL, OVERDUE_STEP_SQL, overdue_sql, status_in, status_not_in

__all__ = [
    "CASE_COLUMNS",
    "REQUESTER_COLUMNS",
    "PointFacts",
    "existing_external_ids",
    "existing_tickets",
    "get_case",
    "grid_chain",
    "grid_pieces",
    "insert_case",
    "iter_cases",
    "list_cases",
    "open311_requests",
    "point_facts",
    "possible_duplicates",
]

#: Readable ids, as geo.domain.cases.case_number writes them: district code, local date, the
#: sequence per district and day zero-padded to CASE_NO_DIGITS and wider when it needs more
#: (``lpad`` alone would cut it). tests/test_one_home.py runs it against the Python rule.
CASE_NO_SQL = ("{d} || '-' || to_char({day}, 'YYYYMMDD') || '-' || "
               f"lpad(({{n}})::text, greatest({CASE_NO_DIGITS}, length(({{n}})::text)), '0')")

_METRES_PER_DEGREE = 111_320.0
_CURRENT = "JOIN boundary_version v ON v.id = {t}.version_id AND v.valid_to IS NULL"


@dataclass(frozen=True)
class PointFacts:
    """Everything routing needs about one point, fetched in one round trip."""

    placement: Placement | None
    version_id: int | None
    coverage: Coverage
    rules: list[DutyRule]
    category: dict[str, Any] | None
    existing_case_no: str | None
    #: geo.store.reference.CALENDAR_STAMP_SQL: a cached calendar with this stamp is the stored one.
    calendar_stamp: str = ""


def point_facts(
    session: Session, lon: float, lat: float, category: str, source: str, external_id: str | None
) -> PointFacts:
    """Grid (lowest code on shared edges) and its parents, covering jurisdictions, the category's
    rules and row, an existing case with the same (source, external_id) and the calendar's stamp:
    one query."""
    row = session.execute(text(f"""
        WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g),
        grid AS (
            SELECT p.code, p.version_id FROM boundary_piece p {_CURRENT.format(t='p')}, pt
            WHERE p.level = 'grid' AND ST_Intersects(p.geom, pt.g)
            ORDER BY p.code LIMIT 1)
        SELECT grid.code, grid.version_id,
               gb.parent_code AS community,
               (SELECT b.parent_code FROM boundary b {_CURRENT.format(t='b')}
                 WHERE b.level = 'community' AND b.code = gb.parent_code) AS street,
               (SELECT s.parent_code FROM boundary s {_CURRENT.format(t='s')}
                 WHERE s.level = 'street' AND s.code = (
                    SELECT b.parent_code FROM boundary b {_CURRENT.format(t='b')}
                     WHERE b.level = 'community' AND b.code = gb.parent_code)) AS district,
               (SELECT coalesce(json_agg(json_build_array(d.code, d.parent_code)), '[]'::json)
                  FROM department d, pt WHERE d.jurisdiction IS NOT NULL AND ST_Intersects(d.jurisdiction, pt.g)),
               (SELECT coalesce(json_agg(json_build_array(r.scope_kind, r.scope, r.lead_department,
                                                          r.co_departments, r.resolve_limit_hours)
                                         ORDER BY r.id), '[]'::json)
                  FROM duty_rule r WHERE r.category_code = :category),
               (SELECT row_to_json(c) FROM category c WHERE c.code = :category),
               (SELECT x.case_no FROM cases x WHERE x.source = :source AND x.external_id = :external_id),
               {CALENDAR_STAMP_SQL}
        FROM (SELECT 1) one
        LEFT JOIN grid ON true
        LEFT JOIN boundary gb ON gb.version_id = grid.version_id AND gb.code = grid.code
        """), {"lon": lon, "lat": lat, "category": category, "source": source, "external_id": external_id}).one()
    grid, version_id, community, street, district, units, rules, cat, existing, stamp = row
    placement = Placement(grid, community, street, district) if grid else None
    return PointFacts(
        placement=placement,
        version_id=version_id,
        coverage=Coverage.from_pairs((u[0], u[1]) for u in units),
        rules=[DutyRule(category, r[0], r[1], r[2], tuple(r[3]), r[4]) for r in rules],
        category=cat,
        existing_case_no=existing,
        calendar_stamp=str(stamp),
    )


def insert_case(session: Session, values: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """Number, insert and record ('receive' event) one case in ONE statement, returning the case.

    The district's counter row for the day stays locked until the transaction ends, so callers
    do every other query first and commit right after this (creates queue here, briefly).
    """
    case_no = CASE_NO_SQL.format(d=":district_code", day=":day", n="n.last")
    row = session.execute(text(f"""
        WITH n AS (
            INSERT INTO case_counter (district_code, day, last) VALUES (:district_code, :day, 1)
            ON CONFLICT (district_code, day) DO UPDATE SET last = case_counter.last + 1
            RETURNING last),
        c AS (
            INSERT INTO cases (case_no, source, external_id, category_code, description, urgency, reported_at,
                               geom, orig_x, orig_y, orig_crs, grid_code, community_code, street_code, district_code,
                               boundary_version_id, lead_department, co_departments, routing_rule,
                               dispatch_due, respond_due, resolve_due, resolve_limit_hours,
                               requester_name, requester_phone, requester_email, request_type, address)
            SELECT {case_no}, :source, :external_id, :category_code, :description, :urgency, :reported_at,
                   ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :orig_x, :orig_y, :orig_crs, :grid_code,
                   :community_code, :street_code, :district_code, :boundary_version_id, :lead_department,
                   :co_departments, :routing_rule, :dispatch_due, :respond_due, :resolve_due, :resolve_limit_hours,
                   :requester_name, :requester_phone, :requester_email, :request_type, :address
            FROM n
            RETURNING *),
        e AS (
            INSERT INTO case_event (case_id, actor_user_id, actor_name, actor_role, action, to_status, lon, lat,
                                    details)
            SELECT c.id, :actor_user_id, :actor_name, :actor_role, 'receive', 'received', :lon, :lat,
                   CAST(:event_details AS jsonb) FROM c)
        SELECT {_CASE_COLUMNS}, {REQUESTER_COLUMNS} FROM c JOIN category cat ON cat.code = c.category_code
        """), {**values, **event}).mappings().one()
    return dict(row)


def possible_duplicates(
    session: Session, *, lon: float, lat: float, category: str, since: datetime, radius_m: float,
    exclude_id: int | None = None, limit: int = 10,
) -> list[dict[str, Any]]:
    """Open cases of the same category within ``radius_m`` reported since ``since``, nearest first."""
    # The GiST box search runs first on its own (MATERIALIZED): ANDed with a bitmap of the whole
    # category it costs milliseconds once a category has tens of thousands of cases.
    rows = session.execute(text(f"""
        WITH near AS MATERIALIZED (
            SELECT id, case_no, status, description, reported_at, category_code, geom, grid_code, street_code,
                   lead_department, co_departments FROM cases
            WHERE geom && ST_Expand(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :degrees))
        SELECT case_no, status, description, reported_at,
               round(ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)::numeric, 1),
               grid_code, street_code, lead_department, co_departments
        FROM near
        WHERE category_code = :category AND {status_not_in("status", TERMINAL)} AND reported_at >= :since
          AND (CAST(:exclude AS bigint) IS NULL OR id <> :exclude)
          AND ST_DWithin(geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography, :radius)
        ORDER BY 5, reported_at DESC LIMIT :limit
        """), {"lon": lon, "lat": lat, "category": category, "since": since, "radius": radius_m,
               "degrees": _degrees_covering(radius_m, lat), "exclude": exclude_id, "limit": limit}).all()
    return [{"id": r[0], "status": r[1], "description": r[2], "reported_at": r[3], "distance_m": float(r[4]),
             "grid_code": r[5], "street_code": r[6], "lead_department": r[7], "co_departments": r[8]} for r in rows]


def _degrees_covering(metres: float, lat: float) -> float:
    """A box half-width in degrees that surely covers ``metres`` around latitude ``lat``, so the
    geography distance test runs only on rows the GiST index on ``geom`` found."""
    return 1.5 * metres / (_METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))



_CASE_COLUMNS = """c.id, c.case_no, c.source, c.external_id, c.category_code, cat.name AS category_name,
    c.description, c.urgency, c.reported_at, c.received_at, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
    c.orig_x, c.orig_y, c.orig_crs, c.grid_code, c.community_code, c.street_code, c.district_code,
    c.boundary_version_id, c.lead_department, c.co_departments, c.routing_rule, c.status,
    c.dispatch_due, c.respond_due, c.resolve_due, c.extension_due, c.callback, c.request_type,
    c.address, """ + OVERDUE_SQL + (
    " AS overdue")
#: What a case read returns (lists, exports, one case), without the requester.
CASE_COLUMNS = _CASE_COLUMNS
#: The requester (personal data) is read only where one case is shown (get_case, insert_case), and
#: masked there as geo.domain.permissions says: lists, exports and the map never select it.
REQUESTER_COLUMNS = "c.requester_name, c.requester_phone, c.requester_email"


#: Departments summoned to the case by a whistle: they see it (to check in), like its co-departments.
SUMMONED_SQL = ("ARRAY(SELECT s.department_code FROM whistle_case wc JOIN whistle_summons s "
                "ON s.whistle_id = wc.whistle_id WHERE wc.case_id = c.id)")


def get_case(session: Session, case_no: str) -> dict[str, Any] | None:
    row = session.execute(text(
        f"SELECT {_CASE_COLUMNS}, {REQUESTER_COLUMNS}, {SUMMONED_SQL} AS summoned FROM cases c "
        "JOIN category cat ON cat.code = c.category_code "
        "WHERE c.case_no = :no"), {"no": case_no}).mappings().first()
    return dict(row) if row else None


def list_cases(session: Session, filters: CaseFilters, *, limit: int, before_id: int | None) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated on the internal id (``before_id`` from the previous page)."""
    where, params = where_clause(filters)
    if before_id is not None:
        where += " AND c.id < :before"
        params["before"] = before_id
    params["limit"] = limit
    rows = session.execute(text(
        f"SELECT {_CASE_COLUMNS} FROM cases c JOIN category cat ON cat.code = c.category_code "
        f"WHERE {where} ORDER BY c.id DESC LIMIT :limit"), params).mappings().all()
    return [dict(r) for r in rows]


def newly_overdue(session: Session) -> list[dict[str, Any]]:
    """Overdue cases whose current overdue step has no notification yet. Only clocks that ran out
    while gridmap held the case: one already overdue when it arrived (``received_at``: a year of
    hotline history loaded by ``cases import``) is overdue in lists and statistics but raises no
    notice — a department is told what it can still act on, not a flood of history."""
    return [dict(r) for r in session.execute(text(f"""
        SELECT c.case_no, c.street_code, c.lead_department, {OVERDUE_STEP_SQL} AS step
        FROM cases c
        WHERE {OVERDUE_SQL} AND NOT {overdue_sql("c", "c.received_at")}
          AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.kind = 'overdue' AND o.payload->>'case' = c.case_no
                          AND o.payload->>'step' = {OVERDUE_STEP_SQL})
        ORDER BY c.id""")).mappings().all()]


def iter_cases(session: Session, filters: CaseFilters, *, batch: int = 50_000) -> Any:
    """All matching cases, oldest first, in batches (for exports)."""
    where, params = where_clause(filters)
    last = 0
    while True:
        rows = session.execute(text(
            f"SELECT {_CASE_COLUMNS} FROM cases c JOIN category cat ON cat.code = c.category_code "
            f"WHERE {where} AND c.id > :last ORDER BY c.id LIMIT :batch"),
            {**params, "last": last, "batch": batch}).mappings().all()
        if not rows:
            return
        yield [dict(r) for r in rows]
        last = rows[-1]["id"]


# --- bulk -------------------------------------------------------------------------------------


def grid_pieces(session: Session) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(codes, polygons, version id) of the current grid pieces, the same the one-case path uses."""
    rows = session.execute(text(
        f"SELECT p.code, ST_AsBinary(p.geom), p.version_id FROM boundary_piece p {_CURRENT.format(t='p')} "
        "WHERE p.level = 'grid' ORDER BY p.code, p.id")).all()
    if not rows:
        return np.empty(0, dtype=object), np.empty(0, dtype=object), None
    codes = np.array([r[0] for r in rows], dtype=object)
    return codes, shapely.from_wkb([bytes(r[1]) for r in rows]), int(rows[0][2])


def grid_chain(session: Session) -> dict[str, Placement]:
    """Every current grid with its community, street and district (as the one-case query finds them)."""
    rows = session.execute(text(f"""
        SELECT g.code, g.parent_code, c.parent_code, s.parent_code
        FROM boundary g {_CURRENT.format(t='g')}
        LEFT JOIN (SELECT b.* FROM boundary b {_CURRENT.format(t='b')} WHERE b.level = 'community') c
               ON c.code = g.parent_code
        LEFT JOIN (SELECT b.* FROM boundary b {_CURRENT.format(t='b')} WHERE b.level = 'street') s
               ON s.code = c.parent_code
        WHERE g.level = 'grid'""")).all()
    return {r[0]: Placement(r[0], r[1], r[2], r[3]) for r in rows}


def existing_external_ids(session: Session, source: str, ids: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 50_000):
        chunk = list(ids[start:start + 50_000])
        found.update(session.execute(text(
            "SELECT external_id FROM cases WHERE source = :source AND external_id = ANY(:ids)"),
            {"source": source, "ids": chunk}).scalars())
    return found


def existing_tickets(session: Session, source: str, ids: Sequence[str]) -> pd.DataFrame:
    """The cases already holding these tickets of ``source``: external_id, category_code,
    reported_at, orig_x, orig_y (what tells the same ticket from a different one)."""
    parts = []
    if not session.execute(text("SELECT EXISTS (SELECT 1 FROM cases WHERE source = :source)"),
                           {"source": source}).scalar_one():
        ids = []  # a source's first file: nothing to look up (binding 10⁶ ids costs seconds)
    for start in range(0, len(ids), 50_000):
        rows = session.execute(text(
            "SELECT external_id, category_code, reported_at, orig_x, orig_y FROM cases "
            "WHERE source = :source AND external_id = ANY(:ids)"),
            {"source": source, "ids": list(ids[start:start + 50_000])}).all()
        parts.append(pd.DataFrame(rows, columns=["external_id", "category_code", "reported_at", "orig_x", "orig_y"]))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["external_id", "category_code", "reported_at", "orig_x", "orig_y"])


def open311_requests(
    session: Session, *, limit: int, offset: int, ids: list[str] | None = None, start: datetime | None = None,
    end: datetime | None = None, codes: list[str] | None = None, closed: bool | None = None,
    scope: CaseFilters | None = None,
) -> list[dict[str, Any]]:
    """Cases as Open311 reads them: by ids, or by time range, category codes and open/closed; only
    those ``scope`` (a reader's scoped filters) lets through, when given."""
    clause, params = where_clause(scope) if scope is not None else ("true", {})
    where = [clause]
    params |= {"limit": limit, "offset": offset}
    if ids is not None:
        where.append("c.case_no = ANY(:ids)")
        params["ids"] = ids
    if start is not None and end is not None:
        where += ["c.reported_at >= :start", "c.reported_at <= :end"]
        params.update(start=start, end=end)
    if codes:
        where.append("c.category_code = ANY(:codes)")
        params["codes"] = codes
    if closed is not None:
        where.append(status_in("c.status", TERMINAL) if closed else status_not_in("c.status", TERMINAL))
    rows = session.execute(text(f"""
        SELECT c.case_no, c.status, c.category_code, cat.name AS category_name, c.description, c.lead_department,
               c.street_code, c.reported_at, c.resolve_due, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat,
               coalesce((SELECT max(e.at) FROM case_event e WHERE e.case_id = c.id), c.received_at) AS updated_at
        FROM cases c JOIN category cat ON cat.code = c.category_code
        WHERE {' AND '.join(where)} ORDER BY c.reported_at DESC, c.id DESC LIMIT :limit OFFSET :offset"""),
        params).mappings().all()
    return [dict(r) for r in rows]
