"""Whistles, their cases, summons and scores, and check-in distances measured by PostGIS on the geography.

These tables hold a whistle's current state for the map and the panel; what happened (summons
due, check-ins, closes, reopens, scores) is also written to case_event, and the measures read
only that (``summons_events``, ``whistle_history``, ``score_events``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.statuses import FINISHED
from geo.domain.whistles import CLOSE, REOPEN, SCORE_ASPECTS
from geo.store.case_filters import like_prefix
from geo.store.cases import SUMMONED_SQL

__all__ = ["close_finished", "distance_to_cases", "get", "insert", "insert_score", "list_whistles", "record_report",
           "reopen_unfinished", "score_events", "scores_of", "summons_events", "summons_of", "whistle_cases",
           "whistle_history", "whistles_of_case"]

_WHISTLE_COLUMNS = ("w.id, w.street_code, w.reason, w.note, w.lead_department, w.co_departments, w.created_at, "
                    "w.status, w.closed_at, w.round, w.whistler_role, w.whistler_area, w.whistler_department, "
                    "u.username AS created_by")


def insert(session: Session, *, street_code: str, reason: str, note: str, lead: str, co: list[str],
           created_by: int, whistler: dict[str, str | None], case_ids: list[int], due_at: datetime,
           at: datetime) -> int:
    whistle_id = int(session.execute(text(
        "INSERT INTO whistle (street_code, reason, note, lead_department, co_departments, created_by, created_at, "
        "whistler_role, whistler_area, whistler_department) "
        "VALUES (:street, :reason, :note, :lead, :co, :by, :at, :role, :area, :department) RETURNING id"),
        {"street": street_code, "reason": reason, "note": note, "lead": lead, "co": co, "by": created_by, "at": at,
         "role": whistler["role"], "area": whistler["area"], "department": whistler["department"]}
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
        f"SELECT {_WHISTLE_COLUMNS} FROM whistle w JOIN app_user u ON u.id = w.created_by WHERE w.id = :id"),
        {"id": whistle_id}).mappings().first()
    return dict(row) if row else None


def list_whistles(session: Session, *, status: str | None, area: str | None, departments: tuple[str, ...] | None,
                  limit: int, before_id: int | None) -> list[dict[str, Any]]:
    """Newest first, keyset-paginated on the id: whistles with a case in ``area`` (a boundary prefix)
    or, with ``departments``, those they are summoned to or blew; ``status`` None: open and closed."""
    clauses: list[str] = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    if status is not None:
        clauses.append("w.status = :status")
        params["status"] = status
    if area:
        clauses.append("EXISTS (SELECT 1 FROM whistle_case wc JOIN cases c ON c.id = wc.case_id "
                       "WHERE wc.whistle_id = w.id AND c.grid_code LIKE :area)")
        params["area"] = like_prefix(area)
    if departments is not None:
        clauses.append("(w.whistler_department = ANY(:depts) OR EXISTS (SELECT 1 FROM whistle_summons s "
                       "WHERE s.whistle_id = w.id AND s.department_code = ANY(:depts)))")
        params["depts"] = list(departments)
    if before_id is not None:
        clauses.append("w.id < :before")
        params["before"] = before_id
    rows = session.execute(text(
        f"SELECT {_WHISTLE_COLUMNS} FROM whistle w JOIN app_user u ON u.id = w.created_by "
        f"WHERE {' AND '.join(clauses)} ORDER BY w.id DESC LIMIT :limit"), params).mappings().all()
    return [dict(r) for r in rows]


def whistle_cases(session: Session, whistle_ids: int | list[int]) -> list[dict[str, Any]]:
    """The cases of one whistle (or of several, each row with its ``whistle_id``), by case number,
    with what seeing them depends on (codes, departments, the departments summoned to them)."""
    ids = [whistle_ids] if isinstance(whistle_ids, int) else whistle_ids
    return [dict(r) for r in session.execute(text(
        "SELECT wc.whistle_id, c.id, c.case_no, c.status, c.grid_code, c.community_code, c.street_code, "
        f"c.lead_department, c.co_departments, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, {SUMMONED_SQL} AS summoned "
        "FROM whistle_case wc JOIN cases c ON c.id = wc.case_id WHERE wc.whistle_id = ANY(:ids) "
        "ORDER BY wc.whistle_id, c.case_no"), {"ids": ids}).mappings().all()]


def whistles_of_case(session: Session, case_id: int) -> list[dict[str, Any]]:
    """Every whistle the case is part of (newest first) with its summons as a list."""
    rows = session.execute(text(
        "SELECT w.id, w.reason, w.status, w.round, w.created_at, w.lead_department, w.whistler_role, "
        "w.whistler_area, w.whistler_department, "
        "coalesce(json_agg(json_build_object('department_code', s.department_code, 'role', s.role, "
        "'due_at', s.due_at, 'reported_at', s.reported_at, 'late', s.late, 'distance_m', s.distance_m) "
        "ORDER BY s.role DESC, s.department_code) FILTER (WHERE s.department_code IS NOT NULL), '[]') AS summons "
        "FROM whistle_case wc JOIN whistle w ON w.id = wc.whistle_id "
        "LEFT JOIN whistle_summons s ON s.whistle_id = w.id "
        "WHERE wc.case_id = :id GROUP BY w.id ORDER BY w.id DESC"), {"id": case_id}).mappings().all()
    return [dict(r) for r in rows]


def summons_of(session: Session, whistle_ids: int | list[int]) -> list[dict[str, Any]]:
    """The summons of one whistle (or of several, each row with its ``whistle_id``): lead first."""
    ids = [whistle_ids] if isinstance(whistle_ids, int) else whistle_ids
    return [dict(r) for r in session.execute(text(
        "SELECT whistle_id, department_code, role, due_at, reported_at, report_lon, report_lat, distance_m, late "
        "FROM whistle_summons WHERE whistle_id = ANY(:ids) ORDER BY whistle_id, role DESC, department_code"),
        {"ids": ids}).mappings().all()]


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


def close_finished(session: Session, case_id: int, at: datetime) -> list[dict[str, Any]]:
    """Close the open whistles of this case whose cases are all resolved (事不完、人不撤); gives their
    ids and rounds."""
    return [dict(r) for r in session.execute(text(
        "UPDATE whistle w SET status = 'closed', closed_at = :at "
        "WHERE w.status = 'open' AND w.id IN (SELECT whistle_id FROM whistle_case WHERE case_id = :case) "
        "AND NOT EXISTS (SELECT 1 FROM whistle_case wc JOIN cases c ON c.id = wc.case_id "
        "                WHERE wc.whistle_id = w.id AND c.status <> ALL(:finished)) RETURNING w.id, w.round"),
        {"case": case_id, "finished": list(FINISHED), "at": at}).mappings().all()]


def reopen_unfinished(session: Session, case_id: int) -> list[dict[str, Any]]:
    """Open the closed whistles of this case again (it went back to work), each as a new round; gives
    their ids and new rounds."""
    return [dict(r) for r in session.execute(text(
        "UPDATE whistle w SET status = 'open', closed_at = NULL, round = round + 1 "
        "WHERE w.status = 'closed' AND w.id IN (SELECT whistle_id FROM whistle_case WHERE case_id = :case) "
        "RETURNING w.id, w.round"), {"case": case_id}).mappings().all()]


def insert_score(session: Session, *, whistle_id: int, round_: int, department: str, scores: dict[str, int],
                 note: str, user_id: int, at: datetime) -> dict[str, Any] | None:
    """Record one department's score for a round once; None when it was scored in that round already."""
    row = session.execute(text(
        "INSERT INTO whistle_score (whistle_id, round, department_code, arrival, cooperation, result, note, "
        "scored_by, scored_at) VALUES (:w, :round, :dept, :arrival, :cooperation, :result, :note, :uid, :at) "
        "ON CONFLICT DO NOTHING "
        "RETURNING whistle_id, round, department_code, arrival, cooperation, result, note, scored_at"),
        {"w": whistle_id, "round": round_, "dept": department, "note": note, "uid": user_id, "at": at, **scores}
    ).mappings().first()
    return dict(row) if row else None


def scores_of(session: Session, whistle_ids: int | list[int]) -> list[dict[str, Any]]:
    ids = [whistle_ids] if isinstance(whistle_ids, int) else whistle_ids
    return [dict(r) for r in session.execute(text(
        "SELECT whistle_id, round, department_code, arrival, cooperation, result, note, scored_at "
        "FROM whistle_score WHERE whistle_id = ANY(:ids) ORDER BY whistle_id, round, department_code"),
        {"ids": ids}).mappings().all()]


def whistle_history(session: Session, whistle_ids: list[int]) -> dict[int, list[tuple[datetime, str]]]:
    """Each whistle's closes and reopens as (time, action) in time order, from case_event (written on
    every case of the whistle, taken once)."""
    history: dict[int, list[tuple[datetime, str]]] = {}
    rows = session.execute(text(
        "SELECT DISTINCT (e.details->>'whistle_id')::int AS whistle_id, e.at, e.action FROM case_event e "
        f"WHERE e.action IN ('{CLOSE}', '{REOPEN}') AND (e.details->>'whistle_id')::int = ANY(:ids) "
        "ORDER BY 1, 2"), {"ids": whistle_ids}).all() if whistle_ids else []
    for whistle_id, at, action in rows:
        history.setdefault(whistle_id, []).append((at, action))
    return history


#: A time in an event's details inside [:start, :end) (None: unbounded).
_IN_PERIOD = ("(e.details->>'{key}')::timestamptz >= coalesce(CAST(:start AS timestamptz), '-infinity') "
              "AND (e.details->>'{key}')::timestamptz < coalesce(CAST(:end AS timestamptz), 'infinity')")


def summons_events(session: Session, key: str | None, *, start: datetime | None,
                 end: datetime | None, request_type: str | None = None) -> pd.DataFrame:
    """Summons (召集) due in [start, end), from case_event: code (``key``, a case_fact code column: a
    summons counts once for each boundary its whistle's cases lie in; None: the summoned department),
    whistle_id, department, due_at and checked_in_at (the department's first check-in; NaT: none).
    With ``request_type``, only the summons of the whistles' cases of that type count."""
    code = "e.details->>'department'" if key is None else (
        f"(SELECT f.{key} FROM case_fact f WHERE f.case_id = e.case_id)")  # by primary key: summons are few
    rows = session.execute(text(f"""
        WITH s AS (
            SELECT DISTINCT {code} AS code, (e.details->>'whistle_id')::int AS whistle_id,
                   e.details->>'department' AS department, (e.details->>'due_at')::timestamptz AS due_at
            FROM case_event e
            WHERE e.action = 'summons' AND {_IN_PERIOD.format(key="due_at")}
              AND (CAST(:kind AS text) IS NULL OR EXISTS (
                  SELECT 1 FROM case_fact f WHERE f.case_id = e.case_id AND f.request_type = :kind))),
        c AS (
            SELECT (e.details->>'whistle_id')::int AS whistle_id, e.details->>'department' AS department,
                   min(e.at) AS checked_in_at
            FROM case_event e
            WHERE e.action = 'check_in' AND (e.details->>'whistle_id')::int IN (SELECT whistle_id FROM s)
            GROUP BY 1, 2)
        SELECT s.code, s.whistle_id, s.department, s.due_at, c.checked_in_at
        FROM s LEFT JOIN c USING (whistle_id, department) WHERE s.code IS NOT NULL"""),
        {"start": start, "end": end, "kind": request_type}).all()
    frame = pd.DataFrame(rows, columns=["code", "whistle_id", "department", "due_at", "checked_in_at"])
    for column in ("due_at", "checked_in_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def score_events(session: Session, *, start: datetime | None, end: datetime | None) -> pd.DataFrame:
    """The whistlers' scores of summoned departments (街道考核部门) for whistle rounds closed in
    [start, end), from case_event (written on every case of the whistle, taken once): code (the
    department), whistle_id, round and one column per aspect."""
    aspects = ", ".join(f"(e.details->>'{a}')::int AS {a}" for a in SCORE_ASPECTS)
    rows = session.execute(text(
        f"SELECT DISTINCT e.details->>'department' AS code, (e.details->>'whistle_id')::int AS whistle_id, "
        f"(e.details->>'round')::int AS round, {aspects} FROM case_event e "
        f"WHERE e.action = 'whistle_score' AND {_IN_PERIOD.format(key='closed_at')}"),
        {"start": start, "end": end}).all()
    return pd.DataFrame(rows, columns=["code", "whistle_id", "round", *SCORE_ASPECTS])
