"""Monthly topics (每月一题) and their append-only events; the per-case records their figures sum."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.topics import TopicDraft
from geo.store.stats import record_arrays, records

__all__ = ["all_topics", "case_records", "category_known", "close", "events_of", "get", "insert", "insert_event",
           "update"]

_COLUMNS = ("t.id, t.title, t.category_code, t.targets, t.month, t.lead_department, t.co_departments, t.goal, "
            "t.tasks, t.status, t.created_at, t.updated_at, t.closed_at, u.username AS created_by, "
            "coalesce(d.name, t.lead_department) AS lead_department_name, "
            "coalesce(c.name, m.major_name, t.category_code) AS category_name")
_FROM = ("FROM topic t JOIN app_user u ON u.id = t.created_by "
         "LEFT JOIN department d ON d.code = t.lead_department "
         "LEFT JOIN category c ON c.code = t.category_code "
         "LEFT JOIN LATERAL (SELECT major_name FROM category WHERE major_code = t.category_code LIMIT 1) m ON true")


def insert(session: Session, draft: TopicDraft, *, created_by: int, now: datetime) -> int:
    return int(session.execute(text(
        "INSERT INTO topic (title, category_code, targets, month, lead_department, co_departments, goal, tasks, "
        "created_by, created_at, updated_at) VALUES (:title, :category, :targets, :month, :lead, :co, :goal, :tasks, "
        ":by, :now, :now) RETURNING id"),
        {"title": draft.title, "category": draft.category, "targets": list(draft.targets), "month": draft.month,
         "lead": draft.lead_department, "co": list(draft.co_departments), "goal": draft.goal, "tasks": draft.tasks,
         "by": created_by, "now": now}).scalar_one())


def insert_event(session: Session, topic_id: int, *, user_id: int, name: str, role: str, action: str,
                 details: dict[str, Any], at: datetime) -> None:
    session.execute(text(
        "INSERT INTO topic_event (topic_id, at, actor_user_id, actor_name, actor_role, action, details) "
        "VALUES (:topic, :at, :user, :name, :role, :action, CAST(:details AS jsonb))"),
        {"topic": topic_id, "at": at, "user": user_id, "name": name, "role": role, "action": action,
         "details": _json(details)})


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def get(session: Session, topic_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    """One topic, with the name of its creator, lead department and category; ``lock`` holds its row
    until the transaction ends (two planners changing it at once take turns)."""
    if lock:
        session.execute(text("SELECT 1 FROM topic WHERE id = :id FOR UPDATE"), {"id": topic_id})
    row = session.execute(text(f"SELECT {_COLUMNS} {_FROM} WHERE t.id = :id"), {"id": topic_id}).mappings().first()
    return dict(row) if row else None


def all_topics(session: Session, *, month: str | None = None) -> list[dict[str, Any]]:
    """Every topic (of ``month`` when given), the newest month first."""
    rows = session.execute(text(
        f"SELECT {_COLUMNS} {_FROM} WHERE (CAST(:month AS text) IS NULL OR t.month = :month) "
        "ORDER BY t.month DESC, t.id DESC"), {"month": month}).mappings().all()
    return [dict(r) for r in rows]


def update(session: Session, topic_id: int, changes: dict[str, str], *, now: datetime) -> None:
    """Set the given editable text fields (goal, tasks)."""
    assignments = ", ".join(f"{name} = :{name}" for name in changes)
    session.execute(text(f"UPDATE topic SET {assignments}, updated_at = :now WHERE id = :id"),
                    {**changes, "now": now, "id": topic_id})


def close(session: Session, topic_id: int, *, status: str, now: datetime) -> None:
    session.execute(text("UPDATE topic SET status = :status, closed_at = :now, updated_at = :now WHERE id = :id"),
                    {"status": status, "now": now, "id": topic_id})


def events_of(session: Session, topic_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        "SELECT id, at, actor_name, actor_role, action, details FROM topic_event WHERE topic_id = :id ORDER BY id"),
        {"id": topic_id}).mappings().all()]


def category_known(session: Session, code: str) -> bool:
    """Whether ``code`` is a category (4 digits) or the major class of one (2 digits)."""
    return bool(session.execute(text("SELECT EXISTS (SELECT 1 FROM category WHERE code = :code OR major_code = :code)"),
                                {"code": code}).scalar_one())


def case_records(session: Session, *, start: datetime, end: datetime) -> tuple[dict[str, np.ndarray], list[str]]:
    """The per-case arrays geo.domain.stats.sums_from_records reads (from case_fact's records) for the
    cases reported, or due, in [start, end), with ``grid`` (each case's index into the returned
    list of distinct grid codes: a few thousand strings rather than one per case)."""
    rows = records(session, start=start, end=end)
    arrays = record_arrays(rows)
    numbers, index = np.unique(rows["grid"].astype("int64"), return_inverse=True)
    arrays["grid"] = index.astype("int64").reshape(-1)
    return arrays, [str(n)[1:] if n else "" for n in numbers]  # the record holds '1' + code as a number
