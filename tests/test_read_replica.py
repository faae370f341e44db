"""GRIDMAP_READ_DATABASE_URL: the map, boundary, statistics and hotspot reads go to a second engine
that must never write (a hot standby refuses writes), while writes stay on DATABASE_URL.

The "replica" here is the same test database reached with ``default_transaction_read_only=on``,
so any write through the read engine fails the way it would on a standby.
"""

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from geo.services.stats import refresh_facts
from tests.conftest import load_tiny_hierarchy, load_tiny_reference, make_user
from webmap import create_app

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002, street 110101002
READ_ONLY = "?options=-c%20default_transaction_read_only%3Don"
REPLICA_READS = [
    "/api/cases/map?zoom=12",
    "/api/cases/map?zoom=16",
    "/api/boundaries/grid.geojson",
    "/api/boundaries/search?q=1101",
    "/api/stats/street.json",
    "/api/stats/departments.json",
    "/api/stats/grid.csv",
    "/api/stats/trend?level=street",
    "/api/hotspots/gistar.geojson",
    "/api/hotspots/density.geojson",
    "/api/hotspots/h3.geojson",
    "/api/hotspots/heat.json",
    "/api/hotspots/change.geojson?a_from=2026-01-01&a_to=2026-01-31&b_from=2026-02-01&b_to=2026-02-28",
    "/api/hotspots/recurring.json",
]


@pytest.fixture
def primary(fresh_db, tmp_path):
    """A committed database: the tiny hierarchy, departments and duties, a street leader and a
    planner (their bearer tokens), and one case."""
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path)
        load_tiny_reference(session, tmp_path / "reference")
        tokens = {"leader": make_user(session, "leader", "street_leader", "110101"),
                  "planner": make_user(session, "planner", "planner")}
    yield fresh_db, engine, tokens
    engine.dispose()


@pytest.fixture
def app(primary):
    url = primary[0]
    application = create_app({"DATABASE_URL": url, "GRIDMAP_READ_DATABASE_URL": url + READ_ONLY,
                              "GRIDMAP_SECRET_KEY": "test", "TESTING": True})
    yield application
    application.extensions["gridmap"]["engine"].dispose()
    application.extensions["gridmap"]["read_engine"].dispose()


def _client(app, token):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def test_the_read_engine_refuses_writes(app):
    with pytest.raises(DBAPIError, match="read-only transaction"), \
            app.extensions["gridmap"]["read_engine"].begin() as conn:
        conn.execute(text("UPDATE case_fact_state SET updated_at = now()"))


@pytest.mark.parametrize("path", REPLICA_READS)
def test_reads_answer_from_the_read_only_engine(app, primary, path):
    leader, planner = _client(app, primary[2]["leader"]), _client(app, primary[2]["planner"])
    assert leader.post("/api/cases", json={**EAST, "category": "0101"}).status_code == 201
    checkouts = []
    event.listen(app.extensions["gridmap"]["read_engine"], "checkout", lambda *_: checkouts.append(1))

    response = planner.get(path)

    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert checkouts, "the read did not use the read engine"


def test_writes_go_to_the_primary_and_stats_show_them_after_a_refresh(app, primary):
    _, engine, tokens = primary
    leader, planner = _client(app, tokens["leader"]), _client(app, tokens["planner"])

    created = leader.post("/api/cases", json={**EAST, "category": "0101", "description": "主库写入"})

    assert created.status_code == 201, created.get_json()
    case = created.get_json()["id"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM cases WHERE case_no = :no"), {"no": case}).scalar() == 1
    assert leader.post(f"/api/cases/{case}/actions", json={"action": "dispatch"}).status_code == 200
    # The replica path does not fold events into case_fact: until `gridmap stats refresh` runs on
    # the primary the measures lag behind, then they count the new case.
    street = "110101002"
    before = {r["code"]: r for r in planner.get("/api/stats/street.json").get_json()["rows"]}
    assert before[street]["cases_total"] == 0
    with Session(engine) as session, session.begin():
        refresh_facts(session)
    after = {r["code"]: r for r in planner.get("/api/stats/street.json").get_json()["rows"]}
    # dispatched just now: its response is not due yet, so it is pending (进行中), not judged
    assert after[street]["cases_total"] == 1 and after[street]["responses_pending"] == 1
    markers = planner.get("/api/cases/map?zoom=16").get_json()["features"]
    assert [f["id"] for f in markers] == [case]
