"""GRIDMAP_READ_DATABASE_URL against a real PostgreSQL streaming standby (issue 15 #4).

A throwaway primary of its own (scripts/pg.sh), a standby made from it with
``pg_basebackup -R`` and started in hot-standby mode, the app with writes on the primary and
map, statistics and hotspot reads on the standby. Pausing the standby's WAL replay proves where
the reads come from: what the primary wrote after the pause is not on the map until replay
resumes. The replication lag seen is printed (``pytest -s``) and bounded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from geo.services.schema import upgrade_schema
from geo.services.stats import refresh_facts
from tests.conftest import free_port, load_tiny_hierarchy, load_tiny_reference, make_user
from webmap import create_app

ROOT = Path(__file__).resolve().parent.parent
EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002
WEST = {"lon": 116.3090, "lat": 39.9025}
LAG_MAX_S = 10.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the clusters run as postgres: root's case")



def _bin(name: str) -> str:
    return str(sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))[-1])


def _as_postgres(*args: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, cwd="/", timeout=120)


@pytest.fixture(scope="module")
def clusters() -> Iterator[tuple[str, str]]:
    """(primary URL, standby URL) of database ``gridmap`` on two clusters streaming to each other."""
    home = Path(tempfile.mkdtemp(prefix="gridmap-standby-"))
    home.chmod(0o755)
    primary_port, standby_port = free_port(), free_port()
    env = os.environ | {"PG_EXTRA_OPTS": "-c fsync=off -c full_page_writes=off"}
    subprocess.run(["bash", "scripts/pg.sh", "start", str(home / "primary"), str(primary_port), "gridmap"],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    standby = home / "standby"
    standby.mkdir(mode=0o700)
    shutil.chown(standby, "postgres", "postgres")
    try:
        _as_postgres(_bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary_port), "-U", "postgres",
                     "-D", str(standby), "-R", "-X", "stream", "-c", "fast")
        _as_postgres(_bin("pg_ctl"), "-D", str(standby), "-l", str(standby / "server.log"), "-w", "-t", "60",
                     "-o", f"-p {standby_port} -k {standby} -c listen_addresses=127.0.0.1 -c hot_standby=on", "start")
        yield (f"postgresql+psycopg://postgres@127.0.0.1:{primary_port}/gridmap",
               f"postgresql+psycopg://postgres@127.0.0.1:{standby_port}/gridmap")
    finally:
        if (standby / "PG_VERSION").exists():
            subprocess.run(["runuser", "-u", "postgres", "--", _bin("pg_ctl"), "-D", str(standby), "-m", "fast",
                            "-w", "stop"], capture_output=True, cwd="/")
        subprocess.run(["bash", "scripts/pg.sh", "destroy", str(home / "primary")], cwd=ROOT, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def world(clusters, tmp_path_factory):
    primary_url, standby_url = clusters
    engine = create_engine(primary_url, poolclass=NullPool)
    folder = tmp_path_factory.mktemp("standby")
    with Session(engine) as session, session.begin():
        upgrade_schema(session.connection())
        load_tiny_hierarchy(session, folder)
        load_tiny_reference(session, folder / "reference")
        tokens = {"leader": make_user(session, "leader", "street_leader", "110101"),
                  "planner": make_user(session, "planner", "planner")}
    standby = create_engine(standby_url, poolclass=NullPool)
    app = create_app({"DATABASE_URL": primary_url, "GRIDMAP_READ_DATABASE_URL": standby_url,
                      "GRIDMAP_SECRET_KEY": "test", "TESTING": True})
    yield app, engine, standby, tokens
    for e in (engine, standby, app.extensions["gridmap"]["engine"], app.extensions["gridmap"]["read_engine"]):
        e.dispose()


def _client(app, token):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def _on_standby(standby, sql: str, want, timeout: float = LAG_MAX_S) -> float:
    """Seconds until ``sql`` on the standby returns ``want``."""
    started = time.monotonic()
    while True:
        with standby.connect() as conn:
            if conn.execute(text(sql)).scalar() == want:
                return time.monotonic() - started
        assert time.monotonic() - started < timeout, f"the standby did not replay {sql!r} in {timeout} s"
        time.sleep(0.01)


def _markers(planner) -> list[str]:
    response = planner.get("/api/cases/map?zoom=16")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return sorted(f["id"] for f in response.get_json()["features"])


def test_the_standby_streams_and_refuses_writes(world):
    _, engine, standby, _ = world
    with standby.connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
        with pytest.raises(Exception, match="read-only transaction"):
            conn.execute(text("UPDATE case_fact_state SET updated_at = now()"))
    with engine.connect() as conn:
        state = conn.execute(text("SELECT state FROM pg_stat_replication")).scalars().all()
    assert state == ["streaming"]


def test_map_statistics_and_hotspots_come_from_the_standby_and_writes_from_the_primary(world):
    app, engine, standby, tokens = world
    leader, planner = _client(app, tokens["leader"]), _client(app, tokens["planner"])

    first = leader.post("/api/cases", json={**EAST, "category": "0101", "description": "主库写入"})
    assert first.status_code == 201, first.get_json()
    first_no = first.get_json()["id"]
    lag = _on_standby(standby, f"SELECT count(*) FROM cases WHERE case_no = '{first_no}'", 1)
    print(f"\nreplication: a case committed on the primary was on the standby after {lag * 1000:.0f} ms")
    assert _markers(planner) == [first_no]

    # Replay paused: the primary takes a second case, the map (read from the standby) does not show it.
    with standby.connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
        conn.commit()
    try:
        second = leader.post("/api/cases", json={**WEST, "category": "0101"})
        assert second.status_code == 201, second.get_json()
        second_no = second.get_json()["id"]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM cases")).scalar() == 2
        assert _markers(planner) == [first_no], "the map must be read from the standby"
    finally:
        with standby.connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
            conn.commit()
    lag = _on_standby(standby, "SELECT count(*) FROM cases", 2)
    assert _markers(planner) == sorted([first_no, second_no])

    # Statistics: folded on the primary (the job a standby cannot do), read from the standby.
    with Session(engine) as session, session.begin():
        refresh_facts(session)
    _on_standby(standby, "SELECT count(*) FROM case_fact", 2)
    rows = {r["code"]: r for r in planner.get("/api/stats/street.json").get_json()["rows"]}
    assert sum(r["cases_total"] for r in rows.values()) == 2
    for path in ("/api/hotspots/density.geojson", "/api/hotspots/h3.geojson", "/api/stats/departments.json"):
        assert planner.get(path).status_code == 200, path
    with standby.connect() as conn:
        delay = conn.execute(text("SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())")).scalar()
    print(f"replication: the standby's last replayed transaction was {float(delay) * 1000:.0f} ms old when read")
