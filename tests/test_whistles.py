"""Whistles (吹哨报到) through the API: who may whistle (street, community, department), the whistle
opening again when a case goes back to work, the list and the detail scoped like cases, 报到及时率
from events (excused and not yet due included), and the whistler's scores.

The tiny district (tests/geometries.py): the east street 110101002 has the communities
110101002001 (south, the EAST point) and 110101002002 (north, the NORTH point); WEST is in the
west street. 0101 cases are led by CGW with CGZF assisting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from geo.domain import whistles as rules

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002
NORTH = {"lon": 116.3175, "lat": 39.9150}  # grid 110101002002002, the same street
WEST = {"lon": 116.3025, "lat": 39.9025}  # grid 110101001001001

ROLES = {  # name: (role, scope, department)
    "leader": ("street_leader", "110101002", None),
    "west_leader": ("street_leader", "110101001", None),
    "community": ("community_leader", "110101002001", None),
    "north_community": ("community_leader", "110101002002", None),
    "worker": ("grid_worker", "110101002001002", None),
    "cgw": ("department_staff", "", "CGW"),
    "cgzf": ("department_staff", "", "CGZF"),
    "ga": ("department_staff", "", "GA"),
    "hbj": ("department_staff", "", "HBJ"),
    "planner": ("planner", "110101002", None),
    "west_planner": ("planner", "110101001", None),
    "hotline": ("hotline", "110101", None),
    "other_hotline": ("hotline", "110102", None),
    "admin": ("admin", "", None),
}


@pytest.fixture
def p(client_as, routed):
    return {name: client_as(*spec) for name, spec in ROLES.items()}


def new_case(p, where=EAST, category="0101", by="leader") -> str:
    who = {"leader": "leader", "west": "west_leader"}.get(by, by)
    resp = p[who].post("/api/cases", json={**where, "category": category})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def whistle(client, cases, lead="HBJ", co=(), reason="综合执法"):
    return client.post("/api/whistles", json={"case_ids": list(cases), "lead_department": lead,
                                              "co_departments": list(co), "reason": reason})


def act(client, case, action, **body):
    resp = client.post(f"/api/cases/{case}/actions", json={"action": action, **body})
    assert resp.status_code == 200, (action, resp.get_json())
    return resp


def resolve(p, case, *, dispatch=True):
    if dispatch:
        act(p["leader"], case, "dispatch")
    for step in ("sign", "start", "resolve"):
        act(p["cgw"], case, step, note="已处理" if step == "resolve" else "")


def actions_of(client, case):
    return [e["action"] for e in client.get(f"/api/cases/{case}/events").get_json()["events"]]


# --- who may whistle -------------------------------------------------------------------------------


def test_a_street_whistle_records_its_street(p):
    w = whistle(p["leader"], [new_case(p)])
    assert w.status_code == 201
    body = w.get_json()
    assert (body["whistler_role"], body["whistler_area"], body["whistler_department"]) == (
        "street_leader", "110101002", None)
    assert body["round"] == 1 and [s["state"] for s in body["summons"]] == ["pending"]


def test_a_community_leader_whistles_for_cases_of_their_community(p):
    w = whistle(p["community"], [new_case(p, EAST)])
    assert w.status_code == 201, w.get_json()
    assert (w.get_json()["whistler_role"], w.get_json()["whistler_area"]) == ("community_leader", "110101002001")


@pytest.mark.parametrize(("who", "where"), [("community", NORTH), ("north_community", EAST)])
def test_a_community_leader_may_not_whistle_outside_their_community(p, who, where):
    resp = whistle(p[who], [new_case(p, where)])
    assert resp.status_code == 404  # outside their sight: not revealed


def test_a_department_whistles_for_cases_it_leads_and_summons_other_departments(p):
    case = new_case(p)
    w = whistle(p["cgw"], [case], lead="HBJ", co=["GA"])
    assert w.status_code == 201, w.get_json()
    body = w.get_json()
    assert (body["whistler_role"], body["whistler_area"], body["whistler_department"]) == (
        "department_staff", None, "CGW")
    assert [s["department_code"] for s in body["summons"]] == ["HBJ", "GA"]


def test_a_department_whistle_does_not_summon_its_own_department(p):
    resp = whistle(p["cgw"], [new_case(p)], lead="CGW")
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "own_department"


@pytest.mark.parametrize(("who", "status"), [
    ("cgzf", 403),  # assists: sees the case, does not lead it
    ("hbj", 404),  # not involved: does not see it
    ("hotline", 403), ("worker", 403), ("planner", 403), ("admin", 403)])
def test_who_else_may_not_whistle(p, who, status):
    assert whistle(p[who], [new_case(p)], lead="GA").status_code == status


# --- 事不完、人不撤: closing and opening again ------------------------------------------------------------


def test_the_whistle_opens_again_when_a_case_goes_back_to_rework(p, routed):
    case = new_case(p)
    w = whistle(p["leader"], [case]).get_json()
    resolve(p, case)
    assert p["leader"].get(f"/api/whistles/{w['id']}").get_json()["status"] == "closed"
    act(p["leader"], case, "reject_check", note="还有散落垃圾")
    again = p["leader"].get(f"/api/whistles/{w['id']}").get_json()
    assert (again["status"], again["round"], again["closed_at"]) == ("open", 2, None)
    events = p["leader"].get(f"/api/cases/{case}/events").get_json()["events"]
    reopened = [e for e in events if e["action"] == "whistle_reopen"]
    assert [e["details"] for e in reopened] == [{"whistle_id": w["id"], "round": 2}]
    assert reopened[0]["actor_role"] == "street_leader" and reopened[0]["to_status"] is None
    outbox = routed.execute(text("SELECT recipient, payload FROM outbox WHERE kind = 'whistle_reopen'")).all()
    assert outbox == [("HBJ", {"whistle": w["id"], "round": 2})]  # the department is called back
    act(p["cgw"], case, "resolve", note="已处理")
    assert p["leader"].get(f"/api/whistles/{w['id']}").get_json()["status"] == "closed"
    assert [a for a in actions_of(p["leader"], case) if a.startswith("whistle_")] == [
        "whistle_close", "whistle_reopen", "whistle_close"]


def test_the_whistle_opens_again_when_a_closed_case_is_reopened(p):
    case = new_case(p)
    w = whistle(p["leader"], [case]).get_json()
    resolve(p, case)
    act(p["leader"], case, "check")
    act(p["leader"], case, "close")
    assert p["leader"].get(f"/api/whistles/{w['id']}").get_json()["status"] == "closed"
    act(p["hotline"], case, "callback", contacted=True, solved=False, satisfied=False)
    act(p["leader"], case, "reopen", note="群众不满意")
    assert p["leader"].get(f"/api/whistles/{w['id']}").get_json()["status"] == "open"


def test_a_case_back_at_work_leaves_an_open_whistle_as_it_is(p):
    first, second = new_case(p), new_case(p)
    w = whistle(p["leader"], [first, second]).get_json()
    resolve(p, first)  # the second is not resolved: the whistle stays open
    act(p["leader"], first, "reject_check", note="返工")
    detail = p["leader"].get(f"/api/whistles/{w['id']}").get_json()
    assert (detail["status"], detail["round"]) == ("open", 1)
    assert not [a for a in actions_of(p["leader"], first) if a in ("whistle_close", "whistle_reopen")]


# --- the list and the detail -------------------------------------------------------------------------


@pytest.fixture
def four(p):
    """Four open whistles: the street's in the south and the north community, CGW's department whistle
    in the south (summoning GA), the west street's (summoning HBJ)."""
    out = {
        "east": whistle(p["leader"], [new_case(p, EAST)], lead="HBJ").get_json()["id"],
        "north": whistle(p["leader"], [new_case(p, NORTH)], lead="GA").get_json()["id"],
        "dept": whistle(p["cgw"], [new_case(p, EAST)], lead="GA").get_json()["id"],
        "west": whistle(p["west_leader"], [new_case(p, WEST, by="west")], lead="HBJ").get_json()["id"],
    }
    assert all(isinstance(v, int) for v in out.values())
    return out


@pytest.mark.parametrize(("who", "expected"), [
    ("leader", {"east", "north", "dept"}), ("west_leader", {"west"}),
    ("community", {"east", "dept"}), ("north_community", {"north"}), ("worker", {"east", "dept"}),
    ("cgw", {"dept"}),  # its own whistle; it leads the east case too, but is not summoned there
    ("hbj", {"east", "west"}), ("ga", {"north", "dept"}), ("cgzf", set()),
    ("planner", {"east", "north", "dept"}), ("west_planner", {"west"}),
    ("hotline", {"east", "north", "dept", "west"}), ("other_hotline", set()),
    ("admin", {"east", "north", "dept", "west"})])
def test_the_list_is_scoped_like_cases(p, four, who, expected):
    resp = p[who].get("/api/whistles")
    assert resp.status_code == 200
    names = {v: k for k, v in four.items()}
    assert {names[w["id"]] for w in resp.get_json()["whistles"]} == expected


def test_the_list_gives_cases_summons_and_check_in_state(p, four):
    assert p["hbj"].post(f"/api/whistles/{four['east']}/reports", json=EAST).status_code == 201
    listed = {w["id"]: w for w in p["leader"].get("/api/whistles").get_json()["whistles"]}
    east = listed[four["east"]]
    assert east["reason"] == "综合执法" and len(east["cases"]) == 1
    assert (east["cases"][0]["lon"], east["cases"][0]["lat"]) == pytest.approx((EAST["lon"], EAST["lat"]))
    (summons,) = east["summons"]
    assert (summons["department_code"], summons["department_name"], summons["state"], summons["late"],
            summons["excused"]) == ("HBJ", "生态环境局", "on_time", False, False)
    assert summons["reported_at"] and summons["due_at"]
    assert [s["state"] for s in listed[four["north"]]["summons"]] == ["pending"]


def test_the_list_filters_by_status_and_pages(p):
    done, busy, more = new_case(p), new_case(p), new_case(p)
    closed = whistle(p["leader"], [done]).get_json()["id"]
    opened = [whistle(p["leader"], [c]).get_json()["id"] for c in (busy, more)]
    resolve(p, done)
    ids = {status: [w["id"] for w in p["leader"].get(f"/api/whistles?status={status}").get_json()["whistles"]]
           for status in ("open", "closed", "all")}
    assert ids == {"open": opened[::-1], "closed": [closed], "all": [*opened[::-1], closed]}
    assert p["leader"].get("/api/whistles").get_json()["whistles"][0]["id"] == opened[1]  # default: open
    first = p["leader"].get("/api/whistles?status=all&limit=2").get_json()
    assert [w["id"] for w in first["whistles"]] == opened[::-1] and first["next"]
    rest = p["leader"].get(f"/api/whistles?status=all&limit=2&cursor={first['next']}").get_json()
    assert [w["id"] for w in rest["whistles"]] == [closed] and rest["next"] is None
    assert p["leader"].get("/api/whistles?status=gone").status_code == 422
    assert p["leader"].get("/api/whistles?limit=0").status_code == 422


def test_the_detail_shows_only_the_cases_and_events_the_user_may_see(p):
    south, north = new_case(p, EAST), new_case(p, NORTH)
    w = whistle(p["leader"], [south, north]).get_json()
    for who, expected in (("community", {south}), ("north_community", {north}), ("leader", {south, north}),
                          ("hbj", {south, north})):
        detail = p[who].get(f"/api/whistles/{w['id']}").get_json()
        assert {c["id"] for c in detail["cases"]} == expected, who
        assert {e["case"] for e in detail["timeline"]} == expected, who
    assert p["west_leader"].get(f"/api/whistles/{w['id']}").status_code == 404


# --- 报到及时率 from events ---------------------------------------------------------------------------------


def _department_row(p, code):
    rows = p["planner"].get("/api/stats/departments.json").get_json()["rows"]
    return next(r for r in rows if r["code"] == code)


def _rate(p, code):
    row = _department_row(p, code)
    return row["checked_in_on_time"], row["summons"], row["check_in_rate"]


def test_the_check_in_rate_counts_events_not_the_summons_table(app, p, routed):
    app.config["GRIDMAP_WHISTLE_ARRIVAL_MINUTES"] = 1e-6  # due at once: a summons without check-in is missed
    case = new_case(p)
    whistle(p["leader"], [case], lead="HBJ", co=["GA"])
    assert p["hbj"].post(f"/api/whistles/{whistle_id(p)}/reports", json=EAST).status_code == 201
    assert _rate(p, "HBJ") == (0, 1, 0.0)  # checked in after its due time: late
    assert _rate(p, "GA") == (0, 1, 0.0)  # never came: missed
    # The whistle tables can be edited without a trace; the measure does not move.
    routed.execute(text("UPDATE whistle_summons SET late = false, reported_at = due_at"))
    assert _rate(p, "HBJ") == (0, 1, 0.0) and _rate(p, "GA") == (0, 1, 0.0)


def whistle_id(p) -> int:
    return p["leader"].get("/api/whistles?status=all").get_json()["whistles"][0]["id"]


def test_a_summons_not_yet_due_is_not_counted_and_an_on_time_check_in_is(app, p):
    app.config["GRIDMAP_WHISTLE_ARRIVAL_MINUTES"] = 60
    whistle(p["leader"], [new_case(p)], lead="HBJ", co=["GA"])
    assert _rate(p, "GA")[1:] == (0, None)  # pending: not in the denominator yet
    assert p["hbj"].post(f"/api/whistles/{whistle_id(p)}/reports", json=EAST).status_code == 201
    assert _rate(p, "HBJ") == (1, 1, 1.0)


def test_a_summons_whose_whistle_closed_before_its_due_time_is_excused(app, p):
    app.config["GRIDMAP_WHISTLE_ARRIVAL_MINUTES"] = 60
    case = new_case(p)
    whistle(p["leader"], [case], lead="HBJ", co=["GA"])
    assert p["ga"].post(f"/api/whistles/{whistle_id(p)}/reports", json=EAST).status_code == 201
    resolve(p, case)  # the whistle closes well before HBJ's due time; HBJ never came
    assert _rate(p, "HBJ")[1:] == (0, None)
    assert _rate(p, "GA") == (1, 1, 1.0)
    listed = p["leader"].get("/api/whistles?status=closed").get_json()["whistles"][0]
    assert {s["department_code"]: s["state"] for s in listed["summons"]} == {"HBJ": "excused", "GA": "on_time"}


def test_boundary_rows_count_event_summons_too(app, p):
    app.config["GRIDMAP_WHISTLE_ARRIVAL_MINUTES"] = 60
    whistle(p["leader"], [new_case(p)], lead="HBJ")
    assert p["hbj"].post(f"/api/whistles/{whistle_id(p)}/reports", json=EAST).status_code == 201
    rows = p["planner"].get("/api/stats/street.json").get_json()["rows"]
    east = next(r for r in rows if r["code"] == "110101002")
    assert (east["checked_in_on_time"], east["summons"], east["check_in_rate"]) == (1, 1, 1.0)


@pytest.mark.parametrize(("checked_in", "history", "as_of", "expected"), [
    (-5, [], 60, "on_time"), (0, [], 60, "on_time"), (5, [], 60, "late"), (None, [], 60, "missed"),
    (None, [], -1, "pending"), (None, [(-10, rules.CLOSE)], 60, "excused"),
    (None, [(-10, rules.CLOSE), (-5, rules.REOPEN)], 60, "missed"),  # open again before its due time
    (-20, [(-10, rules.CLOSE)], 60, "on_time"), (None, [(10, rules.CLOSE)], 60, "missed")])
def test_summons_outcomes(checked_in, history, as_of, expected):
    due = datetime(2026, 3, 10, 3, 30, tzinfo=UTC)
    minutes = lambda m: due + timedelta(minutes=m)  # noqa: E731
    got = rules.summons_outcome(due, None if checked_in is None else minutes(checked_in),
                                [(minutes(m), action) for m, action in history], as_of=minutes(as_of))
    assert got == expected


# --- scores (街道考核部门) -----------------------------------------------------------------------------


def score(client, whistle_id, department="HBJ", **values):
    body = {"department": department, "arrival": 5, "cooperation": 4, "result": 3, **values}
    return client.post(f"/api/whistles/{whistle_id}/scores", json=body)


def test_the_whistler_scores_each_summoned_department_once_per_round(p):
    case = new_case(p)
    w = whistle(p["leader"], [case], lead="HBJ", co=["GA"]).get_json()["id"]
    assert score(p["leader"], w).status_code == 409  # still open
    resolve(p, case)
    offered = p["leader"].get(f"/api/cases/{case}/actions").get_json()["scores"]
    assert [(s["whistle_id"], s["round"], s["department"]) for s in offered] == [(w, 1, "HBJ"), (w, 1, "GA")]
    first = score(p["leader"], w, note="到得快")
    assert first.status_code == 201, first.get_json()
    assert (first.get_json()["round"], first.get_json()["arrival"]) == (1, 5)
    again = score(p["leader"], w, arrival=1)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_scored"
    assert [s["department"] for s in p["leader"].get(f"/api/cases/{case}/actions").get_json()["scores"]] == ["GA"]
    events = [e for e in p["leader"].get(f"/api/cases/{case}/events").get_json()["events"]
              if e["action"] == "whistle_score"]
    assert [(e["details"]["department"], e["details"]["round"], e["details"]["result"], e["note"])
            for e in events] == [("HBJ", 1, 3, "到得快")]
    act(p["leader"], case, "reject_check", note="返工")  # round 2 ...
    act(p["cgw"], case, "resolve", note="已处理")
    assert score(p["leader"], w, arrival=2).status_code == 201  # ... is scored again
    listed = p["leader"].get("/api/whistles?status=closed").get_json()["whistles"][0]
    assert [(s["round"], s["department_code"]) for s in listed["scores"]] == [(1, "HBJ"), (2, "HBJ")]
    assert listed["to_score"] == ["GA"]


@pytest.mark.parametrize("values", [{"arrival": 0}, {"cooperation": 6}, {"result": "5"}, {"arrival": 4.5},
                                    {"result": True}, {"arrival": None}])
def test_scores_are_integers_from_1_to_5(p, values):
    case = new_case(p)
    w = whistle(p["leader"], [case]).get_json()["id"]
    resolve(p, case)
    resp = score(p["leader"], w, **values)
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == next(iter(values))


@pytest.mark.parametrize(("who", "status"), [
    ("west_leader", 404), ("community", 403), ("hbj", 403), ("cgw", 403), ("planner", 403), ("hotline", 403),
    ("admin", 403)])
def test_only_the_whistler_scores(p, who, status):
    case = new_case(p)
    w = whistle(p["leader"], [case]).get_json()["id"]
    resolve(p, case)
    assert score(p[who], w).status_code == status


def test_a_community_or_department_whistle_is_scored_by_its_whistler(p):
    south, led = new_case(p), new_case(p)
    by_community = whistle(p["community"], [south], lead="GA").get_json()["id"]
    by_department = whistle(p["cgw"], [led], lead="GA").get_json()["id"]
    resolve(p, south)
    resolve(p, led)
    assert score(p["leader"], by_community, "GA").status_code == 403  # the street did not whistle
    assert score(p["community"], by_community, "GA").status_code == 201
    assert score(p["cgw"], by_department, "GA").status_code == 201
    assert score(p["cgw"], by_department, "HBJ").get_json()["error"]["code"] == "not_summoned"


def test_scores_are_a_department_measure(p):
    first, second = new_case(p), new_case(p)
    one = whistle(p["leader"], [first], lead="GA").get_json()["id"]
    two = whistle(p["leader"], [second], lead="GA").get_json()["id"]
    resolve(p, first)
    resolve(p, second)
    assert score(p["leader"], one, "GA", arrival=5, cooperation=5, result=5).status_code == 201
    assert score(p["leader"], two, "GA", arrival=3, cooperation=4, result=2).status_code == 201
    ga = _department_row(p, "GA")
    assert ga["whistles_scored"] == 2
    assert ga["whistle_score"] == pytest.approx((5 + 3 + 4 + 2 + 5 + 5) / 6)
    assert (ga["arrival_score"], ga["cooperation_score"], ga["result_score"]) == (4.0, 4.5, 3.5)
    hbj = _department_row(p, "HBJ")
    assert hbj["whistles_scored"] == 0 and hbj["whistle_score"] is None
    table = p["planner"].get("/api/stats/departments.json").get_json()
    assert table["headers"]["whistle_score"] == "吹哨评分（三项平均）"
    csv = p["planner"].get("/api/stats/departments.csv").get_data().decode("utf-8-sig")
    assert "whistles_scored,whistle_score" in csv.splitlines()[0]
    street = p["planner"].get("/api/stats/street.json").get_json()
    assert "whistle_score" not in street["columns"]  # a department measure only


def test_the_migration_froze_the_score_aspects():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "geo/store/migrations/versions/0012_whistles.py"
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert tuple(rules.SCORE_ASPECTS) == migration.SCORE_ASPECTS
    assert (migration.SCORE_MIN, migration.SCORE_MAX) == (rules.SCORE_MIN, rules.SCORE_MAX)
