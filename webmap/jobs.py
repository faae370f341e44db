"""Background jobs: the periodic work that must happen on time without a cron line.

- ``stats_fold``: fold new case events into the statistics (``gridmap stats refresh``), every
  ``GRIDMAP_JOB_STATS_SECONDS`` (30 s: a request never meets a backlog it did not cause);
- ``overdue_scan``: an outbox notice for each case that has just gone overdue, every
  ``GRIDMAP_JOB_OVERDUE_SECONDS``;
- ``outbox_deliver``: route new notices to their channels and send what is due, every
  ``GRIDMAP_JOB_OUTBOX_SECONDS``;
- ``lockout_cleanup``: forgive the failed logins of accounts whose lock ended a day ago, every
  ``GRIDMAP_JOB_CLEANUP_SECONDS`` (sessions are signed cookies: nothing of them is stored to clean);
- ``backup``: ``gridmap backup`` into ``GRIDMAP_BACKUP_DIR`` every ``GRIDMAP_BACKUP_HOURS``, keeping
  the newest ``GRIDMAP_BACKUP_KEEP`` files (off without the folder).

Why APScheduler (3.x), with its SQLAlchemy job store in our PostgreSQL and the leader guarded by a
PostgreSQL advisory lock: it is the long-kept, widely used in-process scheduler (intervals,
coalescing of missed runs, one instance of a job at a time, a thread pool), and its job store keeps
each job's next run in the database, so a restart or a new leader neither repeats a daily backup
nor forgets one that fell due while nobody led. APScheduler 3 does not share a job store between
schedulers, so only the holder of the advisory lock runs one: every ``gridmap worker`` (``gridmap
serve`` starts one beside the web server) tries for the lock, one leads, the others wait and take
over within ``LEADER_RETRY_SECONDS`` when the leader's connection ends (a crash or a stop lets go
of the lock). procrastinate would also keep its queue in PostgreSQL, but it is a task queue
(async workers, its own schema) where this needs four periodic jobs; a hand-written loop would
redo what APScheduler already gets right (misfires, overlap, shutdown).

Each run also takes the job's own advisory lock, so ``gridmap jobs run NAME`` never overlaps the
scheduler's run of the same job, and records its start, duration, outcome and error in ``job_run``
(``/metrics``: ``gridmap_job_*``). Jobs run in the worker process, never in a web worker: a slow
job leaves requests and ``/readyz`` alone.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from geo.services import accounts
from geo.services import case_counts as count_service
from geo.services import jobs as job_service
from geo.services import outbox as outbox_service
from geo.services import stats as stats_service
from geo.services.backups import backup_database

__all__ = ["JOBS", "Job", "JobBusy", "Runner", "UnknownJob"]

log = logging.getLogger(__name__)

#: A waiting worker asks for the leader's lock this often; the leader checks its lock connection as often.
LEADER_RETRY_SECONDS = 5.0
#: The delivery job stops after this long and leaves the rest for its next run (a run never piles up).
DELIVERY_BUDGET_SECONDS = 60.0
BACKUP_PREFIX = "gridmap-"
BACKUP_SUFFIX = ".dump"


class JobBusy(Exception):
    """The job is running elsewhere (the scheduler, or another ``gridmap jobs run``)."""


class UnknownJob(KeyError):
    pass


@dataclass(frozen=True)
class Job:
    name: str
    description: str
    #: the setting with its interval (seconds, or hours for the backup); 0 turns the job off
    setting: str
    run: Callable[[Runner], int]
    unit_seconds: float = 1.0


def _stats_fold(runner: Runner) -> int:
    with Session(runner.engine) as session, session.begin():
        return stats_service.refresh_facts(session)


def _overdue_scan(runner: Runner) -> int:
    """Overdue notices for cases whose clock just ran out; and the map's counters of deadline days
    gone by folded into one row per key (geo.store.case_counts: keeps their sum quick)."""
    with Session(runner.engine) as session, session.begin():
        count_service.fold_past(session)
        return outbox_service.scan_overdue(session)


def _outbox_deliver(runner: Runner) -> int:
    """Route new notices, then send due deliveries one transaction each, until none is due or the
    budget is spent. Returns the deliveries sent; failures are recorded on the deliveries."""
    settings = runner.delivery
    if not settings.channels:
        return 0
    with Session(runner.engine) as session, session.begin():
        outbox_service.route(session, settings.channels)
    sent, started = 0, time.monotonic()
    while time.monotonic() - started < DELIVERY_BUDGET_SECONDS:
        with Session(runner.engine) as session, session.begin():
            outcome = outbox_service.deliver_one(session, settings)
        if outcome is None:
            break
        if outcome.result == "sent":
            sent += 1
        else:
            log.warning("outbox: notice %s on %s failed (%s): %s", outcome.outbox_id, outcome.channel,
                        outcome.result, outcome.error)
    return sent


def _lockout_cleanup(runner: Runner) -> int:
    with Session(runner.engine) as session, session.begin():
        return accounts.forgive_old_failures(session)


def _backup(runner: Runner) -> int:
    """A backup file named by its UTC time; the oldest beyond GRIDMAP_BACKUP_KEEP are removed."""
    folder = Path(str(runner.config["GRIDMAP_BACKUP_DIR"]))
    name = f"{BACKUP_PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%SZ}{BACKUP_SUFFIX}"
    with runner.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        report = backup_database(conn, runner.engine.url.render_as_string(hide_password=False), folder / name)
    keep = max(int(runner.config["GRIDMAP_BACKUP_KEEP"]), 1)
    for old in sorted(folder.glob(f"{BACKUP_PREFIX}*{BACKUP_SUFFIX}"))[:-keep]:
        old.unlink()
    return report.size_bytes


JOBS: dict[str, Job] = {job.name: job for job in (
    Job("stats_fold", "把新的案件事件计入统计（同 gridmap stats refresh）", "GRIDMAP_JOB_STATS_SECONDS", _stats_fold),
    Job("overdue_scan", "为刚超期的案件写超期通知；把已过去的期限日的地图计数并为一行", "GRIDMAP_JOB_OVERDUE_SECONDS",
        _overdue_scan),
    Job("outbox_deliver", "把发件箱的通知发到企业微信、钉钉、webhook、邮件通道（失败重试，多次失败转入死信）",
        "GRIDMAP_JOB_OUTBOX_SECONDS", _outbox_deliver),
    Job("lockout_cleanup", "锁定结束满一天的账户清零失败登录次数", "GRIDMAP_JOB_CLEANUP_SECONDS", _lockout_cleanup),
    Job("backup", "备份整个数据库到 GRIDMAP_BACKUP_DIR（同 gridmap backup），只保留最新的 GRIDMAP_BACKUP_KEEP 份",
        "GRIDMAP_BACKUP_HOURS", _backup, unit_seconds=3600.0),
)}

#: The runner whose scheduler leads in this process; APScheduler's stored jobs name ``_scheduled``.
_leading: Runner | None = None


def _scheduled(name: str) -> None:
    """What the job store calls (a module-level function, so it can be pickled by reference)."""
    runner = _leading
    if runner is None:
        return
    try:
        runner.run(name)
    except JobBusy:
        log.info("job %s skipped: still running elsewhere", name)
    except Exception:  # noqa: S110 - recorded in job_run and logged by run(); the scheduler goes on
        pass


class Runner:
    """Runs the jobs of ``config`` against ``engine``: once (``run``) or on schedule while leading
    (``serve_forever``)."""

    def __init__(self, engine: Engine, config: dict[str, Any]) -> None:
        from webmap.config import delivery_settings

        self.engine = engine
        self.config = config
        self.delivery = delivery_settings(config)
        self.host = socket.gethostname()
        self.leading = threading.Event()
        #: how many times this runner became the leader
        self.terms = 0

    def interval(self, name: str) -> float:
        """Seconds between runs of job ``name``; 0 when it is off (the backup without a folder)."""
        job = JOBS[name]
        if name == "backup" and not self.config.get("GRIDMAP_BACKUP_DIR"):
            return 0.0
        return max(float(self.config[job.setting]), 0.0) * job.unit_seconds

    def run(self, name: str) -> int:
        """Run job ``name`` now, unless it is running elsewhere (JobBusy); record the run; return its
        count (events folded, notices written or sent, backup bytes). A failure is recorded and raised."""
        job = JOBS.get(name)
        if job is None:
            raise UnknownJob(name)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            if not job_service.take_job(lock, name):
                raise JobBusy(name)
            try:
                return self._timed(job)
            finally:
                try:
                    job_service.release_job(lock, name)
                except Exception:  # the connection is gone (a database restart): so is its lock
                    lock.invalidate()

    def _timed(self, job: Job) -> int:
        started_at, started = datetime.now(UTC), time.perf_counter()
        try:
            result = job.run(self)
        except Exception as exc:
            seconds = time.perf_counter() - started
            log.exception("job %s failed after %.1f s", job.name, seconds)
            self._record(job.name, started_at, seconds, ok=False, error=f"{type(exc).__name__}: {exc}"[:2000])
            raise
        seconds = time.perf_counter() - started
        log.info("job %s done in %.2f s: %s", job.name, seconds, result,
                 extra={"job": job.name, "seconds": round(seconds, 3), "result": result})
        self._record(job.name, started_at, seconds, ok=True, result=result)
        return result

    def _record(self, name: str, started_at: datetime, seconds: float, *, ok: bool, error: str | None = None,
                result: int | None = None) -> None:
        try:
            with Session(self.engine) as session, session.begin():
                job_service.record_run(session, name, started_at=started_at, seconds=seconds, ok=ok, error=error,
                                       result=result, host=self.host)
        except Exception:
            log.exception("job %s: could not record the run", name)

    def serve_forever(self, stop: threading.Event) -> None:
        """Wait for the leader's lock, lead until ``stop`` is set or the lock's connection is lost,
        then wait again. Never raises for a database that is down: it keeps trying."""
        while not stop.is_set():
            try:
                self._lead_once(stop)
            except Exception:
                log.exception("jobs: scheduler stopped by an error; retrying in %.0f s", LEADER_RETRY_SECONDS)
            stop.wait(LEADER_RETRY_SECONDS)

    def _lead_once(self, stop: threading.Event) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            if not job_service.take_leader(lock):
                return
            try:
                self._lead(lock, stop)
            finally:
                # Closed, not returned to the pool: a pooled connection would keep the session-level
                # lock, and with it the leadership, in whatever borrowed it next.
                lock.invalidate()

    def _lead(self, lock: Connection, stop: threading.Event) -> None:
        global _leading
        log.info("jobs: this process (%s) leads the scheduler", self.host)
        scheduler = self._scheduler()
        _leading = self
        self.terms += 1
        self.leading.set()
        try:
            scheduler.start(paused=True)
            self._install(scheduler)
            scheduler.resume()
            while not stop.wait(LEADER_RETRY_SECONDS):
                lock.exec_driver_sql("SELECT 1")  # raises when the lock's connection is gone
        finally:
            self.leading.clear()
            if scheduler.running:
                scheduler.shutdown(wait=True)
            _leading = None
            log.info("jobs: this process no longer leads the scheduler")

    def _scheduler(self) -> Any:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        # APScheduler logs two INFO lines a run; ours (webmap.jobs) says what each run did.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        return BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=self.engine, tablename="scheduler_job")},
            executors={"default": ThreadPoolExecutor(max_workers=len(JOBS))},
            # coalesce: runs missed while nobody led become one run; no grace limit: late is better than never.
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC)

    def _install(self, scheduler: Any) -> None:
        """Each job on its configured interval; a stored job whose interval is unchanged keeps its
        next run (a restart does not repeat a backup), a new or changed one runs now."""
        for name in JOBS:
            seconds = self.interval(name)
            stored = scheduler.get_job(name)
            if seconds <= 0:
                if stored is not None:
                    scheduler.remove_job(name)
                continue
            if stored is not None and getattr(stored.trigger, "interval", None) is not None \
                    and stored.trigger.interval.total_seconds() == seconds:
                continue
            scheduler.add_job("webmap.jobs:_scheduled", "interval", args=[name], id=name, name=name,
                              seconds=seconds, next_run_time=datetime.now(UTC), replace_existing=True)

    def next_runs(self) -> dict[str, datetime]:
        """When the scheduler will next run each stored job (from the job store)."""
        with Session(self.engine) as session:
            return job_service.next_runs(session)
