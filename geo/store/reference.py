"""Storage of reference data: categories, departments with jurisdictions, the duty list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.reference import CategoryRow, DepartmentRow
from geo.domain.routing import DutyRule

__all__ = [
    "CALENDAR_STAMP_SQL",
    "all_categories",
    "all_duty_rules",
    "calendar_days",
    "department_codes",
    "department_names",
    "insert_missing_categories",
    "jurisdictions",
    "replace_duty_rules",
    "upsert_calendar",
    "upsert_categories",
    "upsert_departments",
]


def upsert_categories(session: Session, rows: Sequence[CategoryRow]) -> int:
    """Insert new categories and update existing ones (codes never disappear: cases use them)."""
    if rows:
        session.execute(
            text("INSERT INTO category (code, name, major_code, major_name, urgency, resolve_limit_hours, clock) "
                 "VALUES (:code, :name, :major_code, :major_name, :urgency, :resolve_limit_hours, :clock) "
                 "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, major_name = EXCLUDED.major_name, "
                 "urgency = EXCLUDED.urgency, resolve_limit_hours = EXCLUDED.resolve_limit_hours, "
                 "clock = EXCLUDED.clock"),
            [row.__dict__ for row in rows],
        )
    return len(rows)


def insert_missing_categories(session: Session, rows: Sequence[CategoryRow]) -> int:
    """Add the seed categories a database lacks, leaving edited ones alone."""
    if not rows:
        return 0
    result = session.execute(
        text("INSERT INTO category (code, name, major_code, major_name, urgency, resolve_limit_hours, clock) "
             "VALUES (:code, :name, :major_code, :major_name, :urgency, :resolve_limit_hours, :clock) "
             "ON CONFLICT (code) DO NOTHING"),
        [row.__dict__ for row in rows],
    )
    return int(getattr(result, "rowcount", 0) or 0)


def all_categories(session: Session) -> dict[str, dict[str, Any]]:
    rows = session.execute(text(
        "SELECT code, name, major_code, major_name, urgency, resolve_limit_hours, clock FROM category ORDER BY code"
    )).mappings().all()
    return {r["code"]: dict(r) for r in rows}


def upsert_departments(session: Session, rows: Sequence[DepartmentRow]) -> int:
    """Insert or update; a row without geometry keeps the jurisdiction the department had."""
    params = [
        {"code": r.code, "name": r.name, "parent": r.parent_code,
         "wkb": None if r.jurisdiction is None else shapely.to_wkb(r.jurisdiction, output_dimension=2)}
        for r in rows
    ]
    # Parents first, so the foreign key holds within one file.
    params.sort(key=lambda p: (p["parent"] is not None, p["code"]))
    if params:
        session.execute(
            text("INSERT INTO department (code, name, parent_code, jurisdiction) "
                 "VALUES (:code, :name, :parent, ST_Multi(ST_GeomFromWKB(:wkb, 4326))) "
                 "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, parent_code = EXCLUDED.parent_code, "
                 "jurisdiction = COALESCE(EXCLUDED.jurisdiction, department.jurisdiction)"),
            params,
        )
    return len(params)


def department_codes(session: Session) -> set[str]:
    return set(session.execute(text("SELECT code FROM department")).scalars())


def department_names(session: Session) -> dict[str, str]:
    return {r[0]: r[1] for r in session.execute(text("SELECT code, name FROM department")).all()}


def all_departments(session: Session) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        "SELECT code, name, parent_code, jurisdiction IS NOT NULL AS has_jurisdiction FROM department ORDER BY code"
    )).mappings().all()]


def department_shapes(session: Session) -> dict[str, Any]:
    """Department code → jurisdiction (shapely MultiPolygon) for the departments that have one."""
    rows = session.execute(text(
        "SELECT code, ST_AsBinary(jurisdiction) FROM department WHERE jurisdiction IS NOT NULL")).all()
    return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}


def jurisdictions(session: Session) -> tuple[list[str], list[str | None], np.ndarray]:
    """(codes, parent codes, polygons) of every department unit that has a jurisdiction."""
    rows = session.execute(text(
        "SELECT code, parent_code, ST_AsBinary(jurisdiction) FROM department "
        "WHERE jurisdiction IS NOT NULL ORDER BY code")).all()
    geoms = shapely.from_wkb([bytes(r[2]) for r in rows]) if rows else np.empty(0, dtype=object)
    return [r[0] for r in rows], [r[1] for r in rows], geoms


def replace_duty_rules(session: Session, rules: Sequence[DutyRule]) -> int:
    """The duty list is replaced whole, atomically, in the caller's transaction."""
    session.execute(text("DELETE FROM duty_rule"))
    if rules:
        session.execute(
            text("INSERT INTO duty_rule (category_code, scope_kind, scope, lead_department, co_departments, "
                 "resolve_limit_hours) VALUES (:category, :scope_kind, :scope, :lead, :co, :limit)"),
            [{"category": r.category, "scope_kind": r.scope_kind, "scope": r.scope, "lead": r.lead,
              "co": list(r.co), "limit": r.resolve_limit_hours} for r in rules],
        )
    return len(rules)


def all_duty_rules(session: Session) -> dict[str, list[DutyRule]]:
    """Rules grouped by category."""
    grouped: dict[str, list[DutyRule]] = {}
    for r in session.execute(text(
            "SELECT category_code, scope_kind, scope, lead_department, co_departments, resolve_limit_hours "
            "FROM duty_rule ORDER BY id")).all():
        grouped.setdefault(r[0], []).append(DutyRule(r[0], r[1], r[2], r[3], tuple(r[4]), r[5]))
    return grouped


def upsert_calendar(session: Session, rows: Sequence[tuple[Any, str, str]]) -> None:
    if rows:
        session.execute(text("INSERT INTO calendar_day (day, kind, name) VALUES (:d, :k, :n) "
                             "ON CONFLICT (day) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name"),
                        [{"d": d, "k": k, "n": n} for d, k, n in rows])


#: A scalar that changes whenever the calendar does (a few hundred rows at most): a query that
#: already runs (the create's routing facts) selects it, and a cached calendar with the same
#: stamp is the stored one, without reading it again.
CALENDAR_STAMP_SQL = ("(SELECT count(*) || ':' || "
                      "coalesce(md5(string_agg(day::text || kind, ',' ORDER BY day, kind)), '') FROM calendar_day)")


def calendar_days(session: Session) -> tuple[frozenset[Any], frozenset[Any], str]:
    """(holidays, make-up workdays, the stamp of CALENDAR_STAMP_SQL), read together."""
    rows = session.execute(text(f"SELECT day, kind, {CALENDAR_STAMP_SQL} FROM calendar_day")).all()
    stamp = rows[0][2] if rows else session.execute(text(f"SELECT {CALENDAR_STAMP_SQL}")).scalar_one()
    return (frozenset(r[0] for r in rows if r[1] == "holiday"), frozenset(r[0] for r in rows if r[1] == "workday"),
            str(stamp))
