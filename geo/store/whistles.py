"""Whistles, their cases and summons, check-in distances measured by PostGIS on the geography."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.statuses import FINISHED

__all__ = ["close_finished", "distance_to_cases", "get", "insert", "record_report", "summons_of", "whistle_cases",
           "whistles_of_case"]


def insert(session: Session, *, street_code: str, reason: str, note: str, lead: str, co: list[str],
           created_by: int, case_ids: list[int], due_at: datetime) -> int:
    whistle_id = int(session.execute(text(
        "INSERT INTO whistle (street_code, reason, note, lead_department, co_departments, created_by) "
        "VALUES (:street, :reason, :note, :lead, :co, :by) RETURNING id"),
        {"street": street_code, "reason": reason, "note": note, "lead": lead, "co": co, "by": created_by}
    ).scalar_one())
    session.execute(text("INSERT INTO whistle_case (whistle_id, case_id) VALUES (:w, :c)"),
                    [{"w": whistle_id, "c": c} for c in case_ids])
    session.execute(text("INSERT INTO whistle_summons (whistle_id, department_code, role, due_at) "
                         "VALUES (:w, :d, :role, :due)"),
                    [{"w": whistle_id, "d": d, "role": "lead" if d == lead else "co", "due": due_at}
                     for d in [lead, *co]])
    return whistle_id


def get(session: Session, whistle_id: int) -> dict[str, Any] | None:
    row = session.execute(text(
        "SELECT w.id, w.street_code, w.reason, w.note, w.lead_department, w.co_departments, w.created_at, "
        "w.status, w.closed_at, u.username AS created_by FROM whistle w JOIN app_user u ON u.id = w.created_by "
        "WHERE w.id = :id"), {"id": whistle_id}).mappings().first()
    return dict(row) if row else None


def whistle_cases(session: Session, whistle_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        "SELECT c.id, c.case_no, c.status, c.grid_code, c.street_code, c.lead_department, c.co_departments "
        "FROM whistle_case wc JOIN cases c ON c.id = wc.case_id WHERE wc.whistle_id = :id ORDER BY c.case_no"),
        {"id": whistle_id}).mappings().all()]


def whistles_of_case(session: Session, case_id: int) -> list[dict[str, Any]]:
    """Every whistle the case is part of (newest first) with its summons as a list."""
    rows = session.execute(text(
        "SELECT w.id, w.reason, w.status, w.created_at, w.lead_department, "
        "coalesce(json_agg(json_build_object('department_code', s.department_code, 'role', s.role, "
        "'due_at', s.due_at, 'reported_at', s.reported_at, 'late', s.late, 'distance_m', s.distance_m) "
        "ORDER BY s.role DESC, s.department_code) FILTER (WHERE s.department_code IS NOT NULL), '[]') AS summons "
        "FROM whistle_case wc JOIN whistle w ON w.id = wc.whistle_id "
        "LEFT JOIN whistle_summons s ON s.whistle_id = w.id "
        "WHERE wc.case_id = :id GROUP BY w.id ORDER BY w.id DESC"), {"id": case_id}).mappings().all()
    return [dict(r) for r in rows]


def summons_of(session: Session, whistle_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        "SELECT department_code, role, due_at, reported_at, report_lon, report_lat, distance_m, late "
        "FROM whistle_summons WHERE whistle_id = :id ORDER BY role DESC, department_code"),
        {"id": whistle_id}).mappings().all()]


def distance_to_cases(session: Session, whistle_id: int, lon: float, lat: float) -> float:
    """Metres (on the WGS84 spheroid) from a point to the nearest case of the whistle."""
    return float(session.execute(text(
        "SELECT min(ST_Distance(c.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)) "
        "FROM whistle_case wc JOIN cases c ON c.id = wc.case_id WHERE wc.whistle_id = :id"),
        {"id": whistle_id, "lon": lon, "lat": lat}).scalar_one())


def record_report(session: Session, *, whistle_id: int, department: str, user_id: int, lon: float, lat: float,
                  distance_m: float, now: datetime) -> dict[str, Any] | None:
    """Record a check-in once; None when this department had already checked in."""
    row = session.execute(text(
        "UPDATE whistle_summons SET reported_at = :now, reported_by = :uid, report_lon = :lon, report_lat = :lat, "
        "distance_m = :d, late = (:now > due_at) "
        "WHERE whistle_id = :w AND department_code = :dept AND reported_at IS NULL "
        "RETURNING department_code, role, due_at, reported_at, distance_m, late"),
        {"now": now, "uid": user_id, "lon": lon, "lat": lat, "d": distance_m, "w": whistle_id, "dept": department}
    ).mappings().first()
    return dict(row) if row else None


def close_finished(session: Session, case_id: int) -> list[int]:
    """Close the open whistles of this case whose cases are all resolved (事不完、人不撤)."""
    return [int(r[0]) for r in session.execute(text(
        "UPDATE whistle w SET status = 'closed', closed_at = now() "
        "WHERE w.status = 'open' AND w.id IN (SELECT whistle_id FROM whistle_case WHERE case_id = :case) "
        "AND NOT EXISTS (SELECT 1 FROM whistle_case wc JOIN cases c ON c.id = wc.case_id "
        "                WHERE wc.whistle_id = w.id AND c.status <> ALL(:finished)) RETURNING w.id"),
        {"case": case_id, "finished": list(FINISHED)}).all()]
