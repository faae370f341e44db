"""A PostgreSQL restart under load costs failed requests only while the database is down: the
pooled connections are pre-pinged, a request that finds the database gone answers 503 with the
Chinese JSON error, and the same server processes answer every request again within seconds.

The test restarts a throwaway cluster of its own (never the shared test cluster), so it cannot
disturb other tests.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from geo.services.accounts import create_token, create_user
from geo.services.schema import upgrade_schema
from webmap import create_app
from webmap.db import get_session

GRIDMAP = Path(sys.executable).with_name("gridmap")
CLIENTS = 4
RECOVERY_S = 5.0  # every request started this long after the restart returned must succeed
AFTER_S = 3.0  # how long the load goes on after that


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        pytest.fail("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    return found[-1].parent


@dataclass
class Cluster:
    bin: Path
    data: Path
    port: int

    def pg_ctl(self, *args: str) -> None:
        cmd = [str(self.bin / "pg_ctl"), "-D", str(self.data), *args]
        if os.geteuid() == 0:  # initdb and the server refuse root
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60)

    def url(self, db: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    """A throwaway cluster in a temp dir, stopped and deleted afterwards."""
    tmp = Path(tempfile.mkdtemp(prefix="gridmap-restart-"))
    os.chmod(tmp, 0o755)
    data = tmp / "pg"
    data.mkdir(mode=0o700)
    bin_dir = _pg_bin()
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
              "--locale=C.UTF-8"]
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(data, pw.pw_uid, pw.pw_gid)
        initdb = ["runuser", "-u", "postgres", "--", *initdb]
    subprocess.run(initdb, check=True, capture_output=True, timeout=120)
    pg = Cluster(bin_dir, data, _free_port())
    options = (f"-p {pg.port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
               "-c full_page_writes=off")
    pg.pg_ctl("-l", str(data / "server.log"), "-w", "-t", "60", "-o", options, "start")
    try:
        yield pg
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            pg.pg_ctl("-m", "immediate", "-w", "stop")
        shutil.rmtree(tmp, ignore_errors=True)


def _prepare(pg: Cluster) -> str:
    """A migrated database with a planner and a bearer token; returns the token."""
    admin = create_engine(pg.url("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql("CREATE DATABASE gridmap")
    admin.dispose()
    engine = create_engine(pg.url("gridmap"))
    with engine.begin() as conn:
        upgrade_schema(conn)
    with Session(engine) as session, session.begin():
        create_user(session, "planner1", role="planner", password="planner-password")
        token = create_token(session, "planner1")[1]
    engine.dispose()
    return token


@dataclass
class Answer:
    started: float
    finished: float
    status: int  # 0: no HTTP answer at all
    body: bytes


def _get(url: str, token: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def test_requests_fail_only_while_postgres_restarts(cluster: Cluster, tmp_path: Path):
    token = _prepare(cluster)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")} | {
        "DATABASE_URL": cluster.url("gridmap"), "GRIDMAP_DB_POOL_SIZE": "2"}
    log = (tmp_path / "serve.log").open("w+")  # a file, not a pipe: nobody drains a pipe while the load runs
    server = subprocess.Popen([str(GRIDMAP), "serve", "--port", str(port), "--workers", "2", "--threads", "2",
                               "--no-warm", "--no-jobs"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/api/categories"
    answers: list[Answer] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            started = time.monotonic()
            status, body = _get(url, token)
            answers.append(Answer(started, time.monotonic(), status, body))

    try:
        deadline = time.monotonic() + 30
        while _get(url, token)[0] != 200:
            assert time.monotonic() < deadline and server.poll() is None, "gridmap serve did not start"
            time.sleep(0.1)
        workers = _children(server.pid)
        threads = [threading.Thread(target=load, daemon=True) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        down = time.monotonic()
        cluster.pg_ctl("-m", "fast", "-w", "-t", "60", "-l", str(cluster.data / "server.log"), "restart")
        up = time.monotonic()
        time.sleep(RECOVERY_S + AFTER_S)
        stop.set()
        for t in threads:
            t.join(timeout=15)
        alive = server.poll() is None
        workers_after = _children(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.seek(0)
        output = log.read()
        log.close()

    before = [a for a in answers if a.finished < down]
    during = [a for a in answers if a.finished >= down and a.started < up + RECOVERY_S]
    after = [a for a in answers if a.started >= up + RECOVERY_S]
    failed = [a for a in during if a.status != 200]
    last_failure = max((a.finished for a in failed), default=down)
    print(f"\npg_ctl restart -m fast took {up - down:.2f} s; {len(before)} requests before it, {len(during)} from "
          f"then until {RECOVERY_S:.0f} s after: {len(failed)} failed ({sorted({a.status for a in failed})}), the "
          f"last {last_failure - down:.2f} s after the restart began ({last_failure - up:+.2f} s from its end); "
          f"after that {sum(a.status == 200 for a in after)} of {len(after)} requests answered 200")
    assert alive, output[-3000:]
    assert workers_after == workers, f"workers changed (crashed and respawned?): {workers} → {workers_after}"
    assert before and all(a.status == 200 for a in before)
    assert after and all(a.status == 200 for a in after), sorted({a.status for a in after})
    errors = [line for line in output.splitlines() if '"level": "ERROR"' in line or "Traceback" in line]
    for a in failed:
        assert a.status == 503, (a.status, a.body[:300], errors[-3:])
        assert "数据库暂时不可用".encode() in a.body


def test_a_connection_dropped_mid_request_does_not_fail_the_teardown(fresh_db):
    """The request's session is closed (ROLLBACK) after the response is made; when the database
    dropped the connection in between (a restart), that ROLLBACK fails. It must not replace the
    response with the WSGI server's 500, and the dead connection must not go back to the pool."""
    app = create_app({"DATABASE_URL": fresh_db, "GRIDMAP_SECRET_KEY": "test", "TESTING": True})
    admin = create_engine(fresh_db, isolation_level="AUTOCOMMIT")
    with app.app_context():
        pid = get_session().execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    # leaving the context ran the teardown without raising; the pool hands out a live connection
    with app.app_context():
        assert get_session().execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    admin.dispose()
    app.extensions["gridmap"]["engine"].dispose()


def test_the_drivers_own_error_from_a_raw_cursor_is_the_json_503(fresh_db):
    """Statistics read their records through psycopg directly (no SQLAlchemy wrapping): a server
    that drops the connection there raised psycopg.OperationalError, which reached users as a 500."""
    app = create_app({"DATABASE_URL": fresh_db, "GRIDMAP_SECRET_KEY": "test", "TESTING": True})
    admin = create_engine(fresh_db, isolation_level="AUTOCOMMIT")

    @app.get("/raw-read")
    def raw_read() -> str:
        session = get_session()
        pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:  # what a restart does to the connection the request holds
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        raw = session.connection().connection.dbapi_connection
        with raw.cursor() as cur:
            cur.execute("SELECT 1")
        return "unreachable"

    with Session(create_engine(fresh_db, poolclass=NullPool)) as session, session.begin():
        create_user(session, "raw_reader", role="planner", password="x" * 12)
        token = create_token(session, "raw_reader")[1]
    response = app.test_client().get("/raw-read", headers={"Accept": "application/json",
                                                           "Authorization": f"Bearer {token}"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"
    assert "数据库暂时不可用" in response.get_json()["error"]["message"]
    admin.dispose()
    app.extensions["gridmap"]["engine"].dispose()
