"""The app through a real PgBouncer in transaction mode (issue 15 #4; Debian's pgbouncer 1.18).

In transaction mode consecutive transactions of one client may run on different server
connections: psycopg's automatic prepared statements (after 5 executions of a query) then name
statements that server connection never saw, and PgBouncer 1.18 refuses the ``options`` startup
parameter gridmap uses for its time zone. ``GRIDMAP_DB_TRANSACTION_POOLER=1`` prepares nothing
and sets the time zone in each transaction. Several clients at once over a pool of two server
connections, each repeating its queries well past psycopg's threshold, must all succeed and see
Beijing times.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.orm import Session

from tests.conftest import free_port, load_tiny_hierarchy, load_tiny_reference, make_user
from webmap import create_app

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
EAST = {"lon": 116.3175, "lat": 39.9025}
CLIENTS, ROUNDS = 4, 12

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="pgbouncer refuses root and runs as postgres: root's case")



@pytest.fixture
def bouncer(fresh_db):
    """fresh_db's URL through a PgBouncer in transaction mode with two server connections."""
    url = make_url(fresh_db)
    home = Path(tempfile.mkdtemp(prefix="gridmap-pgbouncer-"))
    port = free_port()
    (home / "userlist.txt").write_text('"postgres" ""\n')
    (home / "pgbouncer.ini").write_text(f"""[databases]
* = host=127.0.0.1 port={url.port}
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home}/userlist.txt
pool_mode = transaction
default_pool_size = 2
max_client_conn = 100
ignore_startup_parameters = extra_float_digits
logfile = {home}/pgbouncer.log
pidfile = {home}/pgbouncer.pid
""")
    shutil.chown(home, "postgres")
    for f in home.iterdir():
        shutil.chown(f, "postgres")
    proc = subprocess.Popen(["runuser", "-u", "postgres", "--", PGBOUNCER, str(home / "pgbouncer.ini")],
                            cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.05)
    try:
        yield url.set(port=port).render_as_string(hide_password=False), home
    finally:
        pidfile = home / "pgbouncer.pid"
        if pidfile.exists():  # runuser does not pass SIGINT on: stop pgbouncer itself
            os.kill(int(pidfile.read_text()), signal.SIGINT)
        proc.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


def test_the_app_works_through_pgbouncer_in_transaction_mode(fresh_db, bouncer, tmp_path):
    pooled_url, home = bouncer
    direct = create_engine(fresh_db)
    with Session(direct) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path)
        load_tiny_reference(session, tmp_path / "reference")
        tokens = [make_user(session, f"leader{i}", "street_leader", "110101002") for i in range(CLIENTS)]
    direct.dispose()
    app = create_app({"DATABASE_URL": pooled_url, "GRIDMAP_DB_TRANSACTION_POOLER": "1",
                      "GRIDMAP_SECRET_KEY": "test", "TESTING": True})
    failures: list[str] = []
    created: list[dict] = []

    def client_day(token: str) -> None:
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        for _ in range(ROUNDS):  # every query repeated past psycopg's prepare threshold (5)
            posted = client.post("/api/cases", json={**EAST, "category": "0101"})
            if posted.status_code != 201:
                failures.append(f"POST {posted.status_code} {posted.get_data(as_text=True)[:200]}")
                continue
            case = client.get(f"/api/cases/{posted.get_json()['id']}")
            listed = client.get("/api/cases/map?zoom=16")
            for r in (case, listed):
                if r.status_code != 200:
                    failures.append(f"{r.request.path} {r.status_code} {r.get_data(as_text=True)[:200]}")
            if case.status_code == 200:
                created.append(case.get_json())

    threads = [threading.Thread(target=client_day, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    app.extensions["gridmap"]["engine"].dispose()

    assert failures == []
    assert len(created) == CLIENTS * ROUNDS
    reported = [c["properties"]["reported_at"] if "properties" in c else c["reported_at"] for c in created]
    assert all(r.endswith("+08:00") for r in reported), reported[:3]
    log = (home / "pgbouncer.log").read_text() if (home / "pgbouncer.log").exists() else ""
    assert "prepared statement" not in log


def test_the_command_and_the_jobs_worker_connect_directly_beside_a_pooler(fresh_db, bouncer):
    """With DATABASE_URL on the pooler, the CLI (and `gridmap worker`, whose leader holds a session
    advisory lock) uses GRIDMAP_DIRECT_DATABASE_URL: PostgreSQL itself."""
    from click.testing import CliRunner

    from webmap.cli import main

    pooled_url, _ = bouncer
    env = {"DATABASE_URL": pooled_url, "GRIDMAP_DB_TRANSACTION_POOLER": "1"}
    through_pooler = CliRunner().invoke(main, ["jobs", "run", "stats_fold"], env=env)
    assert through_pooler.exit_code != 0  # pgbouncer 1.18 refuses the time zone option the CLI sends
    direct = CliRunner().invoke(main, ["jobs", "run", "stats_fold"],
                                env={**env, "GRIDMAP_DIRECT_DATABASE_URL": fresh_db})
    assert direct.exit_code == 0, direct.output
    assert "stats_fold" in direct.output
