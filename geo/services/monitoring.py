"""Operations use cases: is the database ready for requests, and the domain figures a metrics
scrape reports (cases by status and source, overdue open cases, unsent notifications, deliveries
by channel and state, the background jobs' last runs and whether a scheduler leads)."""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.domain.workflow import STATES
from geo.services import jobs, outbox
from geo.store import migrate
from geo.store import monitoring as store

__all__ = ["DomainCounts", "Readiness", "domain_counts", "readiness"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Readiness:
    """Whether this process can serve: database reachable, PostGIS installed, schema at head."""

    database: bool
    postgis: str | None = None
    schema: str | None = None
    schema_head: str | None = None
    #: [{"check": "database" | "postgis" | "schema", "message": "…"}]; empty when ready
    problems: list[dict[str, str]] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"status": "ok" if self.ready else "unavailable", "database": "ok" if self.database else "unreachable",
                "postgis": self.postgis, "schema": self.schema, "schema_head": self.schema_head,
                "schema_at_head": self.database and self.schema == self.schema_head, "problems": self.problems}


@functools.cache
def _head_revision() -> str | None:
    """The newest migration this code knows: fixed for the life of the process (reading the
    migration scripts costs ~25 ms, too much for a probe every few seconds)."""
    return migrate.head_revision()


def readiness(session: Session) -> Readiness:
    """Check the database in the caller's session; a refused connection is a finding, not an error."""
    head = _head_revision()
    try:
        postgis = store.postgis_version(session)
        current = store.schema_revision(session)
    except DBAPIError as exc:
        # The driver's message names host and port: for the log, not for a public response.
        log.warning("readiness: database unreachable: %s", str(exc.orig or exc).splitlines()[0])
        return Readiness(database=False, problems=[{"check": "database", "message": "数据库无法连接。"}])
    problems = []
    if postgis is None:
        problems.append({"check": "postgis", "message": "数据库没有 PostGIS 扩展：运行 gridmap db upgrade。"})
    if current != head:
        problems.append({"check": "schema", "message": f"数据库结构版本 {current} 不是最新的 {head}："
                                                       "运行 gridmap db upgrade。"})
    return Readiness(True, postgis, current, head, problems)


@dataclass(frozen=True)
class DomainCounts:
    by_status: dict[str, int]
    overdue: int
    by_source: dict[str, int]
    outbox_unsent: int
    #: {channel: {pending, sent, dead}}
    deliveries: dict[str, dict[str, int]] = field(default_factory=dict)
    #: {job: job_run's row}
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    scheduler_leader: bool = False


def domain_counts(session: Session) -> DomainCounts:
    """The figures of a metrics scrape, read now (a few aggregate queries)."""
    statuses = store.cases_by_status(session)
    return DomainCounts(
        # Every state, zeros included: a series that comes and goes breaks rate() and alerts.
        by_status={state: 0 for state in STATES} | {status: count for status, count, _ in statuses},
        overdue=sum(overdue for _, _, overdue in statuses),
        by_source=dict(store.cases_by_source(session)),
        outbox_unsent=store.outbox_unsent(session),
        deliveries=outbox.delivery_counts(session),
        jobs=jobs.job_runs(session),
        scheduler_leader=jobs.leader_present(session),
    )
