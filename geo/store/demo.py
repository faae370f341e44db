"""Writing a simulated handling history for demo cases (events, then the cases' status)."""

from __future__ import annotations

import json

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.statuses import INITIAL_STATUS

__all__ = ["untouched_cases", "write_history"]


def untouched_cases(session: Session) -> pd.DataFrame:
    """Cases nobody has acted on yet (only their receive event), with what the history needs."""
    rows = session.execute(text(
        "SELECT c.id, c.reported_at, c.street_code, c.lead_department, "
        "coalesce(c.resolve_limit_hours, cat.resolve_limit_hours) AS resolve_limit_hours "
        "FROM cases c JOIN category cat ON cat.code = c.category_code "
        "WHERE c.status = :initial AND c.revision = 0 ORDER BY c.id"), {"initial": INITIAL_STATUS}).mappings().all()
    return pd.DataFrame(rows, columns=["id", "reported_at", "street_code", "lead_department", "resolve_limit_hours"])


def write_history(session: Session, events: pd.DataFrame) -> int:
    """Append the events and move each case to its last status, with the deadlines dispatch set."""
    if events.empty:
        return 0
    session.execute(text(
        "INSERT INTO case_event (case_id, at, actor_name, actor_role, action, from_status, to_status, details) "
        "VALUES (:case_id, :at, :name, :role, :action, :from_status, :to_status, CAST(:details AS jsonb))"),
        [{"case_id": e["case_id"], "at": pd.Timestamp(e["at"]).to_pydatetime(), "action": e["action"],
          "from_status": e["from_status"], "to_status": e["to_status"], "role": e["actor_role"],
          "name": f"演示·{e['department']}" if e["actor_role"] == "department_staff" and e["department"] else "演示",
          "details": json.dumps(e["details"], ensure_ascii=False)} for e in events.to_dict("records")])
    session.execute(text("""
        UPDATE cases c SET status = last.to_status, revision = last.steps,
               respond_due = last.respond_due, resolve_due = last.resolve_due, callback = last.callback
        FROM (SELECT case_id, count(*) - 1 AS steps,
                     (array_agg(to_status ORDER BY id DESC))[1] AS to_status,
                     (array_agg(details ORDER BY id DESC) FILTER (WHERE action = 'callback'))[1] AS callback,
                     (max(details->>'respond_due') FILTER (WHERE action = 'dispatch'))::timestamptz AS respond_due,
                     (max(details->>'resolve_due') FILTER (WHERE action = 'dispatch'))::timestamptz AS resolve_due
              FROM case_event WHERE case_id = ANY(:ids) GROUP BY case_id) last
        WHERE c.id = last.case_id"""), {"ids": sorted({int(i) for i in events["case_id"]})})
    return len(events)
