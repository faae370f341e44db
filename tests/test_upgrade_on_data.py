"""Upgrades on data: a database made by an earlier gridmap (schema 0009, see tests/data/README.md:
the sample boundaries, 153 demo 12345 cases with their handling history, a whistle with a check-in,
two photos, notices in the outbox) is restored, ``gridmap db upgrade`` brings it to head, and
everything is still there and still behaves: the same rows, the audit trail still append-only,
statistics rebuilt from the old events, the API serving the old cases, whistle and photos, and the
background jobs running on it.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.services.accounts import create_token
from geo.services.stats import boundary_measures
from geo.store import migrate
from tests.conftest import _admin, _db_url
from webmap import create_app
from webmap.cli import main
from webmap.config import load_config
from webmap.jobs import Runner

DUMP = Path(__file__).parent / "data" / "gridmap-0009.dump"
OLD_REVISION = "0009_session_epoch"
#: What must come through the upgrade unchanged: (table, the columns that existed at 0009, key).
KEPT = {
    "cases": ("id, case_no, status, source, category_code, grid_code, street_code, lead_department, "
              "reported_at, ST_AsEWKB(geom)", "id"),
    "case_event": "id, case_id, action, from_status, to_status, at, actor_name, note, details",
    "whistle": "id, street_code, lead_department, status",
    "case_photo": "id, case_id, md5(data)",
    "app_user": "id, username, role, scope, password_hash",
    "boundary": "level, code, name, parent_code, ST_AsEWKB(geom)",
    "outbox": "id, kind, recipient, payload",
    "department": "code, name",
}


def _rows(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for table, spec in KEPT.items():
                columns, key = spec if isinstance(spec, tuple) else (spec, "1")
                order = key if key != "1" else "1, 2"
                out[table] = [tuple(r) for r in conn.execute(text(f"SELECT {columns} FROM {table} ORDER BY {order}"))]
            return out
    finally:
        engine.dispose()


@pytest.fixture
def upgraded(admin_url):
    """The old database restored (rows read as restored), then upgraded; yields its URL and the rows."""
    name = f"gridmap_upgrade_{uuid.uuid4().hex[:10]}"
    _admin(admin_url, f"CREATE DATABASE {name} TEMPLATE template0")
    url = _db_url(admin_url, name)
    runner = CliRunner()
    try:
        restored = runner.invoke(main, ["restore", str(DUMP)], env={"DATABASE_URL": url}, catch_exceptions=False)
        assert restored.exit_code == 0, restored.output
        status = runner.invoke(main, ["db", "status"], env={"DATABASE_URL": url})
        assert status.exit_code == 1 and OLD_REVISION in status.output  # behind, and says so
        before = _rows(url)
        upgrade = runner.invoke(main, ["db", "upgrade"], env={"DATABASE_URL": url}, catch_exceptions=False)
        assert upgrade.exit_code == 0, upgrade.output
        yield url, before
    finally:
        _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_old_database_is_what_the_fixture_says(upgraded):
    _, before = upgraded
    assert len(before["cases"]) == 153 and len(before["case_event"]) == 1124
    assert len(before["whistle"]) == 1 and len(before["case_photo"]) == 2 and len(before["outbox"]) == 2


def test_every_row_survives_the_upgrade_to_head(upgraded):
    """Every old row is unchanged; the only rows added are 0012's backfilled summons events (one per
    case of the whistle and summoned department: 3 cases × CGW and GA)."""
    url, before = upgraded
    after = _rows(url)
    old_events = len(before["case_event"])
    assert after["case_event"][:old_events] == before["case_event"]
    added = after["case_event"][old_events:]
    assert len(added) == 6 and {e[2] for e in added} == {"summons"} and all(e[8]["backfilled"] for e in added)
    assert sorted(e[8]["department"] for e in added) == ["CGW", "CGW", "CGW", "GA", "GA", "GA"]
    assert {k: v for k, v in after.items() if k != "case_event"} == {k: v for k, v in before.items()
                                                                   if k != "case_event"}
    engine = create_engine(url)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()
        status = CliRunner().invoke(main, ["db", "status"], env={"DATABASE_URL": url})
        assert status.exit_code == 0
    engine.dispose()


def test_the_audit_trail_is_still_append_only_after_the_upgrade(upgraded):
    url, _ = upgraded
    engine = create_engine(url)
    try:
        with engine.connect() as conn, pytest.raises(DBAPIError):
            conn.execute(text("UPDATE case_event SET note = 'x' WHERE id = (SELECT min(id) FROM case_event)"))
        with engine.connect() as conn, pytest.raises(DBAPIError):
            conn.execute(text("DELETE FROM case_event"))
    finally:
        engine.dispose()


def test_columns_added_since_are_filled_from_the_old_events(upgraded):
    """0014 gives each closed case the callback of its round from its events; every status still
    matches the case's last status change."""
    url, _ = upgraded
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            mismatched = conn.execute(text(
                "SELECT count(*) FROM cases c WHERE c.callback IS DISTINCT FROM (SELECT e.details FROM case_event e "
                "WHERE e.case_id = c.id AND e.action IN ('callback', 'reopen') ORDER BY e.id DESC LIMIT 1) "
                "AND EXISTS (SELECT 1 FROM case_event e WHERE e.case_id = c.id AND e.action = 'callback')")).scalar()
            with_callback = conn.execute(text("SELECT count(*) FROM cases WHERE callback IS NOT NULL")).scalar()
            wrong_status = conn.execute(text(
                "SELECT count(*) FROM cases c WHERE c.status <> (SELECT e.to_status FROM case_event e "
                "WHERE e.case_id = c.id AND e.to_status IS NOT NULL ORDER BY e.id DESC LIMIT 1)")).scalar()
    finally:
        engine.dispose()
    assert mismatched == 0 and with_callback == 108 and wrong_status == 0


def test_statistics_rebuilt_from_the_old_events_count_every_case(upgraded):
    url, _ = upgraded
    runner = Runner(create_engine(url), load_config({"DATABASE_URL": url}, environ={}))
    try:
        assert runner.run("stats_fold") == 153  # the background job folds the old history
        result = CliRunner().invoke(main, ["stats", "refresh", "--rebuild"], env={"DATABASE_URL": url})
        assert result.exit_code == 0 and "153" in result.output
        with Session(runner.engine) as s:
            frame = boundary_measures(s, "district", catch_up=False)
            contacted = s.execute(text("SELECT count(*) FROM case_event WHERE action = 'callback' "
                                       "AND (details->>'contacted')::bool")).scalar_one()
        assert int(frame["cases_total"].sum()) == 153
        assert contacted == 105 and int(frame["callbacks_answered"].sum()) == contacted
    finally:
        runner.engine.dispose()


def test_the_api_serves_the_old_cases_whistle_and_photos(upgraded):
    url, _ = upgraded
    engine = create_engine(url)
    with Session(engine) as s, s.begin():
        token = create_token(s, "admin")[1]
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "GRIDMAP_SECRET_KEY": "test"})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    try:
        whistle = client.get("/api/whistles/1")
        assert whistle.status_code == 200, whistle.get_json()
        body = whistle.get_json()
        assert len(body["cases"]) == 3 and {s["state"] for s in body["summons"]} >= {"on_time"}
        case_no = body["cases"][0]["id"]
        case = client.get(f"/api/cases/{case_no}")
        assert case.status_code == 200 and case.get_json()["properties"]["lead_department"] == "CGW"
        events = client.get(f"/api/cases/{case_no}/events").get_json()
        assert [e["action"] for e in events["events"]][:1] == ["receive"]
        photos = client.get(f"/api/cases/{case_no}/photos").get_json()
        image = client.get(photos["photos"][0]["url"])
        assert image.status_code == 200 and image.data[:8] == b"\x89PNG\r\n\x1a\n"
        assert client.get("/readyz").status_code == 200
    finally:
        app.extensions["gridmap"]["engine"].dispose()
