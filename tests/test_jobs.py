"""Background jobs without cron: one scheduler leader among many workers (a PostgreSQL advisory
lock), statistics folded within seconds of new events, runs recorded and shown on /metrics,
``gridmap jobs list|run``, and ``gridmap serve`` running the jobs by itself.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

import webmap.jobs as jobs_module
from geo.services import jobs as job_service
from geo.services import stats as stats_service
from geo.services import workflow
from geo.services.accounts import authenticate
from geo.store.jobs import LEADER_LOCK
from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from tests.test_stats import A_POINT, F_POINT, History, t
from webmap import create_app
from webmap.cli import main
from webmap.config import DEFAULTS, load_config
from webmap.jobs import JOBS, Job, JobBusy, Runner

GRIDMAP = Path(sys.executable).with_name("gridmap")


def wait_for(check: Callable[[], bool], seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


@pytest.fixture
def engine_of(fresh_db: str) -> Iterator[Engine]:
    engine = create_engine(fresh_db)
    yield engine
    engine.dispose()


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leaders are elected and checked every 0.2 s instead of every 5 s."""
    monkeypatch.setattr(jobs_module, "LEADER_RETRY_SECONDS", 0.2)


def config(fresh_db: str, **settings: object) -> dict:
    return load_config({"DATABASE_URL": fresh_db, **settings}, environ={})


def seed_cases(engine: Engine, tmp_path: Path) -> None:
    """Two cases, one dispatched: new case events the statistics have not folded yet."""
    with Session(engine) as s, s.begin():
        load_tiny_hierarchy(s, tmp_path)
        load_tiny_reference(s, tmp_path / "reference")
        h = History(s)
        h.case("A", A_POINT, t(3, 2, 9))
        h.case("F", F_POINT, t(3, 4, 9))
        h.act("A", [("dispatch", t(3, 2, 10))])


def backlog(engine: Engine) -> int:
    with Session(engine) as s:
        return stats_service.facts_backlog(s)


def runs(engine: Engine) -> dict[str, dict]:
    with Session(engine) as s:
        return job_service.job_runs(s)


class Worker:
    """A Runner leading or waiting in a thread, as ``gridmap worker`` does in its process."""

    def __init__(self, engine: Engine, settings: dict) -> None:
        self.runner = Runner(engine, settings)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.runner.serve_forever, args=(self.stop,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()


def test_the_statistics_fold_by_themselves_within_seconds_of_new_events(fresh_db, engine_of, tmp_path, fast):
    seed_cases(engine_of, tmp_path)
    assert backlog(engine_of) > 0
    worker = Worker(engine_of, config(fresh_db, GRIDMAP_JOB_STATS_SECONDS=1))
    try:
        assert wait_for(lambda: backlog(engine_of) == 0, 15)
        folded = runs(engine_of)["stats_fold"]
        assert folded["last_ok"] is True and folded["runs"] >= 1 and folded["failures"] == 0
        with Session(engine_of) as s, s.begin():  # a new event later is folded by a later run
            hotline = authenticate(s, "hotline", "pw-123456")
            case_no = s.execute(text("SELECT case_no FROM cases ORDER BY id DESC LIMIT 1")).scalar_one()
            workflow.act(s, hotline, case_no, "supervise", note="请尽快处理")
        assert backlog(engine_of) > 0
        assert wait_for(lambda: backlog(engine_of) == 0, 10)
    finally:
        worker.close()


def test_the_default_fold_interval_keeps_statistics_within_a_minute():
    assert 0 < float(DEFAULTS["GRIDMAP_JOB_STATS_SECONDS"]) <= 60


def test_exactly_one_of_several_workers_leads_and_another_takes_over(fresh_db, engine_of, fast):
    workers = [Worker(engine_of, config(fresh_db)) for _ in range(3)]
    try:
        assert wait_for(lambda: any(w.runner.leading.is_set() for w in workers), 10)
        for _ in range(15):  # sampled for 1.5 s: never two leaders
            assert sum(w.runner.leading.is_set() for w in workers) == 1
            time.sleep(0.1)
        with Session(engine_of) as s:
            assert job_service.leader_present(s)
        leader = next(w for w in workers if w.runner.leading.is_set())
        leader.close()
        others = [w for w in workers if w is not leader]
        assert wait_for(lambda: sum(w.runner.leading.is_set() for w in others) == 1, 10)
    finally:
        for w in workers:
            if w.thread.is_alive():
                w.close()
    with Session(engine_of) as s:
        assert not job_service.leader_present(s)


def test_a_leader_that_loses_its_database_connection_steps_down_and_one_leads_again(fresh_db, engine_of, fast):
    workers = [Worker(engine_of, config(fresh_db)) for _ in range(2)]
    try:
        assert wait_for(lambda: any(w.runner.leading.is_set() for w in workers), 10)
        with engine_of.connect() as c:  # what a database restart does to the lock's connection
            killed = c.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
                                    "AND objid = CAST(:k AS oid) AND granted"), {"k": LEADER_LOCK}).scalar_one()
            c.commit()
        assert killed == 1
        assert wait_for(lambda: sum(w.runner.terms for w in workers) == 2, 10)  # stepped down, a new term began
        assert wait_for(lambda: sum(w.runner.leading.is_set() for w in workers) == 1, 5)
        with Session(engine_of) as s:
            assert wait_for(lambda: job_service.leader_present(s), 5)
    finally:
        for w in workers:
            w.close()


def test_every_job_runs_on_schedule_and_records_its_run(fresh_db, engine_of, tmp_path, fast):
    settings = config(fresh_db, GRIDMAP_JOB_STATS_SECONDS=1, GRIDMAP_JOB_OVERDUE_SECONDS=1,
                      GRIDMAP_JOB_OUTBOX_SECONDS=1, GRIDMAP_BACKUP_DIR=str(tmp_path / "backups"),
                      GRIDMAP_BACKUP_HOURS=1)
    worker = Worker(engine_of, settings)
    try:
        assert wait_for(lambda: set(runs(engine_of)) == set(JOBS), 20)
    finally:
        worker.close()
    recorded = runs(engine_of)
    assert all(r["last_ok"] and r["failures"] == 0 for r in recorded.values())
    dumps = list((tmp_path / "backups").glob("gridmap-*.dump"))
    assert len(dumps) == 1 and dumps[0].stat().st_size == recorded["backup"]["last_result"]
    with Session(engine_of) as s:  # the job store keeps the next runs: an hour away for the backup
        upcoming = job_service.next_runs(s)
    assert set(upcoming) == set(JOBS)
    assert 3500 < (upcoming["backup"] - recorded["backup"]["last_started_at"]).total_seconds() < 3700


def test_a_restarted_leader_keeps_the_stored_next_run_instead_of_repeating_a_backup(fresh_db, engine_of, tmp_path,
                                                                                    fast):
    settings = config(fresh_db, GRIDMAP_JOB_STATS_SECONDS=0, GRIDMAP_JOB_OVERDUE_SECONDS=0,
                      GRIDMAP_JOB_OUTBOX_SECONDS=0, GRIDMAP_BACKUP_DIR=str(tmp_path / "b"), GRIDMAP_BACKUP_HOURS=1)
    for _ in range(2):
        worker = Worker(engine_of, settings)
        try:
            assert wait_for(lambda: "backup" in runs(engine_of), 20)
            time.sleep(0.5)
        finally:
            worker.close()
    assert runs(engine_of)["backup"]["runs"] == 1
    assert len(list((tmp_path / "b").glob("gridmap-*.dump"))) == 1


def test_backups_beyond_the_kept_number_are_removed(fresh_db, engine_of, tmp_path):
    folder = tmp_path / "b"
    folder.mkdir()
    for stamp in ("20200101T000000Z", "20200102T000000Z", "20200103T000000Z"):
        (folder / f"gridmap-{stamp}.dump").write_bytes(b"old")
    runner = Runner(engine_of, config(fresh_db, GRIDMAP_BACKUP_DIR=str(folder), GRIDMAP_BACKUP_KEEP=2))
    assert runner.run("backup") > 0
    kept = sorted(p.name for p in folder.glob("gridmap-*.dump"))
    assert len(kept) == 2 and kept[0] == "gridmap-20200103T000000Z.dump" and not kept[1].startswith("gridmap-2020")


def test_a_failing_job_is_recorded_and_shown_on_metrics(fresh_db, engine_of, monkeypatch):
    def broken(_runner: Runner) -> int:
        raise RuntimeError("磁盘已满")

    monkeypatch.setitem(JOBS, "overdue_scan", Job("overdue_scan", "x", "GRIDMAP_JOB_OVERDUE_SECONDS", broken))
    runner = Runner(engine_of, config(fresh_db))
    with pytest.raises(RuntimeError):
        runner.run("overdue_scan")
    assert runner.run("stats_fold") == 0
    recorded = runs(engine_of)
    assert recorded["overdue_scan"]["failures"] == 1 and recorded["overdue_scan"]["last_ok"] is False
    assert "磁盘已满" in recorded["overdue_scan"]["last_error"]
    app = create_app({"DATABASE_URL": fresh_db, "GRIDMAP_SECRET_KEY": "test"})
    body = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'gridmap_job_failures_total{job="overdue_scan"} 1.0' in body
    assert 'gridmap_job_last_success{job="overdue_scan"} 0.0' in body
    assert 'gridmap_job_runs_total{job="stats_fold"} 1.0' in body
    assert 'gridmap_job_last_success{job="stats_fold"} 1.0' in body
    assert 'gridmap_job_runs_total{job="backup"} 0.0' in body  # never run: a zero, not a missing series
    started = float(re.search(r'gridmap_job_last_run_timestamp_seconds\{job="stats_fold"\} (\S+)', body)[1])
    assert abs(started - time.time()) < 60
    assert "gridmap_jobs_leader 0.0" in body
    app.extensions["gridmap"]["engine"].dispose()


def test_jobs_run_refuses_while_the_same_job_runs_elsewhere(fresh_db, engine_of):
    with engine_of.connect().execution_options(isolation_level="AUTOCOMMIT") as held:
        assert job_service.take_job(held, "stats_fold")
        with pytest.raises(JobBusy):
            Runner(engine_of, config(fresh_db)).run("stats_fold")
        result = CliRunner().invoke(main, ["jobs", "run", "stats_fold"], env={"DATABASE_URL": fresh_db})
        assert result.exit_code == 1 and "正在别处运行" in result.output
        result = CliRunner().invoke(main, ["jobs", "run", "overdue_scan"], env={"DATABASE_URL": fresh_db})
        assert result.exit_code == 0, result.output  # another job is not held up
        job_service.release_job(held, "stats_fold")
    result = CliRunner().invoke(main, ["jobs", "run", "stats_fold"], env={"DATABASE_URL": fresh_db})
    assert result.exit_code == 0 and "完成" in result.output


def test_jobs_list_shows_intervals_last_runs_and_whether_a_scheduler_leads(fresh_db, engine_of):
    Runner(engine_of, config(fresh_db)).run("stats_fold")
    result = CliRunner().invoke(main, ["jobs", "list"], env={"DATABASE_URL": fresh_db,
                                                              "GRIDMAP_JOB_OUTBOX_SECONDS": "7"})
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line and not line.startswith(" ")}
    assert "每 7 秒" in lines["outbox_deliver"] and "从未运行" in lines["outbox_deliver"]
    assert "共 1 次" in lines["stats_fold"] and "成功" in lines["stats_fold"]
    assert "关闭" in lines["backup"]  # no GRIDMAP_BACKUP_DIR
    assert "没有在运行" in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_gridmap_serve_runs_the_jobs_beside_the_server_and_stops_them(fresh_db, engine_of, tmp_path):
    seed_cases(engine_of, tmp_path)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": fresh_db, "GRIDMAP_JOB_STATS_SECONDS": "1", "GRIDMAP_LOG_FORMAT": "text"}
    server = subprocess.Popen([str(GRIDMAP), "serve", "--workers", "2", "--port", str(port), "--no-warm"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_for(lambda: backlog(engine_of) == 0, 60, step=0.5)
        assert wait_for(lambda: runs(engine_of).get("stats_fold", {}).get("runs", 0) >= 2, 20, step=0.5)

        def metrics() -> str:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    return r.read().decode()
            except OSError:
                return ""

        assert wait_for(lambda: "gridmap_jobs_leader 1.0" in metrics(), 30, step=0.5)
        # a scrape under load may time out (metrics() gives ""): the count must show within seconds
        assert wait_for(lambda: re.search(r'gridmap_job_runs_total\{job="stats_fold"\} [1-9]', metrics()), 30,
                        step=0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
            assert r.status == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=90)
    with Session(engine_of) as s:  # the worker went with the server: nobody holds the lock
        assert wait_for(lambda: not job_service.leader_present(s), 10)


def test_lockout_cleanup_forgives_failures_a_day_after_the_lock_ended(fresh_db, engine_of):
    from geo.services.accounts import create_user

    with Session(engine_of) as s, s.begin():
        for name in ("old_lock", "recent_lock", "clean"):
            create_user(s, name, role="planner", password="password-" + name)
        s.execute(text("UPDATE app_user SET failed_logins = 9, locked_until = now() - interval '25 hours' "
                       "WHERE username = 'old_lock'"))
        s.execute(text("UPDATE app_user SET failed_logins = 9, locked_until = now() - interval '1 hour' "
                       "WHERE username = 'recent_lock'"))
    assert Runner(engine_of, config(fresh_db)).run("lockout_cleanup") == 1
    with engine_of.connect() as c:
        rows = dict(c.execute(text("SELECT username, failed_logins FROM app_user")).all())
    assert rows == {"old_lock": 0, "recent_lock": 9, "clean": 0}
