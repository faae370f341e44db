"""The append-only case_event and the compare-and-set status change it records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.store.cases import SUMMONED_SQL

__all__ = ["case_for_action", "case_no_of", "events_of", "insert_event", "insert_outbox", "transition"]


def case_for_action(session: Session, case_no: str) -> dict[str, Any] | None:
    row = session.execute(text(
        "SELECT id, case_no, status, revision, grid_code, street_code, lead_department, co_departments, urgency, "
        "category_code, resolve_limit_hours, resolve_due, extension_due, callback, requester_phone, "
        f"requester_email, {SUMMONED_SQL} AS summoned FROM cases c WHERE case_no = :no"),
        {"no": case_no}).mappings().first()
    return dict(row) if row else None


def case_no_of(session: Session, source: str, external_id: str) -> str | None:
    """The case number of a ticket (source + external id), if it was imported."""
    return session.execute(text("SELECT case_no FROM cases WHERE source = :s AND external_id = :e"),
                           {"s": source, "e": external_id}).scalar()


def transition(session: Session, case_id: int, *, status: str, revision: int, to_status: str,
               updates: dict[str, Any]) -> bool:
    """Move the case only if nobody moved it since it was read (same status and revision)."""
    json_columns = {column for column, value in updates.items() if isinstance(value, dict)}
    sets = "".join(f", {column} = CAST(:{column} AS jsonb)" if column in json_columns else f", {column} = :{column}"
                   for column in updates)
    values = {k: (json.dumps(v, ensure_ascii=False) if k in json_columns else v) for k, v in updates.items()}
    row = session.execute(text(
        f"UPDATE cases SET status = :to_status, revision = revision + 1{sets} "
        "WHERE id = :id AND status = :status AND revision = :revision RETURNING id"),
        {"id": case_id, "status": status, "revision": revision, "to_status": to_status, **values}).first()
    return row is not None


def insert_event(session: Session, *, case_id: int, actor_user_id: int | None, actor_name: str, actor_role: str,
                 action: str, from_status: str | None, to_status: str | None, note: str = "",
                 lon: float | None = None, lat: float | None = None, details: dict[str, Any] | None = None,
                 at: datetime | None = None) -> dict[str, Any]:
    row = session.execute(text(
        "INSERT INTO case_event (case_id, at, actor_user_id, actor_name, actor_role, action, from_status, "
        "to_status, note, lon, lat, details) VALUES (:case_id, coalesce(:at, now()), :uid, :name, :role, :action, "
        ":from_status, :to_status, :note, :lon, :lat, CAST(:details AS jsonb)) "
        "RETURNING id, at, actor_name, actor_role, action, from_status, to_status, note, lon, lat, details"),
        {"case_id": case_id, "at": at, "uid": actor_user_id, "name": actor_name, "role": actor_role,
         "action": action, "from_status": from_status, "to_status": to_status, "note": note, "lon": lon,
         "lat": lat, "details": json.dumps(details or {}, ensure_ascii=False, default=str)}).mappings().one()
    return dict(row)


def events_of(session: Session, case_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        "SELECT e.id, e.at, e.actor_name, coalesce(nullif(u.display_name, ''), e.actor_name) AS actor_display, "
        "e.actor_role, e.action, e.from_status, e.to_status, e.note, e.lon, e.lat, e.details "
        "FROM case_event e LEFT JOIN app_user u ON u.id = e.actor_user_id "
        "WHERE e.case_id = :id ORDER BY e.id"), {"id": case_id}).mappings().all()]


def insert_outbox(session: Session, kind: str, recipient: str, payload: dict[str, Any]) -> None:
    session.execute(text("INSERT INTO outbox (kind, recipient, payload) VALUES (:k, :r, CAST(:p AS jsonb))"),
                    {"k": kind, "r": recipient, "p": json.dumps(payload, ensure_ascii=False, default=str)})
