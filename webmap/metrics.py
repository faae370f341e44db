"""``/metrics`` in the Prometheus text format: HTTP traffic counted as it happens, domain figures
read from PostGIS when scraped.

Traffic: ``gridmap_http_requests_total{method,route,status}``,
``gridmap_http_request_duration_seconds{route}`` (histogram, 5 ms … 10 s) and
``gridmap_http_requests_in_flight``. Domain (one scrape, a few aggregate queries):
``gridmap_cases{status}``, ``gridmap_cases_overdue``, ``gridmap_cases_by_source{source}`` (rows
that ``gridmap cases import`` wrote appear under their ``--source``: the import runs in the CLI's
process, so the database is where its count lives), ``gridmap_outbox_unsent``,
``gridmap_outbox_deliveries{channel,state}``, ``gridmap_outbox_dead``, the background jobs'
``gridmap_job_runs_total{job}``, ``gridmap_job_failures_total{job}``,
``gridmap_job_last_run_timestamp_seconds{job}``, ``gridmap_job_last_duration_seconds{job}``,
``gridmap_job_last_success{job}``, ``gridmap_jobs_leader`` and ``gridmap_database_up``.

Several gunicorn workers each count in their own memory. ``gridmap serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` to a fresh directory before the workers fork; prometheus_client then
keeps every worker's values in memory-mapped files there, and a scrape (answered by any worker)
adds them all up. A worker that exits is marked dead so its in-flight gauge stops counting, while
its counters stay in the sums (counters never go down). Without the variable (waitress, tests)
the values live in this process.

Who may read it: a request from this machine (127.0.0.1 or ::1, with no proxy forwarding header),
``Authorization: Bearer <GRIDMAP_METRICS_TOKEN>``, or a signed-in admin. Anyone else gets 401
(not signed in) or 403.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator

from flask import Blueprint, Flask, Response, current_app, request
from flask_login import current_user
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.domain.errors import Unauthorized
from geo.domain.notices import DEAD
from geo.domain.permissions import check_can_read_metrics
from geo.services import monitoring
from webmap.db import get_session
from webmap.jobs import JOBS

__all__ = ["BUCKETS", "LOCAL_ADDRESSES", "bp", "init_app", "request_finished", "request_started"]

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

#: Latency buckets in seconds: a point lookup answers in milliseconds, an export may take seconds.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LOCAL_ADDRESSES = frozenset({"127.0.0.1", "::1"})
#: A proxy on this machine makes every request look local; these headers say one forwarded it.
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
#: Methods are the client's words: anything else is counted as "other" (bounded label values).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

disable_created_metrics()  # the *_created series double the output and say nothing here
REQUESTS = Counter("gridmap_http_requests", "HTTP requests by method, route (the URL rule) and status.",
                   ["method", "route", "status"], registry=None)
LATENCY = Histogram("gridmap_http_request_duration_seconds", "Time from request to the end of the response body.",
                    ["route"], buckets=BUCKETS, registry=None)
IN_FLIGHT = Gauge("gridmap_http_requests_in_flight", "Requests being handled now.", multiprocess_mode="livesum",
                  registry=None)
_TRAFFIC = (REQUESTS, LATENCY, IN_FLIGHT)


def request_started() -> None:
    IN_FLIGHT.inc()


def request_finished(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method if method in METHODS else "other", route, str(status)).inc()
    LATENCY.labels(route).observe(seconds)
    IN_FLIGHT.dec()


class _DomainCollector:
    """The domain figures, read when a scrape asks; a database that is down is reported, not raised."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("gridmap_database_up", "1 when this scrape could read the database, else 0.")
        try:
            counts = monitoring.domain_counts(self.session)
        except DBAPIError as exc:
            log.warning("metrics: database unreadable: %s", str(exc.orig or exc).splitlines()[0])
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        cases = GaugeMetricFamily("gridmap_cases", "Cases by workflow status.", labels=["status"])
        for status, count in sorted(counts.by_status.items()):
            cases.add_metric([status], count)
        yield cases
        yield GaugeMetricFamily("gridmap_cases_overdue", "Open cases whose current step is past its deadline.",
                                value=counts.overdue)
        sources = GaugeMetricFamily("gridmap_cases_by_source",
                                    "Cases by source (imports count under their --source, e.g. 12345).",
                                    labels=["source"])
        for source, count in sorted(counts.by_source.items()):
            sources.add_metric([source], count)
        yield sources
        yield GaugeMetricFamily("gridmap_outbox_unsent", "Notifications no channel has taken yet.",
                                value=counts.outbox_unsent)
        yield from _delivery_metrics(counts)
        yield from _job_metrics(counts)


def _delivery_metrics(counts: monitoring.DomainCounts) -> Iterator[Metric]:
    deliveries = GaugeMetricFamily("gridmap_outbox_deliveries",
                                   "Deliveries by channel and state (pending, sent, dead: the dead letters).",
                                   labels=["channel", "state"])
    for channel, states in sorted(counts.deliveries.items()):
        for state, count in states.items():
            deliveries.add_metric([channel, state], count)
    yield deliveries
    yield GaugeMetricFamily("gridmap_outbox_dead", "Deliveries given up after the last allowed attempt.",
                            value=sum(states.get(DEAD, 0) for states in counts.deliveries.values()))


def _job_metrics(counts: monitoring.DomainCounts) -> Iterator[Metric]:
    """Every job of the catalogue, zeros for one that never ran (a series that appears late breaks alerts)."""
    yield GaugeMetricFamily("gridmap_jobs_leader", "1 when a scheduler (gridmap worker) holds the leader's lock.",
                            value=int(counts.scheduler_leader))
    runs = CounterMetricFamily("gridmap_job_runs", "Runs of each background job.", labels=["job"])
    failures = CounterMetricFamily("gridmap_job_failures", "Failed runs of each background job.", labels=["job"])
    last = GaugeMetricFamily("gridmap_job_last_run_timestamp_seconds", "When the job's last run started (Unix time).",
                             labels=["job"])
    duration = GaugeMetricFamily("gridmap_job_last_duration_seconds", "How long the job's last run took.",
                                 labels=["job"])
    ok = GaugeMetricFamily("gridmap_job_last_success", "1 when the job's last run succeeded, else 0.", labels=["job"])
    for name in JOBS:
        row = counts.jobs.get(name) or {}
        runs.add_metric([name], row.get("runs") or 0)
        failures.add_metric([name], row.get("failures") or 0)
        last.add_metric([name], row["last_started_at"].timestamp() if row.get("last_started_at") else 0)
        duration.add_metric([name], row.get("last_seconds") or 0)
        ok.add_metric([name], 1 if row.get("last_ok") else 0)
    yield from (runs, failures, last, duration, ok)


def _registry() -> CollectorRegistry:
    """What this scrape reports: every worker's traffic (or this process's) and the domain figures."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        for metric in _TRAFFIC:
            registry.register(metric)
    registry.register(_DomainCollector(get_session()))
    return registry


def _is_local() -> bool:
    return request.remote_addr in LOCAL_ADDRESSES and not any(h in request.headers for h in FORWARDING_HEADERS)


def _has_metrics_token() -> bool:
    expected = current_app.config.get("GRIDMAP_METRICS_TOKEN") or ""
    header = request.headers.get("Authorization", "")
    if not expected or not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), str(expected).encode())


def _check_access() -> None:
    if _has_metrics_token() or _is_local():
        return
    if not current_user.is_authenticated:
        raise Unauthorized("/metrics 只对本机、管理员或带 Authorization: Bearer <GRIDMAP_METRICS_TOKEN> 的请求开放。",
                           field="authorization")
    check_can_read_metrics(current_user.user)


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus text exposition (version 0.0.4)."""
    _check_access()
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
