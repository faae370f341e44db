"""The API behind the map as a workplace (issue 17): the placement preview before a report, names
instead of codes in refusals, readable deadlines, display names in the timeline, exports for people."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from geo.domain.coordinates import wgs84_to_gcj02
from geo.domain.statuses import clock_notes

# A point in grid 110101002001002 (景山街道, 社区002001, 网格002001002: tests/geometries.py).
LON, LAT = 116.3175, 39.9025
OUTSIDE = (116.325, 39.915)


def placement(client, **query):
    return client.get("/api/cases/placement", query_string=query)


def test_placement_preview_names_the_grid_and_community_and_stores_nothing(client, routed):
    before = routed.execute(text("SELECT count(*) FROM cases")).scalar_one()
    resp = placement(client, lon=LON, lat=LAT)
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["grid"] == {"code": "110101002001002", "name": "网格001002"}
    assert body["community"] == {"code": "110101002001", "name": "社区001"}
    assert (body["street"]["name"], body["district"]["name"]) == ("景山街道", "东城区")
    assert body["label"] == "将上报到：网格001002（社区001）"
    assert body["may_report"] is True and body["reason"] is None
    assert routed.execute(text("SELECT count(*) FROM cases")).scalar_one() == before


def test_placement_preview_agrees_with_intake_on_a_shared_edge(client, routed):
    # x = 116.315 is the edge between grids …002001001 and …002001002: the lowest code wins in both.
    preview = placement(client, lon=116.315, lat=39.905).get_json()
    created = client.post("/api/cases", json={"lon": 116.315, "lat": 39.905, "category": "0101"}).get_json()
    assert preview["grid"]["code"] == created["properties"]["grid_code"] == "110101002001001"


def test_placement_preview_converts_consumer_map_coordinates(client, routed):
    x, y = wgs84_to_gcj02(np.array([LON]), np.array([LAT]))
    body = placement(client, lon=float(x[0]), lat=float(y[0]), crs="gcj02").get_json()
    assert body["grid"]["code"] == "110101002001002"
    assert body["lon"] == pytest.approx(LON, abs=1e-6) and body["lat"] == pytest.approx(LAT, abs=1e-6)


def test_placement_preview_outside_every_grid_is_refused_in_chinese(client, routed):
    resp = placement(client, lon=OUTSIDE[0], lat=OUTSIDE[1])
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "outside_area" and error["field"] == "lon"
    assert "不在任何网格内" in error["message"] and "crs=" not in error["message"]
    assert "outside_area" not in error["message"]


def test_intake_outside_every_grid_gives_the_same_chinese_message(client, routed):
    resp = client.post("/api/cases", json={"lon": OUTSIDE[0], "lat": OUTSIDE[1], "category": "0101"})
    preview = placement(client, lon=OUTSIDE[0], lat=OUTSIDE[1]).get_json()
    assert resp.status_code == 422
    assert resp.get_json()["error"]["message"] == preview["error"]["message"]


def test_placement_preview_says_why_a_grid_worker_may_not_report_there_by_name(client_as, routed):
    worker = client_as("grid_worker", "110101002001002")
    mine = placement(worker, lon=LON, lat=LAT).get_json()
    assert mine["may_report"] is True
    other = placement(worker, lon=116.3025, lat=39.9025).get_json()  # the west street
    assert other["may_report"] is False
    assert "网格001001" in other["reason"] and "网格001002" in other["reason"]
    assert "110101" not in other["reason"]  # names, not codes


@pytest.mark.parametrize("query", [{"lat": LAT}, {"lon": LON}, {"lon": "x", "lat": LAT}, {"lon": 500, "lat": LAT}])
def test_placement_preview_refuses_bad_positions_naming_the_field(client, routed, query):
    resp = placement(client, **query)
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] in ("lon", "lat")


def test_placement_preview_needs_a_signed_in_user(anon, routed):
    assert placement(anon, lon=LON, lat=LAT).status_code == 401


def test_a_refused_action_names_the_area_not_its_code(client, client_as, routed):
    # A grid worker sees the cases of their community but acts only in their own grid.
    case = client.post("/api/cases", json={"lon": LON, "lat": LAT, "category": "0101"}).get_json()["id"]
    neighbour = client_as("grid_worker", "110101002001001")
    resp = neighbour.post(f"/api/cases/{case}/actions", json={"action": "note", "note": "看一下"})
    message = resp.get_json()["error"]["message"]
    assert resp.status_code == 403
    assert message == "案件在网格001002，不在您的管辖范围（网格001001）内。"


def test_the_case_detail_says_how_each_running_clock_stands(client, routed):
    case = client.post("/api/cases", json={"lon": LON, "lat": LAT, "category": "0101"}).get_json()["id"]
    routed.execute(text("UPDATE cases SET dispatch_due = now() - interval '3 days 2 hours' WHERE case_no = :n"),
                   {"n": case})
    notes = client.get(f"/api/cases/{case}").get_json()["properties"]["clock_notes"]
    assert notes == {"dispatch": "派遣超期 3 天"}
    client.post(f"/api/cases/{case}/actions", json={"action": "dispatch"})
    notes = client.get(f"/api/cases/{case}").get_json()["properties"]["clock_notes"]
    assert set(notes) == {"respond", "resolve"}
    assert notes["respond"].startswith("距响应时限 ") and notes["resolve"].startswith("距办结时限 ")


@pytest.mark.parametrize(("left", "words"), [(timedelta(hours=5, minutes=10), "距办结时限 5 小时"),
                                             (timedelta(minutes=-42), "办结超期 42 分钟"),
                                             (timedelta(seconds=20), "距办结时限 1 分钟"),
                                             (timedelta(days=-2, hours=-23), "办结超期 2 天")])
def test_clock_wording(left, words):
    now = datetime(2026, 3, 2, 8, tzinfo=UTC)
    assert clock_notes("in_progress", {"resolve": now + left}, now=now) == {"resolve": words}


def test_the_timeline_shows_display_names(client, routed):
    routed.execute(text("UPDATE app_user SET display_name = '王街道' WHERE role = 'street_leader'"))
    case = client.post("/api/cases", json={"lon": LON, "lat": LAT, "category": "0101"}).get_json()["id"]
    events = client.get(f"/api/cases/{case}/events").get_json()["events"]
    assert events[0]["actor_display"] == "王街道" and events[0]["actor_name"].startswith("street_leader")


@pytest.fixture
def planner(client, client_as, routed):
    client.post("/api/cases", json={"lon": LON, "lat": LAT, "category": "0101"})
    return client_as("planner")


def test_the_excel_csv_has_chinese_headers_and_codes_kept_as_text(planner):
    resp = planner.get("/api/stats/grid.csv?excel=true")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")
    assert "excel" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows[0][:4] == ["编码", "名称", "上级编码", "案件数"]
    codes = {r[0] for r in rows[1:]}
    assert '="110101002001002"' in codes  # a spreadsheet evaluates it to the text, all 15 digits
    assert all(c.startswith('="') and c.endswith('"') for c in codes)
    names = {r[1] for r in rows[1:]}
    assert "网格001002" in names  # names stay plain text


def test_the_plain_csv_stays_for_programs_and_gis(planner):
    rows = list(csv.reader(io.StringIO(planner.get("/api/stats/grid.csv").data.decode("utf-8-sig"))))
    assert rows[0][:2] == ["code", "name"] and "110101002001002" in {r[0] for r in rows[1:]}


def test_the_xlsx_says_what_it_holds_on_a_notes_sheet(planner):
    book = load_workbook(io.BytesIO(planner.get("/api/stats/street.xlsx?from=2026-01-01&to=2026-12-31").data))
    assert book.sheetnames == ["street_stats", "说明"]
    notes = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True)}
    assert notes["范围"] == "全市" and notes["受理日期"].startswith("2026-01-01 至 2026-12-31")
    made = datetime.strptime(notes["生成时间"][:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    assert abs((made - datetime.now(UTC)).total_seconds()) < 300 and notes["生成时间"].endswith("（北京时间）")
    assert notes["响应率"] == "按时响应数 ÷ 应响应数（分母为 0 时为空）"
    assert "解决率" in notes["综合得分"] and "满意率" in notes
    assert book["street_stats"]["A1"].value == "编码"  # the table itself is unchanged


def test_a_scoped_xlsx_names_its_scope(client_as, client, routed):
    client.post("/api/cases", json={"lon": LON, "lat": LAT, "category": "0101"})
    leader = client_as("street_leader", "110101002")
    book = load_workbook(io.BytesIO(leader.get("/api/stats/community.xlsx").data))
    notes = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True)}
    assert notes["范围"] == "景山街道（110101002）" and notes["受理日期"].startswith("全部日期")
