"""Statistics and hotspot endpoints: scoped rows, every export format read back, refusals, CLI."""

import csv
import io
import json

import pyogrio
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from tests.spreadsheets import ogrinfo, read_with_gdal
from webmap.cli import main

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002, street 110101002
EAST_NORTH = {"lon": 116.3175, "lat": 39.9150}  # grid 110101002002002
WEST = {"lon": 116.3025, "lat": 39.9025}  # grid 110101001001001, street 110101001


def act(client, case_id, action, **body):
    resp = client.post(f"/api/cases/{case_id}/actions", json={"action": action, **body})
    assert resp.status_code == 200, resp.get_json()


@pytest.fixture
def world(app, client_as, routed):
    """Four cases: two east (one handled to a satisfied callback), one more east-north, one west.
    Every boundary with a case is ranked here (GRIDMAP_RANK_MIN_CASES 1)."""
    app.config["GRIDMAP_RANK_MIN_CASES"] = 1
    leader = client_as("street_leader", "110101002")
    west_leader = client_as("street_leader", "110101001")
    cgw = client_as("department_staff", department="CGW")
    ids = [leader.post("/api/cases", json={**EAST, "category": "0101"}).get_json()["id"],
           leader.post("/api/cases", json={**EAST, "category": "0101"}).get_json()["id"],
           leader.post("/api/cases", json={**EAST_NORTH, "category": "0101"}).get_json()["id"],
           west_leader.post("/api/cases", json={**WEST, "category": "0101"}).get_json()["id"]]
    act(leader, ids[0], "dispatch")
    for step in ("sign", "respond", "start", "resolve"):
        act(cgw, ids[0], step, note="已处理" if step in ("respond", "resolve") else "")
    act(leader, ids[0], "check")
    act(leader, ids[0], "close")
    act(client_as("hotline"), ids[0], "callback", contacted=True, solved=True, satisfied=True)
    act(leader, ids[1], "dispatch")
    return {"ids": ids, "leader": leader, "planner": client_as("planner"), "cgw": cgw,
            "worker": client_as("grid_worker", "110101002001002")}


def rows_by_code(resp):
    assert resp.status_code == 200, resp.get_json()
    return {r["code"]: r for r in resp.get_json()["rows"]}


def test_street_measures_by_hand(world):
    rows = rows_by_code(world["planner"].get("/api/stats/street.json"))
    east, west = rows["110101002"], rows["110101001"]
    assert (east["cases_total"], west["cases_total"]) == (3, 1)
    # the second east case was dispatched just now: its response is not due yet (进行中), not late
    assert (east["dispatched"], east["responded_on_time"], east["response_rate"]) == (1, 1, 1.0)
    assert east["responses_pending"] == 1
    assert (east["callbacks_answered"], east["resolution_rate"], east["satisfaction_rate"]) == (1, 1.0, 1.0)
    assert west["dispatched"] == 0 and west["response_rate"] is None  # empty denominator: empty, never 0
    assert west["score"] is None and west["rank"] is None
    assert east["score"] == pytest.approx(0.10 * 1.0 + 0.45 + 0.45) and east["rank"] == 1


def test_boundaries_below_the_minimum_of_cases_keep_their_score_but_get_no_rank(world, app):
    app.config["GRIDMAP_RANK_MIN_CASES"] = 4
    east = rows_by_code(world["planner"].get("/api/stats/street.json"))["110101002"]
    assert east["score"] == pytest.approx(1.0) and east["rank"] is None and east["ranked"] is False
    app.config["GRIDMAP_RANK_MIN_CASES"] = 3
    east = rows_by_code(world["planner"].get("/api/stats/street.json"))["110101002"]
    assert east["rank"] == 1 and east["ranked"] is True


def test_a_street_leader_sees_their_street_with_its_city_wide_rank(world):
    rows = rows_by_code(world["leader"].get("/api/stats/community.json"))
    assert set(rows) == {"110101002001", "110101002002"}
    planner = rows_by_code(world["planner"].get("/api/stats/community.json"))
    assert rows["110101002001"]["rank"] == planner["110101002001"]["rank"]
    worker = rows_by_code(world["worker"].get("/api/stats/grid.json"))
    assert set(worker) == {"110101002001001", "110101002001002"}  # the grid worker's community


def test_department_staff_get_department_rankings_but_not_area_statistics(world):
    assert world["cgw"].get("/api/stats/street.json").status_code == 403
    assert world["cgw"].get("/api/hotspots/heat.json").status_code == 403
    rows = rows_by_code(world["cgw"].get("/api/stats/departments.json"))
    # two dispatched, one response due (the other was dispatched just now: 进行中)
    assert rows["CGW"]["cases_total"] >= 2 and (rows["CGW"]["dispatched"], rows["CGW"]["responses_pending"]) == (1, 1)


def test_weights_and_fields(world):
    resp = world["planner"].get("/api/stats/street.json?fields=response_rate,score&w_response=1&w_resolution=0"
                                "&w_satisfaction=0")
    rows = rows_by_code(resp)
    assert resp.get_json()["columns"] == ["code", "response_rate", "score"]
    assert rows["110101002"]["score"] == pytest.approx(1.0)  # the one response that is due was on time
    bad = world["planner"].get("/api/stats/street.json?fields=nope")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "fields"


@pytest.mark.parametrize("url, status, field", [
    ("/api/stats/planet.json", 404, "level"),
    ("/api/stats/street.pdf", 404, "level"),
    ("/api/stats/street.json?from=2026-13-01", 422, "from"),
    ("/api/stats/street.json?from=2026-11-30&to=2026-11-01", 422, "to"),
    ("/api/stats/street.json?w_response=-1", 422, "w_response"),
    ("/api/stats/trend?months=0", 422, "months"),
    ("/api/hotspots/h3.geojson?resolution=99", 422, "resolution"),
    ("/api/hotspots/heat.json?bbox=1,2,3", 422, "bbox"),
    ("/api/hotspots/gistar.geojson?category=1%27%3B--", 422, "category"),
])
def test_bad_parameters_are_refused_with_the_field(world, url, status, field):
    resp = world["planner"].get(url)
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.get_json()["error"]["field"] == field


def test_every_export_format_reads_back_equal_to_the_json(world, tmp_path):
    planner = world["planner"]
    expected = rows_by_code(planner.get("/api/stats/grid.json"))
    csv_resp = planner.get("/api/stats/grid.csv")
    assert csv_resp.data.startswith(b"\xef\xbb\xbf") and "attachment" in csv_resp.headers["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(csv_resp.data.decode("utf-8-sig"))))
    assert list(table[0])[:4] == ["code", "name", "parent_code", "cases_total"]
    assert {r["code"]: int(r["cases_total"]) for r in table} == {c: r["cases_total"] for c, r in expected.items()}
    assert {r["code"]: r["response_rate"] for r in table}["110101002001002"] == "1"

    sheet = load_workbook(io.BytesIO(planner.get("/api/stats/grid.xlsx").data)).active
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["编码", "名称", "上级编码", "案件数"] and sheet.freeze_panes == "A2"
    got = {row[0]: row[3] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert got == {c: r["cases_total"] for c, r in expected.items()}
    xlsx = tmp_path / "grid.xlsx"  # a second, independent reader: GDAL (QGIS's XLSX driver)
    xlsx.write_bytes(planner.get("/api/stats/grid.xlsx").data)
    by_gdal = read_with_gdal(xlsx)
    assert dict(zip(by_gdal["编码"], by_gdal["案件数"], strict=True)) == got
    assert ogrinfo(xlsx) == (len(got), [])

    for fmt in ("geojson", "gpkg"):
        path = tmp_path / f"grid.{fmt}"
        path.write_bytes(planner.get(f"/api/stats/grid.{fmt}").data)
        frame = pyogrio.read_dataframe(path)
        assert dict(zip(frame["code"], frame["cases_total"], strict=True)) == {
            c: r["cases_total"] for c, r in expected.items()}
        assert frame.geometry.notna().all() and not frame.geometry.is_empty.any()


def test_trend_counts_this_month(world):
    resp = world["planner"].get("/api/stats/trend?level=street&code=110101002&months=2")
    rows = resp.get_json()["rows"]
    assert len(rows) == 2 and rows[-1]["cases_total"] == 3 and rows[-1]["dispatched"] == 2
    assert world["leader"].get("/api/stats/trend?level=street&code=110101001").status_code == 404


def test_hotspot_layers_count_what_the_user_may_see(world):
    planner, leader = world["planner"], world["leader"]
    h3 = planner.get("/api/hotspots/h3.geojson?resolution=9").get_json()
    assert sum(f["properties"]["count"] for f in h3["features"]) == 4
    assert sum(f["properties"]["count"] for f in leader.get("/api/hotspots/h3.geojson?resolution=9")
               .get_json()["features"]) == 3
    density = {f["properties"]["code"]: f["properties"] for f in
               leader.get("/api/hotspots/density.geojson").get_json()["features"]}
    assert set(density) == {"110101002001001", "110101002001002", "110101002002001", "110101002002002"}
    grid = density["110101002001002"]
    assert grid["count"] == 2 and grid["density"] == pytest.approx(2 / grid["area_km2"])
    heat = planner.get("/api/hotspots/heat.json").get_json()
    assert heat["cases"] == 4 and all(len(p) == 3 for p in heat["points"])
    gistar = planner.get("/api/hotspots/gistar.geojson?all=true").get_json()
    assert gistar["grids"] == 8 and len(gistar["features"]) == 8 and sum(gistar["classes"].values()) == 8
    assert {f["properties"]["class"] for f in gistar["features"]} <= {
        "hot_99", "hot_95", "hot_90", "not_significant", "cold_90", "cold_95", "cold_99"}
    recurring = planner.get("/api/hotspots/recurring.json?min_count=2").get_json()["candidates"]
    assert [(r["grid_code"], r["category_code"], r["count"]) for r in recurring] == [("110101002001002", "0101", 2)]
    assert planner.get("/api/hotspots/recurring.json?min_count=3").get_json()["candidates"] == []


def test_stats_export_command_writes_the_table(fresh_db, tmp_path):
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "b")
        load_tiny_reference(session, tmp_path / "r")
    engine.dispose()
    out = tmp_path / "streets.xlsx"
    result = CliRunner().invoke(main, ["stats", "export", "--level", "street", "--format", "xlsx", "-o", str(out),
                                       "--from", "2026-01-01", "--to", "2026-12-31"],
                                env={"DATABASE_URL": fresh_db})
    assert result.exit_code == 0, result.output
    assert "已导出 2 行" in result.output
    sheet = load_workbook(out).active
    assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True)] == ["110101001", "110101002"]
    bad = CliRunner().invoke(main, ["stats", "export", "--level", "street", "--format", "pdf", "-o", str(out)],
                             env={"DATABASE_URL": fresh_db})
    assert bad.exit_code != 0 and "pdf" in bad.output
    refreshed = CliRunner().invoke(main, ["stats", "refresh", "--rebuild"], env={"DATABASE_URL": fresh_db})
    assert refreshed.exit_code == 0 and "已处理" in refreshed.output


def test_geojson_is_json_with_rounded_coordinates(world):
    text = world["planner"].get("/api/hotspots/density.geojson").get_data(as_text=True)
    data = json.loads(text)
    ring = data["features"][0]["geometry"]["coordinates"][0]
    ring = ring[0] if isinstance(ring[0][0], list) else ring
    assert all(len(str(v).split(".")[-1]) <= 6 for point in ring for v in point)


def test_a_huge_backlog_is_read_as_it_stands_and_marked_never_refused(app, world, session):
    planner = world["planner"]
    before = rows_by_code(planner.get("/api/stats/street.json"))["110101002"]  # folds everything so far
    act(world["leader"], world["ids"][2], "dispatch")  # one new event
    app.config["GRIDMAP_STATS_MAX_BACKLOG"] = 0
    stale = planner.get("/api/stats/street.json")
    assert stale.status_code == 200 and stale.headers["X-Gridmap-Stats-Behind"] == "1"
    assert stale.get_json()["behind"] == 1
    assert rows_by_code(stale)["110101002"] == before  # not folded by the request: the job will
    trend = planner.get("/api/stats/trend?level=street")
    assert trend.status_code == 200 and trend.get_json()["behind"] == 1
    csv = planner.get("/api/stats/street.csv")
    assert csv.status_code == 200 and csv.headers["X-Gridmap-Stats-Behind"] == "1"
    app.config["GRIDMAP_STATS_MAX_BACKLOG"] = 1
    current = planner.get("/api/stats/street.json")
    east = rows_by_code(current)["110101002"]
    assert east["dispatched"] + east["responses_pending"] == 3  # the new event was folded in
    assert current.get_json()["behind"] == 0 and "X-Gridmap-Stats-Behind" not in current.headers


def test_a_unit_counts_in_its_own_row_and_in_its_parent_departments(world, client_as):
    west_leader = client_as("street_leader", "110101001")
    created = west_leader.post("/api/cases", json={**WEST, "category": "0503"}).get_json()["properties"]
    assert created["lead_department"] == "GA-W"  # the police station whose jurisdiction holds the point
    rows = rows_by_code(world["planner"].get("/api/stats/departments.json"))
    assert (rows["GA-W"]["cases_total"], rows["GA"]["cases_total"]) == (1, 1)
    assert rows["GA-W"]["parent_code"] == "GA"


def test_no_stored_time_can_break_the_statistics(world, session):
    """A case back-dated to 1926 and a deadline past 2068 overflowed the packed record: every
    statistic was a 500. Times are now whole int8 seconds."""
    case = world["ids"][2]
    session.execute(text("UPDATE cases SET reported_at = '1926-03-01 08:00+08', resolve_due = '2100-01-01 00:00+08' "
                         "WHERE case_no = :n"), {"n": case})
    act(world["leader"], case, "dispatch")  # an event, so the case is folded again
    everything = rows_by_code(world["planner"].get("/api/stats/street.json"))
    assert everything["110101002"]["cases_total"] == 3  # counted without a date range …
    old = rows_by_code(world["planner"].get("/api/stats/street.json?from=1926-01-01&to=1926-12-31"))
    assert old["110101002"]["cases_total"] == 1  # … and it is counted where it belongs
    assert world["planner"].get("/api/stats/trend?level=street").status_code == 200
