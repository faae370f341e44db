"""The outbox and its deliveries: route new notices to channels, claim one due delivery (row-locked
for the caller's transaction, so two schedulers never send the same one), record the outcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.notices import DEAD, PENDING, SENT

__all__ = [
    "add_deliveries",
    "claim_due",
    "dead_deliveries",
    "deliveries_by_state",
    "drain",
    "mark_failed",
    "mark_sent",
    "requeue_dead",
    "unrouted",
]

_NOTICE = "o.id, o.kind, o.recipient, o.payload, o.created_at"


def unrouted(session: Session, limit: int) -> list[dict[str, Any]]:
    """Notices no channel has been chosen for yet, locked against a second router."""
    return [dict(r) for r in session.execute(text(
        f"SELECT {_NOTICE} FROM outbox o WHERE o.sent_at IS NULL AND o.routed_at IS NULL ORDER BY o.id "
        "LIMIT :limit FOR UPDATE SKIP LOCKED"), {"limit": limit}).mappings()]


def add_deliveries(session: Session, routes: list[tuple[int, str]], routed: list[int]) -> None:
    """One pending delivery per (notice, channel); the notices are marked routed (matched or not)."""
    if routes:
        session.execute(text(
            "INSERT INTO outbox_delivery (outbox_id, channel) SELECT * FROM unnest(CAST(:ids AS bigint[]), "
            "CAST(:channels AS text[])) ON CONFLICT DO NOTHING"),
            {"ids": [r[0] for r in routes], "channels": [r[1] for r in routes]})
    if routed:
        session.execute(text("UPDATE outbox SET routed_at = now() WHERE id = ANY(:ids)"), {"ids": routed})


def claim_due(session: Session, channels: list[str], now: datetime) -> dict[str, Any] | None:
    """The oldest due pending delivery on one of ``channels``, locked until the caller's transaction
    ends (a crash mid-send unlocks it unchanged: it is tried again, at least once in all)."""
    row = session.execute(text(
        f"SELECT d.channel, d.attempts, {_NOTICE} FROM outbox_delivery d JOIN outbox o ON o.id = d.outbox_id "
        "WHERE d.state = :pending AND d.next_attempt_at <= :now AND d.channel = ANY(:channels) "
        "ORDER BY d.next_attempt_at, d.outbox_id LIMIT 1 FOR UPDATE OF d SKIP LOCKED"),
        {"pending": PENDING, "now": now, "channels": channels}).mappings().first()
    return dict(row) if row else None


def mark_sent(session: Session, outbox_id: int, channel: str) -> None:
    """The delivery is sent; the notice is sent when none of its deliveries is left pending or dead."""
    session.execute(text(
        "UPDATE outbox_delivery SET state = :sent, sent_at = now(), attempts = attempts + 1, last_error = NULL "
        "WHERE outbox_id = :id AND channel = :channel"), {"sent": SENT, "id": outbox_id, "channel": channel})
    session.execute(text(
        "UPDATE outbox SET sent_at = now() WHERE id = :id AND sent_at IS NULL AND NOT EXISTS "
        "(SELECT 1 FROM outbox_delivery WHERE outbox_id = :id AND state <> :sent)"), {"id": outbox_id, "sent": SENT})


def mark_failed(session: Session, outbox_id: int, channel: str, error: str, next_attempt_at: datetime,
                dead: bool) -> None:
    session.execute(text(
        "UPDATE outbox_delivery SET attempts = attempts + 1, last_error = :error, next_attempt_at = :next, "
        "state = :state WHERE outbox_id = :id AND channel = :channel"),
        {"error": error[:2000], "next": next_attempt_at, "state": DEAD if dead else PENDING, "id": outbox_id,
         "channel": channel})


def deliveries_by_state(session: Session) -> list[tuple[str, str, int]]:
    """(channel, state, deliveries) for every pair that has a delivery."""
    rows = session.execute(text("SELECT channel, state, count(*) FROM outbox_delivery GROUP BY channel, state "
                                "ORDER BY channel, state"))
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def dead_deliveries(session: Session, limit: int) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        f"SELECT d.channel, d.attempts, d.last_error, d.next_attempt_at AS failed_at, {_NOTICE} "
        "FROM outbox_delivery d JOIN outbox o ON o.id = d.outbox_id WHERE d.state = :dead "
        "ORDER BY d.outbox_id, d.channel LIMIT :limit"), {"dead": DEAD, "limit": limit}).mappings()]


def requeue_dead(session: Session, ids: list[int] | None, channel: str | None) -> int:
    """Dead deliveries (of ``ids``, or all; of ``channel``, or every channel) back to pending, due now."""
    result = session.execute(text(
        "UPDATE outbox_delivery SET state = :pending, attempts = 0, next_attempt_at = now() WHERE state = :dead "
        "AND (CAST(:ids AS bigint[]) IS NULL OR outbox_id = ANY(CAST(:ids AS bigint[]))) "
        "AND (CAST(:channel AS text) IS NULL OR channel = :channel)"),
        {"pending": PENDING, "dead": DEAD, "ids": ids, "channel": channel})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def drain(session: Session, limit: int) -> list[dict[str, Any]]:
    """Mark up to ``limit`` unsent notices sent and hand them back (the print channel)."""
    rows = session.execute(text(
        "UPDATE outbox SET sent_at = now() WHERE id IN (SELECT id FROM outbox WHERE sent_at IS NULL ORDER BY id "
        "LIMIT :limit FOR UPDATE SKIP LOCKED) RETURNING id, kind, recipient, payload, created_at"),
        {"limit": limit}).mappings().all()
    return sorted((dict(r) for r in rows), key=lambda r: r["id"])
