"""`gridmap cases import --load bulk`: the whole file in one transaction with the case tables'
indexes and foreign keys dropped for the load and rebuilt after it (migration 0020). Same rows as
the batch path, the same indexes afterwards, all or nothing, and safe in the app role's hands."""

import re
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.services import imports as import_service
from geo.store.migrate import grant_runtime
from tests.conftest import _admin, _clone, load_tiny_hierarchy, load_tiny_reference
from webmap.cli import main

#: Every column a case has, but its id (the two databases draw ids from their own sequences).
_CASE_COLUMNS = """case_no, source, external_id, category_code, description, urgency, status, reported_at,
    ST_AsText(geom), orig_x, orig_y, orig_crs, grid_code, community_code, street_code, district_code,
    lead_department, co_departments, routing_rule, dispatch_due, respond_due, resolve_due, resolve_limit_hours,
    requester_name, requester_phone, request_type, address"""


def _tiny(url: str, tmp_path: Path) -> None:
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "boundaries")
        load_tiny_reference(session, tmp_path / "reference")
    engine.dispose()


def _tickets(path: Path, n: int = 600, seed: int = 7, prefix: str = "K") -> Path:
    rng = np.random.default_rng(seed)
    days = rng.integers(1, 28, n)
    pd.DataFrame({
        "工单编号": [f"{prefix}-{i}" for i in range(n)],
        "受理时间": [f"2026-11-{d:02d} {h:02d}:{m:02d}" for d, h, m in
                  zip(days, rng.integers(0, 24, n), rng.integers(0, 60, n), strict=True)],
        "问题分类": rng.choice(["0101", "0602", "0503", "暴露垃圾"], n),
        "诉求内容": [f"第{i}件" for i in range(n)],
        "经度": rng.uniform(116.3005, 116.3195, n).round(6),
        "纬度": rng.uniform(39.9005, 39.9195, n).round(6),
        "联系电话": ["13800000000"] * n,
    }).to_csv(path, index=False)
    return path


def _import(url: str, path: Path, *extra: str):
    return CliRunner().invoke(main, ["cases", "import", str(path), "--crs", "wgs84", "--source", "12345", *extra],
                              env={"DATABASE_URL": url}, catch_exceptions=False)


def _snapshot(url: str) -> tuple[list, list, list, list]:
    engine = create_engine(url)
    with engine.connect() as conn:
        cases = conn.execute(text(f"SELECT {_CASE_COLUMNS} FROM cases ORDER BY case_no")).all()
        events = conn.execute(text("""
            SELECT c.case_no, e.at, e.actor_name, e.action, e.to_status, e.lon, e.lat, e.details
            FROM case_event e JOIN cases c ON c.id = e.case_id ORDER BY c.case_no, e.id""")).all()
        indexes = [(t, name, _canonical(definition)) for t, name, definition in conn.execute(text("""
            SELECT tablename, indexname, indexdef FROM pg_indexes
            WHERE tablename IN ('cases', 'case_event') ORDER BY 1, 2""")).all()]
        constraints = conn.execute(text("""
            SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), convalidated FROM pg_constraint
            WHERE conrelid IN ('cases'::regclass, 'case_event'::regclass) ORDER BY 1, 2""")).all()
    engine.dispose()
    return cases, events, indexes, constraints


def _canonical(definition: str) -> str:
    """An index definition without the casts and layout PostgreSQL prints differently for the same
    expression index once it is rebuilt from its own printed form (the next-deadline CASE)."""
    return re.sub(r"::[a-z ]+(\[\])?|[()\s]", "", definition)


@pytest.fixture
def two_dbs(admin_url, template_db, fresh_db, tmp_path):
    name, other = _clone(admin_url, template_db)
    for i, url in enumerate((fresh_db, other)):
        _tiny(url, tmp_path / str(i))
    yield fresh_db, other
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_a_bulk_load_writes_what_the_batches_write_and_leaves_the_same_indexes(two_dbs, tmp_path):
    batches_db, bulk_db = two_dbs
    before = _snapshot(bulk_db)
    path = _tickets(tmp_path / "t.csv")
    batched = _import(batches_db, path, "--load", "batches")
    bulk = _import(bulk_db, path, "--load", "bulk")
    assert batched.exit_code == 0 and bulk.exit_code == 0, (batched.output, bulk.output)
    assert "重建案件表的索引" in bulk.output and "重建案件表的索引" not in batched.output
    cases, events, indexes, constraints = _snapshot(bulk_db)
    assert len(cases) > 500 and len(events) == len(cases)
    assert (cases, events) == _snapshot(batches_db)[:2]
    assert (indexes, constraints) == before[2:]  # every index and constraint back, foreign keys validated
    assert all(validated for *_, validated in constraints)
    again = _import(bulk_db, path, "--load", "bulk")  # idempotent: everything stored is skipped
    assert again.exit_code == 0 and f"已存在跳过 {len(cases)}" in again.output
    assert _snapshot(bulk_db)[:2] == (cases, events)


def test_a_bulk_load_the_database_refuses_writes_nothing_and_keeps_every_index(fresh_db, tmp_path):
    _tiny(fresh_db, tmp_path)
    engine = create_engine(fresh_db)
    path = _tickets(tmp_path / "t.csv", n=50)
    assert _import(fresh_db, path, "--load", "bulk").exit_code == 0
    with engine.begin() as conn:  # a counter set back (a partial restore): the next numbers are taken
        conn.execute(text("UPDATE case_counter SET last = 1"))
    before = _snapshot(fresh_db)
    result = _import(fresh_db, _tickets(tmp_path / "u.csv", n=300, seed=8, prefix="U"), "--load", "bulk")
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "案件编号重复" in result.output
    assert _snapshot(fresh_db) == before
    engine.dispose()


def test_auto_loads_in_bulk_only_what_is_large_against_the_table(fresh_db, tmp_path, monkeypatch):
    _tiny(fresh_db, tmp_path)
    monkeypatch.setattr(import_service, "BULK_MIN_ROWS", 100)
    first = _import(fresh_db, _tickets(tmp_path / "a.csv", n=300))
    assert first.exit_code == 0 and "重建案件表的索引" in first.output  # an empty table: bulk
    engine = create_engine(fresh_db)
    with engine.connect() as conn:
        conn.execute(text("ANALYZE cases"))
    engine.dispose()
    small = pd.read_csv(tmp_path / "a.csv").head(150).assign(工单编号=lambda f: "L-" + f["工单编号"])
    small.to_csv(tmp_path / "b.csv", index=False)
    second = _import(fresh_db, tmp_path / "b.csv")
    assert second.exit_code == 0 and "重建案件表的索引" not in second.output  # smaller than the table: batches


def test_the_app_role_may_bulk_load_but_not_commit_without_the_rebuild_nor_touch_the_saved_definitions(
        fresh_db, admin_url, tmp_path):
    _tiny(fresh_db, tmp_path)
    role = f"app_{uuid.uuid4().hex[:8]}"
    _admin(admin_url, f"CREATE ROLE {role} LOGIN")
    owner = create_engine(fresh_db)
    with owner.begin() as conn:
        grant_runtime(conn, role)
    app_url = make_url(fresh_db).set(username=role, password=None).render_as_string(hide_password=False)
    app = create_engine(app_url)
    before = _snapshot(fresh_db)[2:]
    try:
        with app.connect() as conn:  # begin without end: COMMIT is refused, the indexes stay
            conn.execute(text("SELECT gridmap_bulk_load_begin()"))
            assert conn.execute(text("SELECT count(*) FROM pg_indexes WHERE tablename = 'cases'")).scalar_one() == 1
            with pytest.raises(DBAPIError, match="without gridmap_bulk_load_end"):
                conn.commit()
        for sql in ("SELECT * FROM gridmap_private.bulk_load_saved",
                    "INSERT INTO gridmap_private.bulk_load_saved (table_name, name, kind, definition) "
                    "VALUES ('cases', 'x', 'i', 'DROP TABLE cases')"):
            with app.connect() as conn, pytest.raises(DBAPIError, match="permission denied"):
                conn.execute(text(sql))
        assert _snapshot(fresh_db)[2:] == before
        assert _import(app_url, _tickets(tmp_path / "t.csv", n=120), "--load", "bulk").exit_code == 0
        with owner.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM cases")).scalar_one() > 100
    finally:
        app.dispose()
        with owner.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
        owner.dispose()
        _admin(admin_url, f"DROP ROLE {role}")


def test_a_bulk_load_that_cannot_hold_the_tables_gives_up_clearly_and_writes_nothing(fresh_db, tmp_path,
                                                                                     monkeypatch):
    _tiny(fresh_db, tmp_path)
    monkeypatch.setenv("GRIDMAP_IMPORT_LOCK_SECONDS", "1")
    engine = create_engine(fresh_db)
    before = _snapshot(fresh_db)
    with engine.connect() as reader:  # a long map read holds ACCESS SHARE on cases
        reader.execute(text("BEGIN; SELECT count(*) FROM cases"))
        started = time.perf_counter()
        result = _import(fresh_db, _tickets(tmp_path / "t.csv", n=80), "--load", "bulk")
        waited = time.perf_counter() - started
        reader.rollback()
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "案件表正被其他连接使用" in result.output and "--load batches" in result.output
    assert 1 <= waited < 20
    assert _snapshot(fresh_db) == before
    engine.dispose()
