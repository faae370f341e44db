"""Issue 13 #4: the cluster `make run` keeps admits nobody without a password, and one made by an
earlier version (trust) is converted on its next start; the app's role owns nothing.

`make run` itself is walked in test_make_anywhere.py (roles, grants, the other local account);
here the conversion of an old cluster and the grants `gridmap db upgrade` gives the app's role.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
PSQL = str(next(Path("/usr/lib/postgresql").glob("*/bin/psql")))



def _pg(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "scripts/pg.sh", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env or os.environ.copy())


def _no_password(port: int, user: str = "postgres") -> subprocess.CompletedProcess[str]:
    return subprocess.run([PSQL, "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "gridmap", "-w",
                           "-tAc", "SELECT 1"], capture_output=True, text=True,
                          env={k: v for k, v in os.environ.items() if not k.startswith("PG")})


@pytest.fixture
def cluster_dir(tmp_path: Path):
    folder = tmp_path / "var"  # pytest's tmp folders are 0700: the data goes to GRIDMAP_PG_HOME
    folder.mkdir()
    home = Path(tempfile.mkdtemp(prefix="gridmap-roles-"))
    home.chmod(0o755)
    env = os.environ | {"GRIDMAP_PG_HOME": str(home)}
    yield folder / "pg", env
    _pg("destroy", str(folder / "pg"), env=env)
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster runs as postgres: root's case")
def test_a_trust_cluster_is_closed_on_its_next_secure_start(cluster_dir) -> None:
    data, env = cluster_dir
    port = free_port()
    started = _pg("start", str(data), str(port), "gridmap", env=env)
    assert started.returncode == 0, started.stderr
    assert _no_password(port).returncode == 0, "precondition: the old cluster trusts everyone"

    secured = _pg("secure", str(data), str(port), "gridmap", env=env)
    assert secured.returncode == 0, secured.stderr
    assert "trust" in secured.stderr and "scram-sha-256" in secured.stderr, "the operator is told"
    for user in ("postgres", "gridmap", "gridmap_app"):
        refused = _no_password(port, user)
        assert refused.returncode != 0 and "no password supplied" in refused.stderr, (user, refused.stderr)

    secrets = Path(f"{data}.env")
    assert secrets.stat().st_mode & 0o777 == 0o600
    urls = dict(line.split("=", 1) for line in secrets.read_text().splitlines())
    assert len(urls["GRIDMAP_APP_PASSWORD"]) >= 32 and urls["GRIDMAP_APP_PASSWORD"] != urls["GRIDMAP_OWNER_PASSWORD"]
    app = make_url(urls["DATABASE_URL"]).set(drivername="postgresql")
    assert app.port == port and app.username == "gridmap_app"
    with psycopg.connect(app.render_as_string(hide_password=False)) as conn:
        row = conn.execute("SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user")
        assert row.fetchone() == (False, False, False)

    again = _pg("secure", str(data), str(port), "gridmap", env=env)  # idempotent: same passwords, same URLs
    assert again.returncode == 0, again.stderr
    assert dict(line.split("=", 1) for line in secrets.read_text().splitlines()) == urls


@pytest.mark.skipif(os.geteuid() != 0, reason="the cluster runs as postgres: root's case")
def test_db_upgrade_runs_as_the_owner_and_grants_the_app_only_appends_to_the_audit_trail(cluster_dir) -> None:
    data, env = cluster_dir
    port = free_port()
    secured = _pg("secure", str(data), str(port), "gridmap", env=env)
    assert secured.returncode == 0, secured.stderr
    urls = dict(line.split("=", 1) for line in Path(f"{data}.env").read_text().splitlines())
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "DATABASE_URL"))} | {
        "DATABASE_URL": urls["DATABASE_URL"], "GRIDMAP_MIGRATE_URL": urls["GRIDMAP_MIGRATE_URL"]}
    gridmap = str(ROOT / ".venv/bin/gridmap")
    as_app_only = subprocess.run([gridmap, "db", "upgrade"], capture_output=True, text=True,
                                 env=cli_env | {"GRIDMAP_MIGRATE_URL": urls["DATABASE_URL"]})
    assert as_app_only.returncode != 0, "the app's role may not create the schema"
    upgraded = subprocess.run([gridmap, "db", "upgrade"], capture_output=True, text=True, env=cli_env)
    assert upgraded.returncode == 0, upgraded.stderr

    app = make_url(urls["DATABASE_URL"]).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(app, autocommit=True) as conn:
        conn.execute("INSERT INTO calendar_day (day, kind, name) VALUES ('2031-01-01', 'holiday', '元旦')")
        assert conn.execute("DELETE FROM calendar_day WHERE day = '2031-01-01'").rowcount == 1
        for table in ("case_event", "topic_event"):
            for attempt in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table}",
                            f"ALTER TABLE {table} DISABLE TRIGGER ALL"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(attempt)
            conn.execute(f"SELECT count(*) FROM {table}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET session_replication_role = replica")
        # the map's counters (0020) are written by their triggers only, as the owner
        for attempt in ("INSERT INTO case_count (category_code, status, cases) VALUES ('0101', 'received', 1)",
                        "UPDATE case_count SET cases = 0", "DELETE FROM case_count", "TRUNCATE case_count",
                        "ALTER TABLE cases DISABLE TRIGGER case_count_insert"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attempt)
        assert conn.execute("SELECT case_count_rebuild()").fetchone()[0] == 0  # the recount runs as the owner
        # ANALYZE is the owner's: the app's imports and folds ask gridmap_analyze (migration 0018)
        conn.execute("ANALYZE cases")  # PostgreSQL skips it with a warning
        assert _last_analyze(conn, "cases") is None
        conn.execute("SELECT gridmap_analyze(ARRAY['cases', 'case_fact'])")
        assert _last_analyze(conn, "cases") is not None and _last_analyze(conn, "case_fact") is not None
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SELECT gridmap_analyze(ARRAY['app_user'])")
        # a rebuild of case_fact drops its indexes and builds them after, through gridmap_fact_indexes
        # (migration 0022), and only while the table is empty
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP INDEX ix_case_fact_cell")
        conn.execute("SELECT gridmap_fact_indexes(false)")
        assert _indexes(conn, "case_fact") == []
        conn.execute("SELECT gridmap_fact_indexes(true)")
        assert _indexes(conn, "case_fact") == ["case_fact_pkey", "ix_case_fact_cell"]
        conn.execute("INSERT INTO case_fact (case_id, grid_code, category_code, reported_at, status, x, y, cell_x, "
                     "cell_y, last_event_id) VALUES (1, 'g', '0101', now(), 'received', 0, 0, 0, 0, 1)")
        with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState):
            conn.execute("SELECT gridmap_fact_indexes(false)")
        assert _indexes(conn, "case_fact") == ["case_fact_pkey", "ix_case_fact_cell"]
        conn.execute("DELETE FROM case_fact")


def _indexes(conn, table: str) -> list[str]:
    return [r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s ORDER BY indexname",
                                       (table,)).fetchall()]


def _last_analyze(conn, table: str):
    conn.execute("SELECT pg_stat_clear_snapshot()")
    return conn.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", (table,)).fetchone()[0]
