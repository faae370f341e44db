"""Monthly topics (每月一题) through the API against PostGIS: who may set them, who sees which, the
month's figures against the month before on the hand-made history of tests/test_stats.py (worked
out by hand there), the events, the exports; and the pure rules of geo.domain.topics.

The history's 0101 cases in the east street 110101002 (Beijing time, 2026):
    March: A (grid E, responded on time; callback solved, satisfied), B (grid E, responded late;
           solved, not satisfied), C (grid E, signed, never responded), F (grid E2, on time;
           solved, satisfied)  →  4 cases, 响应 2/4, 解决 3/3, 满意 2/3
    April: D (grid E, on time; callback contacted, not solved, not satisfied) → 1 case, 1/1, 0/1, 0/1
"""

from __future__ import annotations

import csv
import importlib.util
import io
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo.domain import stats
from geo.domain import topics as logic
from geo.domain.errors import InvalidInput
from tests.spreadsheets import ogrinfo, read_with_gdal
from tests.test_stats import E2, EAST, WEST, E, make_history

ROOT = Path(__file__).resolve().parent.parent
APRIL = {"title": "东街道暴露垃圾", "category": "0101", "targets": [EAST], "month": "2026-04",
         "lead_department": "CGW", "co_departments": ["CGZF"], "goal": "减少一半", "tasks": "每日巡查"}


@pytest.fixture
def history(routed):
    return make_history(routed)


@pytest.fixture
def planner(client_as):
    return client_as("planner")


def created(resp):
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


# --- setting a topic ----------------------------------------------------------------------------------


def test_a_planner_sets_a_topic_and_sees_april_against_march(history, planner):
    topic = created(planner.post("/api/topics", json=APRIL))
    assert (topic["status"], topic["targets"], topic["co_departments"]) == ("active", [EAST], ["CGZF"])
    numbers = topic["figures"]
    assert numbers["month"] == {
        "month": "2026-04", "cases_total": 1, "dispatched": 1, "responded_on_time": 1, "response_rate": 1.0,
        "callbacks_answered": 1, "callbacks_solved": 0, "resolution_rate": 0.0, "callbacks_satisfied": 0,
        "satisfaction_rate": 0.0, "overdue": 1}  # D, reopened in April, is still waiting today
    march = numbers["previous"]
    assert march["month"] == "2026-03"
    assert (march["cases_total"], march["dispatched"], march["responded_on_time"]) == (4, 4, 2)
    assert (march["callbacks_answered"], march["callbacks_solved"], march["callbacks_satisfied"]) == (3, 3, 2)
    assert (march["response_rate"], march["resolution_rate"]) == (0.5, 1.0)
    assert march["satisfaction_rate"] == pytest.approx(2 / 3)
    change = numbers["change"]
    assert (change["cases_total"], change["response_rate"], change["resolution_rate"]) == (-3, 0.5, -1.0)
    assert change["satisfaction_rate"] == pytest.approx(-2 / 3)


def test_one_grid_in_march_against_an_empty_february(history, planner):
    topic = created(planner.post("/api/topics", json={**APRIL, "targets": [E2], "month": "2026-03", "category": "01"}))
    month, before, change = (topic["figures"][k] for k in ("month", "previous", "change"))
    assert (month["cases_total"], month["response_rate"], month["resolution_rate"], month["satisfaction_rate"]) == \
        (1, 1.0, 1.0, 1.0)
    assert before["cases_total"] == 0 and before["response_rate"] is None  # an empty denominator: empty, never 0
    assert change["cases_total"] == 1 and change["response_rate"] is None


def test_another_category_counts_none_of_these_cases(history, planner):
    topic = created(planner.post("/api/topics", json={**APRIL, "category": "0602"}))
    assert topic["figures"]["month"]["cases_total"] == 0 and topic["figures"]["previous"]["cases_total"] == 0


def test_a_month_asked_for_shows_that_month_against_its_previous(history, planner):
    topic = created(planner.post("/api/topics", json=APRIL))
    march = planner.get(f"/api/topics/{topic['id']}?month=2026-03").get_json()["figures"]
    assert (march["month"]["month"], march["month"]["cases_total"], march["previous"]["cases_total"]) == \
        ("2026-03", 4, 0)


def test_a_topic_from_a_recurring_candidate(history, planner):
    candidates = planner.get("/api/hotspots/recurring.json?from=2026-03-01&to=2026-03-31").get_json()["candidates"]
    first = next(c for c in candidates if c["grid_code"] == E)
    topic = created(planner.post("/api/topics", json={
        "from_recurring": {"grid_code": first["grid_code"], "category": first["category_code"]},
        "month": "2026-03", "lead_department": "CGW"}))
    assert topic["targets"] == [E] and topic["category_code"] == "0101"
    assert topic["title"].endswith("暴露垃圾")
    assert topic["figures"]["month"]["cases_total"] == 3  # A, B, C
    assert topic["events"][0]["details"]["from_recurring"] == {"grid_code": E, "category": "0101"}


@pytest.mark.parametrize("role, scope, department", [
    ("grid_worker", "110101002001002", None), ("street_leader", EAST, None), ("department_staff", "", "CGW"),
    ("hotline", "110101", None), ("community_leader", "110101002001", None),
])
def test_only_planners_and_admins_set_topics(history, client_as, role, scope, department):
    resp = client_as(role, scope, department).post("/api/topics", json=APRIL)
    assert resp.status_code == 403 and resp.get_json()["error"]["field"] == "role"


def test_a_planner_sets_topics_only_inside_their_scope(history, client_as):
    west = client_as("planner", WEST)
    resp = west.post("/api/topics", json=APRIL)
    assert resp.status_code == 403 and resp.get_json()["error"]["field"] == "targets"
    district = created(client_as("planner", "110101").post("/api/topics", json={**APRIL, "targets": ["110101"]}))
    seen = west.get(f"/api/topics/{district['id']}").get_json()  # the district holds the west street
    assert seen["may_edit"] is False and district["may_edit"] is True
    assert west.patch(f"/api/topics/{district['id']}", json={"goal": "x"}).status_code == 403
    assert created(client_as("admin").post("/api/topics", json=APRIL))["created_by"].startswith("admin")


@pytest.mark.parametrize("change, field", [
    ({"month": "2026-13"}, "month"),
    ({"title": " "}, "title"),
    ({"category": "1"}, "category"),
    ({"category": "9999"}, "category"),
    ({"targets": []}, "targets"),
    ({"targets": ["110101009"]}, "targets"),
    ({"targets": ["11x"]}, "targets"),
    ({"lead_department": "NOPE"}, "lead_department"),
    ({"co_departments": ["NOPE"]}, "co_departments"),
    ({"goal": "长" * (logic.TEXT_MAX + 1)}, "goal"),
])
def test_bad_topics_are_refused_naming_the_field(history, planner, change, field):
    resp = planner.post("/api/topics", json={**APRIL, **change})
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["field"] == field


# --- who sees which ------------------------------------------------------------------------------------


@pytest.fixture
def two_topics(history, planner):
    east = created(planner.post("/api/topics", json=APRIL))["id"]
    west = created(planner.post("/api/topics", json={**APRIL, "targets": [WEST], "lead_department": "HBJ",
                                                     "co_departments": []}))["id"]
    return {"east": east, "west": west}


@pytest.mark.parametrize("role, scope, department, sees", [
    ("planner", "", None, {"east", "west"}),
    ("admin", "", None, {"east", "west"}),
    ("hotline", "110101", None, {"east", "west"}),
    ("hotline", "110102", None, set()),
    ("street_leader", EAST, None, {"east"}),
    ("planner", WEST, None, {"west"}),
    ("grid_worker", E, None, {"east"}),
    ("grid_worker", "110101001001001", None, {"west"}),
    ("community_leader", "110101002001", None, {"east"}),
    ("department_staff", "", "CGW", {"east"}),
    ("department_staff", "", "HBJ", {"west"}),
    ("department_staff", "", "GA", set()),
])
def test_the_list_holds_the_topics_of_the_users_area_or_department(two_topics, client_as, role, scope, department,
                                                                   sees):
    client = client_as(role, scope, department)
    resp = client.get("/api/topics")
    assert resp.status_code == 200
    ids = {t["id"] for t in resp.get_json()["topics"]}
    assert ids == {two_topics[name] for name in sees}
    for name in ("east", "west"):
        assert client.get(f"/api/topics/{two_topics[name]}").status_code == (200 if name in sees else 404)


def test_the_list_can_keep_one_month(two_topics, planner):
    assert len(planner.get("/api/topics?month=2026-04").get_json()["topics"]) == 2
    assert planner.get("/api/topics?month=2026-05").get_json()["topics"] == []
    bad = planner.get("/api/topics?month=2026-4")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "month"


# --- changes and events ------------------------------------------------------------------------------


def test_goal_tasks_and_closing_are_events_and_a_closed_topic_stays_closed(history, planner, client_as):
    topic = created(planner.post("/api/topics", json=APRIL))
    url = f"/api/topics/{topic['id']}"
    assert client_as("street_leader", EAST).patch(url, json={"goal": "x"}).status_code == 403
    changed = planner.patch(url, json={"goal": "减少七成", "tasks": "每日巡查"})  # tasks unchanged
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["goal"] == "减少七成"
    nothing = planner.patch(url, json={"tasks": "每日巡查"})
    assert nothing.status_code == 422 and nothing.get_json()["error"]["code"] == "no_change"
    closed = planner.patch(url, json={"close": True}).get_json()
    assert closed["status"] == "closed" and closed["closed_at"] and not closed["may_edit"]
    again = planner.patch(url, json={"goal": "再改"})
    assert again.status_code == 409
    events = planner.get(url).get_json()["events"]
    assert [e["action"] for e in events] == ["created", "updated", "closed"]
    assert events[1]["details"] == {"goal": {"from": "减少一半", "to": "减少七成"}}
    assert events[0]["details"]["targets"] == [EAST] and events[0]["actor_role"] == "planner"
    assert {e["actor_name"] for e in events} == {topic["created_by"]}


def test_topic_events_are_append_only(history, planner, session):
    created(planner.post("/api/topics", json=APRIL))
    session.flush()
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(text("UPDATE topic_event SET action = 'closed'"))


# --- exports -------------------------------------------------------------------------------------------


def test_the_csv_has_a_bom_chinese_headers_and_the_figures(two_topics, planner):
    resp = planner.get("/api/topics.csv?month=2026-04")
    assert resp.status_code == 200 and resp.data.startswith(b"\xef\xbb\xbf")
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = {r["编号"]: r for r in csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig")))}
    east = rows[str(two_topics["east"])]
    assert (east["题目"], east["目标区划"], east["状态"]) == ("东街道暴露垃圾", EAST, "进行中")
    assert east["协办部门"] == "CGZF"
    assert (east["本月案件数"], east["上月案件数"], east["案件数变化"]) == ("1", "4", "-3")
    assert (east["本月响应率"], east["上月响应率"], east["响应率变化"]) == ("1", "0.5", "0.5")
    assert (east["本月回访满意数"], east["上月回访满意数"], east["上月回访应答数"]) == ("0", "2", "3")
    west = rows[str(two_topics["west"])]
    assert (west["本月案件数"], west["本月响应率"], west["响应率变化"]) == ("0", "", "")  # empty, never 0


def test_the_xlsx_and_one_topics_export(two_topics, planner, tmp_path):
    data = planner.get("/api/topics.xlsx").data
    (tmp_path / "topics.xlsx").write_bytes(data)
    assert ogrinfo(tmp_path / "topics.xlsx") == (2, [])  # GDAL (QGIS) reads every row
    assert sorted(read_with_gdal(tmp_path / "topics.xlsx")["编号"].tolist()) == sorted([two_topics["east"],
                                                                                       two_topics["west"]])
    sheet = load_workbook(io.BytesIO(data)).active
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["编号", "题目", "月份"] and sheet.freeze_panes == "A2"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 2
    rate = header.index("上月满意率")
    east = next(r for r in rows if r[0] == two_topics["east"])
    assert east[rate] == pytest.approx(2 / 3)
    assert east[header.index("目标区划")] == EAST  # a code stays text
    one = planner.get(f"/api/topics/{two_topics['west']}.csv")
    assert len(list(csv.DictReader(io.StringIO(one.data.decode("utf-8-sig"))))) == 1
    assert planner.get("/api/topics.pdf").status_code == 404


# --- the topics page ------------------------------------------------------------------------------------


def test_the_page_offers_the_form_to_planners_only(history, planner, client_as):
    page = planner.get("/topics").get_data(as_text=True)
    assert 'id="gm-topic-form"' in page and 'id="gm-options"' in page and "topics.js" in page
    assert '<label for="gm-topic-title"' in page
    worker = client_as("grid_worker", E).get("/topics").get_data(as_text=True)
    assert 'id="gm-topic-form"' not in worker and "topics.js" in worker
    assert 'href="/topics"' in planner.get("/stats").get_data(as_text=True)


# --- the pure rules ---------------------------------------------------------------------------------------


def test_the_frozen_vocabulary_of_migration_0013_is_the_domains():
    spec = importlib.util.spec_from_file_location(
        "migration_0013", ROOT / "geo/store/migrations/versions/0013_topics.py")
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert tuple(logic.STATUSES) == migration.STATUSES and tuple(logic.EVENT_ACTIONS) == migration.EVENT_ACTIONS


@pytest.mark.parametrize("month, before", [("2026-01", "2025-12"), ("2026-10", "2026-09"), ("2026-12", "2026-11")])
def test_previous_month(month, before):
    assert logic.previous_month(month) == before


def test_month_bounds_are_beijing_midnights():
    before, start, end = logic.month_bounds("2026-12")
    tz = ZoneInfo("Asia/Shanghai")
    assert (before, start, end) == (datetime(2026, 11, 1, tzinfo=tz), datetime(2026, 12, 1, tzinfo=tz),
                                    datetime(2027, 1, 1, tzinfo=tz))


@pytest.mark.parametrize("category, expected", [
    ("0101", [1, -1, -1]), ("01", [1, 1, -1]), ("0602", [-1, -1, 1]), ("0301", [-1, -1, -1])])
def test_case_keys_match_a_category_or_its_major_class(category, expected):
    static = np.array([101, 106, 602]) << stats.CATEGORY_SHIFT
    records = {"static": static, "grid": np.array([0, 0, 0]), "reported_at": np.array([10.0, 10.0, 10.0])}
    keys = logic.case_keys(records, [E], category=category, targets=[EAST],
                           month_start=datetime.fromtimestamp(5, ZoneInfo("UTC")))
    assert keys.tolist() == expected


def test_a_draft_is_tidied_and_the_lead_is_not_its_own_co_department():
    draft = logic.check_draft(logic.TopicDraft(" 题 ", "0101", (EAST, EAST, " "), "2026-04", "CGW", ("CGW", "GA")))
    assert (draft.title, draft.targets, draft.co_departments) == ("题", (EAST,), ("GA",))
    with pytest.raises(InvalidInput) as err:
        logic.check_draft(logic.TopicDraft("题", "0101", (EAST,), "1999-01", "CGW"))
    assert err.value.field == "month"
