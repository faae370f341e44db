"""Notifications (dispatch, summons, overdue) written to the outbox for a channel to send.

Nothing is sent here: an SMS, WeCom or e-mail gateway would read the unsent rows. ``drain`` first
adds a row for each case that has just gone overdue (once per case and step), then hands back the
unsent rows and marks them sent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.store import cases as case_store
from geo.store import events as event_store

__all__ = ["drain", "scan_overdue"]


def scan_overdue(session: Session) -> int:
    rows = case_store.newly_overdue(session)
    for row in rows:
        event_store.insert_outbox(session, "overdue", row["lead_department"] or row["street_code"] or "",
                                  {"case": row["case_no"], "step": row["step"]})
    return len(rows)


def drain(session: Session, *, limit: int = 1000) -> list[dict[str, Any]]:
    scan_overdue(session)
    rows = session.execute(text(
        "UPDATE outbox SET sent_at = now() WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL ORDER BY id "
        "LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING id, kind, recipient, payload, created_at"),
        {"limit": limit}).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: r["id"])
