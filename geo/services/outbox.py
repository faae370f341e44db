"""Notifications (dispatch, summons, overdue …) in the outbox, and their delivery.

``scan_overdue`` adds a row for each case that has just gone overdue (once per case and step).
Delivery, when channels are configured (``GRIDMAP_OUTBOX_CHANNELS``, geo.domain.notices):
``route`` gives each new notice one pending delivery per matching channel; ``deliver_one`` sends
the oldest due delivery and records the outcome — sent, or failed with the next attempt after an
exponential backoff, or dead after the last allowed attempt. The caller's transaction holds the
delivery's row lock while it is sent: a second scheduler skips it, and a crash leaves it pending
for the next attempt (at least once; receivers drop repeats by the notice's stable id).
``drain`` is the manual channel: it prints every unsent notice and marks it sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from geo.domain.notices import DELIVERY_STATES, Channel, Notice, backoff
from geo.services.channels import DeliveryFailed, SmtpSettings, send
from geo.store import cases as case_store
from geo.store import events as event_store
from geo.store import outbox as store

__all__ = ["DeliverySettings", "Outcome", "dead", "deliver_one", "delivery_counts", "drain", "requeue", "route",
           "scan_overdue"]

#: Notices routed in one transaction.
ROUTE_BATCH = 1000


@dataclass(frozen=True)
class DeliverySettings:
    channels: tuple[Channel, ...] = ()
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    max_attempts: int = 8
    backoff_seconds: float = 30.0


@dataclass(frozen=True)
class Outcome:
    outbox_id: int
    channel: str
    #: sent | retry | dead
    result: str
    error: str | None = None


def scan_overdue(session: Session) -> int:
    rows = case_store.newly_overdue(session)
    for row in rows:
        event_store.insert_outbox(session, "overdue", row["lead_department"] or row["street_code"] or "",
                                  {"case": row["case_no"], "step": row["step"]})
    return len(rows)


def drain(session: Session, *, limit: int = 1000) -> list[dict[str, Any]]:
    scan_overdue(session)
    return store.drain(session, limit)


def route(session: Session, channels: tuple[Channel, ...]) -> int:
    """Give up to ROUTE_BATCH new notices their deliveries; returns the deliveries added. A notice
    no channel takes is marked routed and stays unsent (``outbox drain`` can still print it)."""
    if not channels:
        return 0
    notices = store.unrouted(session, ROUTE_BATCH)
    routes = [(n["id"], c.name) for n in notices for c in channels if c.accepts(n["recipient"])]
    store.add_deliveries(session, routes, [n["id"] for n in notices])
    return len(routes)


def deliver_one(session: Session, settings: DeliverySettings, *, now: datetime | None = None) -> Outcome | None:
    """Send the oldest due delivery, if any, and record what happened (in the caller's transaction,
    which should commit right after)."""
    by_name = {c.name: c for c in settings.channels}
    now = now or datetime.now(UTC)
    row = store.claim_due(session, list(by_name), now)
    if row is None:
        return None
    notice = Notice(row["id"], row["kind"], row["recipient"], row["payload"], row["created_at"])
    channel = by_name[row["channel"]]
    try:
        send(channel, notice, settings.smtp)
    except DeliveryFailed as exc:
        attempts = row["attempts"] + 1
        is_dead = attempts >= settings.max_attempts
        store.mark_failed(session, notice.id, channel.name, str(exc), now + backoff(attempts, settings.backoff_seconds),
                          dead=is_dead)
        return Outcome(notice.id, channel.name, "dead" if is_dead else "retry", str(exc))
    store.mark_sent(session, notice.id, channel.name)
    return Outcome(notice.id, channel.name, "sent")


def delivery_counts(session: Session) -> dict[str, dict[str, int]]:
    """{channel: {pending, sent, dead}} (zeros included) for every channel that has a delivery."""
    counts: dict[str, dict[str, int]] = {}
    for channel, state, count in store.deliveries_by_state(session):
        counts.setdefault(channel, dict.fromkeys(DELIVERY_STATES, 0))[state] = count
    return counts


def dead(session: Session, *, limit: int = 100) -> list[dict[str, Any]]:
    """The dead letters: deliveries that failed their last allowed attempt, with the last error."""
    return store.dead_deliveries(session, limit)


def requeue(session: Session, ids: list[int] | None = None, channel: str | None = None) -> int:
    """Dead deliveries back to pending, due now, with a fresh count of attempts."""
    return store.requeue_dead(session, ids, channel)

