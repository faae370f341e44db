"""Acting on cases through the API: scenario, permissions by role and scope, audit, concurrency."""

import threading
from datetime import UTC, date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tests.conftest import load_tiny_hierarchy, load_tiny_reference, make_user

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002, street 110101002
WEST = {"lon": 116.3025, "lat": 39.9025}  # grid 110101001001001, street 110101001


def act(client, case_id, action, **body):
    return client.post(f"/api/cases/{case_id}/actions", json={"action": action, **body})


@pytest.fixture
def people(client_as, routed):
    return {
        "worker": client_as("grid_worker", "110101002001002"),
        "other_worker": client_as("grid_worker", "110101001001001"),
        "leader": client_as("street_leader", "110101002"),
        "other_leader": client_as("street_leader", "110101001"),
        "cgw": client_as("department_staff", department="CGW"),
        "cgzf": client_as("department_staff", department="CGZF"),
        "ga": client_as("department_staff", department="GA"),
        "hbj": client_as("department_staff", department="HBJ"),
        "planner": client_as("planner"),
        "admin": client_as("admin"),
        "hotline": client_as("hotline", "110101"),
    }


def test_scenario_from_pin_to_callback(people, routed):
    p = people
    created = p["worker"].post("/api/cases", json={**EAST, "category": "0101", "description": "垃圾满溢"})
    assert created.status_code == 201
    case = created.get_json()["id"]
    steps = [
        ("leader", "dispatch", {}, "dispatched"),
        ("cgw", "sign", {}, "signed"),
        ("cgw", "respond", {"note": "已电话联系诉求人"}, "responded"),
        ("cgw", "start", {}, "in_progress"),
        ("cgw", "resolve", {"note": "已清运"}, "resolved"),
        ("worker", "reject_check", {"note": "还有散落垃圾"}, "in_progress"),
        ("cgw", "resolve", {"note": "已全部清理"}, "resolved"),
        ("worker", "check", {**EAST}, "checked"),
        ("leader", "close", {}, "closed"),
        ("hotline", "callback", {"contacted": True, "solved": True, "satisfied": False}, "closed"),
        ("leader", "reopen", {"note": "群众不满意"}, "dispatched"),
    ]
    for who, action, body, status in steps:
        resp = act(p[who], case, action, **body)
        assert resp.status_code == 200, (action, resp.get_json())
        assert resp.get_json()["status"] == status
    events = p["leader"].get(f"/api/cases/{case}/events").get_json()["events"]
    assert [e["action"] for e in events] == ["receive"] + [s[1] for s in steps]
    assert [e["to_status"] for e in events][-3:] == ["closed", "closed", "dispatched"]
    callback = events[-2]
    assert callback["details"] == {"contacted": True, "solved": True, "satisfied": False}
    assert events[1]["actor_role"] == "street_leader" and "resolve_due" in events[1]["details"]
    check = events[8]
    assert (check["lon"], check["lat"]) == pytest.approx((EAST["lon"], EAST["lat"]))
    props = p["leader"].get(f"/api/cases/{case}").get_json()["properties"]
    assert props["status"] == "dispatched"


def _case(people, where=EAST, category="0101"):
    return people["leader" if where is EAST else "other_leader"].post(
        "/api/cases", json={**where, "category": category}).get_json()["id"]


@pytest.mark.parametrize(("who", "status"), [
    ("leader", 200), ("other_leader", 404), ("worker", 403), ("cgw", 403), ("planner", 403), ("admin", 403)])
def test_only_the_street_leader_of_the_street_dispatches(people, who, status):
    case = _case(people)
    assert act(people[who], case, "dispatch").status_code == status


@pytest.mark.parametrize(("who", "status"), [("cgw", 200), ("cgzf", 403), ("ga", 404), ("leader", 403)])
def test_only_the_lead_department_signs(people, who, status):
    case = _case(people)
    act(people["leader"], case, "dispatch")
    assert act(people[who], case, "sign").status_code == status


@pytest.mark.parametrize(("who", "sees"), [
    ("worker", True), ("other_worker", False), ("leader", True), ("other_leader", False),
    ("cgw", True), ("cgzf", True), ("ga", False), ("planner", True), ("admin", True)])
def test_who_sees_a_case(people, who, sees):
    case = _case(people)  # lead CGW, co CGZF, in grid 110101002001002
    assert people[who].get(f"/api/cases/{case}").status_code == (200 if sees else 404)
    listed = [f["id"] for f in people[who].get("/api/cases").get_json(force=True)["features"]]
    assert (case in listed) == sees
    assert people[who].get(f"/api/cases/{case}/events").status_code == (200 if sees else 404)


@pytest.mark.parametrize(("who", "where", "status"), [
    ("worker", EAST, 201), ("worker", WEST, 403), ("leader", WEST, 403), ("other_leader", WEST, 201),
    ("cgw", WEST, 201), ("planner", EAST, 403), ("admin", EAST, 403)])
def test_who_may_report_where(people, who, where, status):
    assert people[who].post("/api/cases", json={**where, "category": "0101"}).status_code == status


def test_unit_of_the_lead_department_acts_for_it(people, client_as):
    # 0503 in the west is GA's jurisdiction rule; the unit GA-W leads. GA staff act for their unit.
    case = people["other_leader"].post("/api/cases", json={**WEST, "category": "0503"}).get_json()
    assert case["properties"]["lead_department"] == "GA-W"
    act(people["other_leader"], case["id"], "dispatch")
    assert act(people["ga"], case["id"], "sign").status_code == 200


@pytest.mark.parametrize("endpoint", ["/api/cases", "/api/cases/x", "/api/cases/x/events",
                                      "/api/boundaries/grid.geojson", "/api/categories", "/"])
def test_every_read_needs_sign_in(anon, endpoint):
    resp = anon.get(endpoint)
    assert resp.status_code in (401, 302)
    if resp.status_code == 302:
        assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize("endpoint", ["/api/cases", "/api/cases/x/actions"])
def test_no_write_without_sign_in(anon, routed, endpoint):
    resp = anon.post(endpoint, json={**EAST, "category": "0101", "action": "dispatch"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    assert routed.execute(text("SELECT count(*) FROM cases")).scalar_one() == 0


def test_reason_missing_and_illegal_transition(people):
    case = _case(people)
    resp = act(people["leader"], case, "void")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "note"
    resp = act(people["leader"], case, "close")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "bad_state"


def test_callback_needs_the_three_answers(people):
    case = _case(people)
    resp = act(people["hotline"], case, "callback")
    assert resp.status_code == 409  # not closed yet; the answers are checked once it is


def test_events_cannot_be_changed_or_deleted(people, routed):
    _case(people)
    for sql in ("UPDATE case_event SET note = 'x'", "DELETE FROM case_event", "TRUNCATE case_event"):
        with pytest.raises(DBAPIError, match="append-only"), routed.begin_nested():
            routed.execute(text(sql))


# --- concurrency, through a real server ---------------------------------------------------------


@pytest.fixture
def live(admin_url, template_db, tmp_path):
    """A real WSGI server over a committed database with the tiny world and three users."""
    from waitress.server import create_server

    from tests.conftest import _admin, _clone
    from webmap import create_app

    name, url = _clone(admin_url, template_db)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "b")
        load_tiny_reference(session, tmp_path / "r")
        tokens = {"leader": make_user(session, "leader", "street_leader", "110101002"),
                  "cgw": make_user(session, "cgw", "department_staff", department="CGW")}
    app = create_app({"DATABASE_URL": url, "GRIDMAP_SECRET_KEY": "t", "GRIDMAP_DB_POOL_SIZE": 20})
    server = create_server(app, host="127.0.0.1", port=0, threads=20)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", tokens, engine
    server.close()
    engine.dispose()
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _post(url, token, body):
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_twenty_concurrent_identical_actions_one_success_one_event(live):
    base, tokens, engine = live
    status, case = _post(base + "/api/cases", tokens["leader"], {**EAST, "category": "0101"})
    assert status == 201
    barrier = threading.Barrier(20)
    results: list[int] = []

    def dispatch():
        barrier.wait()
        results.append(_post(f"{base}/api/cases/{case['id']}/actions", tokens["leader"], {"action": "dispatch"})[0])

    threads = [threading.Thread(target=dispatch) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [200] + [409] * 19
    with engine.connect() as conn:
        events = conn.execute(text("SELECT action FROM case_event e JOIN cases c ON c.id = e.case_id "
                                   "WHERE c.case_no = :no ORDER BY e.id"), {"no": case["id"]}).scalars().all()
        outbox = conn.execute(text("SELECT count(*) FROM outbox WHERE kind = 'dispatch'")).scalar_one()
    assert events == ["receive", "dispatch"] and outbox == 1


# --- whistle and report -------------------------------------------------------------------------


def test_scenario_with_a_whistle_two_departments_one_on_site_one_too_far(people, routed):
    from datetime import datetime, timedelta

    p = people
    case = p["worker"].post("/api/cases", json={**EAST, "category": "0602", "description": "夜间噪声"}).get_json()
    case_id = case["id"]
    assert case["properties"]["lead_department"] == "GA"  # the street rule for 0602 in 110101002
    dispatched = act(p["leader"], case_id, "dispatch").get_json()
    at = datetime.fromisoformat(dispatched["event"]["at"])
    due = p["leader"].get(f"/api/cases/{case_id}").get_json()["properties"]["deadlines"]
    tolerance = timedelta(seconds=2)
    assert datetime.fromisoformat(due["respond_due"]) - at == pytest.approx(timedelta(hours=24), abs=tolerance)
    assert datetime.fromisoformat(due["resolve_due"]) - at == pytest.approx(timedelta(hours=12), abs=tolerance)

    whistle = p["leader"].post("/api/whistles", json={
        "case_ids": [case_id], "lead_department": "GA", "co_departments": ["HBJ"], "reason": "综合执法"})
    assert whistle.status_code == 201, whistle.get_json()
    w = whistle.get_json()
    assert [s["department_code"] for s in w["summons"]] == ["GA", "HBJ"] and w["status"] == "open"
    near = p["ga"].post(f"/api/whistles/{w['id']}/reports", json={"lon": EAST["lon"] + 0.001, "lat": EAST["lat"]})
    assert near.status_code == 201 and 80 < near.get_json()["distance_m"] < 90 and near.get_json()["late"] is False
    again = p["ga"].post(f"/api/whistles/{w['id']}/reports", json=EAST)
    assert again.status_code == 409
    far = p["hbj"].post(f"/api/whistles/{w['id']}/reports", json={"lon": EAST["lon"] + 0.004, "lat": EAST["lat"]})
    assert far.status_code == 422 and far.get_json()["error"]["code"] == "not_on_site"

    for who, action, body, status in [
        ("ga", "sign", {}, "signed"), ("ga", "start", {}, "in_progress"),
        ("ga", "resolve", {"note": "已处理"}, "resolved"),
        ("worker", "check", {}, "checked"), ("leader", "close", {}, "closed"),
        ("hotline", "callback", {"contacted": True, "solved": True, "satisfied": True}, "closed"),
    ]:
        resp = act(p[who], case_id, action, **body)
        assert resp.status_code == 200 and resp.get_json()["status"] == status, resp.get_json()
    timeline = p["leader"].get(f"/api/whistles/{w['id']}").get_json()
    assert timeline["status"] == "closed"
    assert [e["action"] for e in timeline["timeline"]] == [
        "receive", "dispatch", "whistle", "summons", "summons", "check_in", "sign", "start", "resolve", "whistle_close",
        "check", "close", "callback"]
    checkins = [s for s in timeline["summons"] if s["reported_at"]]
    assert [s["department_code"] for s in checkins] == ["GA"]


def test_check_in_too_far_is_refused_and_nothing_recorded(people, client_as, routed):
    case_id = people["leader"].post("/api/cases", json={**EAST, "category": "0602"}).get_json()["id"]
    w = people["leader"].post("/api/whistles", json={"case_ids": [case_id], "lead_department": "GA",
                                                    "co_departments": ["HBJ"], "reason": "群众诉求"}).get_json()
    hbj = client_as("department_staff", department="HBJ")
    far = hbj.post(f"/api/whistles/{w['id']}/reports", json={"lon": EAST["lon"] + 0.004, "lat": EAST["lat"]})
    assert far.status_code == 422 and far.get_json()["error"]["code"] == "not_on_site"
    assert "米" in far.get_json()["error"]["message"]
    summons = people["leader"].get(f"/api/whistles/{w['id']}").get_json()["summons"]
    assert all(s["reported_at"] is None for s in summons)
    outsider = people["cgw"].post(f"/api/whistles/{w['id']}/reports", json=EAST)
    assert outsider.status_code == 403


def test_whistle_closes_only_when_all_its_cases_are_resolved(people):
    p = people
    first = p["leader"].post("/api/cases", json={**EAST, "category": "0101"}).get_json()["id"]
    second = p["leader"].post("/api/cases", json={**EAST, "category": "0101"}).get_json()["id"]
    w = p["leader"].post("/api/whistles", json={"case_ids": [first, second], "lead_department": "CGW",
                                               "reason": "重点工作"}).get_json()
    for case_id in (first, second):
        act(p["leader"], case_id, "dispatch")
        for step in ("sign", "start", "resolve"):
            assert act(p["cgw"], case_id, step, note="已处理").status_code == 200
        status = p["leader"].get(f"/api/whistles/{w['id']}").get_json()["status"]
        assert status == ("open" if case_id == first else "closed")
    timeline = p["leader"].get(f"/api/whistles/{w['id']}").get_json()["timeline"]
    assert [e["action"] for e in timeline].count("whistle") == 2


@pytest.mark.parametrize(("who", "status"), [("leader", 201), ("other_leader", 404), ("worker", 403),
                                              ("cgw", 201), ("cgzf", 403), ("planner", 403)])
def test_who_may_whistle(people, who, status):
    case_id = _case(people)  # led by CGW, CGZF assists
    resp = people[who].post("/api/whistles", json={"case_ids": [case_id], "lead_department": "HBJ",
                                                   "reason": "群众诉求"})
    assert resp.status_code == status


def test_late_check_in_is_flagged(session, routed):
    from datetime import datetime, timedelta

    from geo.services import accounts, cases, whistles

    leader = accounts.create_user(session, "lead1", role="street_leader", scope="110101002", password="password-1")
    ga = accounts.create_user(session, "ga01", role="department_staff", department="GA", password="password-1")
    case = cases.create_case(session, cases.NewCase(lon=EAST["lon"], lat=EAST["lat"], category="0602"), user=leader)
    t0 = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    w = whistles.blow(session, leader, case_nos=[case["id"]], lead="GA", co=[], reason="应急处置", now=t0)
    late = whistles.report(session, ga, w["id"], lon=EAST["lon"], lat=EAST["lat"], now=t0 + timedelta(minutes=31))
    assert late["late"] is True and late["distance_m"] == 0


# --- deadlines, overdue, outbox -------------------------------------------------------------------


def test_overdue_cases_are_flagged_and_filterable(people, routed):
    fresh = _case(people)
    late = _case(people)
    routed.execute(text("UPDATE cases SET dispatch_due = now() - interval '1 minute' WHERE case_no = :no"),
                   {"no": late})
    overdue = people["leader"].get("/api/cases?overdue=true").get_json(force=True)["features"]
    assert [f["id"] for f in overdue] == [late] and overdue[0]["properties"]["overdue"] is True
    on_time = people["leader"].get("/api/cases?overdue=false").get_json(force=True)["features"]
    assert [f["id"] for f in on_time] == [fresh]


def test_outbox_drain_prints_dispatch_and_overdue_once(people, routed):
    from geo.services.outbox import drain

    case = _case(people)
    act(people["leader"], case, "dispatch")
    routed.execute(text("UPDATE cases SET received_at = now() - interval '3 days', "
                        "resolve_due = now() - interval '1 hour' WHERE case_no = :no"), {"no": case})
    first = drain(routed)
    assert [(r["kind"], r["recipient"], r["payload"]["case"]) for r in first] == [
        ("dispatch", "CGW", case), ("overdue", "CGW", case)]
    assert first[1]["payload"]["step"] == "resolve"
    assert drain(routed) == []  # marked sent, and the overdue step is not notified twice


def test_history_that_arrived_overdue_raises_no_notice_but_is_overdue(people, routed):
    from geo.services.outbox import drain

    drain(routed)  # whatever earlier cases raised
    case = _case(people)  # an imported ticket of last year: its clocks ran out before gridmap had it
    routed.execute(text("UPDATE cases SET reported_at = now() - interval '300 days', "
                        "dispatch_due = now() - interval '299 days', resolve_due = now() - interval '290 days' "
                        "WHERE case_no = :no"), {"no": case})
    assert [r for r in drain(routed) if r["kind"] == "overdue"] == []
    overdue = people["leader"].get("/api/cases?overdue=true").get_json(force=True)["features"]
    assert case in [f["id"] for f in overdue]


def test_working_day_calendar_moves_deadlines(session, routed, tmp_path):
    from datetime import date, datetime, timedelta, timezone

    from geo.services import accounts, cases, workflow
    from geo.services.reference import load_calendar

    (tmp_path / "cal.csv").write_text("day,kind,name\n2026-11-30,holiday,测试假日\n", encoding="utf-8")
    assert load_calendar(session, tmp_path / "cal.csv") == 1
    leader = accounts.create_user(session, "lead2", role="street_leader", scope="110101", password="password-1")
    # 0699 (其他) is complex, 15 days on a working-day clock; dispatched on Friday 27 Nov.
    case = cases.create_case(session, cases.NewCase(lon=116.3175, lat=39.9025, category="0699"), user=leader)
    friday = datetime(2026, 11, 27, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    workflow.act(session, leader, case["id"], "dispatch", now=friday)
    due = session.execute(text("SELECT resolve_due FROM cases WHERE case_no = :no"), {"no": case["id"]}).scalar_one()
    # 15 working days from Fri 27 Nov, skipping weekends and Mon 30 Nov: Mon 21 Dec.
    assert due.astimezone(friday.tzinfo).date() == date(2026, 12, 21)


@pytest.mark.parametrize(("who", "expected"), [
    ("leader", ["dispatch", "void", "note"]), ("worker", ["note"]), ("cgw", ["note"]), ("planner", []),
    ("hotline", ["dispatch", "supervise", "note"])])
def test_allowed_actions_for_a_received_case(people, who, expected):
    case = _case(people)
    got = people[who].get(f"/api/cases/{case}/actions").get_json()["actions"]
    assert [a["action"] for a in got] == expected


def test_allowed_actions_follow_the_state(people):
    case = _case(people)
    act(people["leader"], case, "dispatch")
    def offered(who):
        return [a["action"] for a in people[who].get(f"/api/cases/{case}/actions").get_json()["actions"]]

    assert offered("cgw") == ["sign", "return", "extend", "note"]
    assert offered("leader") == ["note"]
    assert offered("cgzf") == ["note"]  # a co-department adds notes, it does not move the case


def test_a_summoned_department_sees_the_case_and_is_offered_its_check_in(people, routed):
    p = people
    case_id = p["leader"].post("/api/cases", json={**EAST, "category": "0101"}).get_json()["id"]  # led by CGW
    assert p["hbj"].get(f"/api/cases/{case_id}").status_code == 404  # not involved yet
    w = p["leader"].post("/api/whistles", json={"case_ids": [case_id], "lead_department": "CGW",
                                               "co_departments": ["HBJ"], "reason": "综合执法"}).get_json()
    seen = p["hbj"].get(f"/api/cases/{case_id}")
    assert seen.status_code == 200
    assert [s["department_code"] for s in seen.get_json()["properties"]["whistles"][0]["summons"]] == ["CGW", "HBJ"]
    assert case_id in [f["id"] for f in p["hbj"].get("/api/cases").get_json()["features"]]
    options = p["hbj"].get(f"/api/cases/{case_id}/actions").get_json()
    assert options["check_ins"] == [{"whistle_id": w["id"], "department": "HBJ",
                                     "due_at": options["check_ins"][0]["due_at"]}]
    # a summoned department moves nothing; it may add notes
    assert [a["action"] for a in options["actions"]] == ["note"] and options["whistle"] is False
    assert p["hbj"].post(f"/api/whistles/{w['id']}/reports", json=EAST).status_code == 201
    assert p["hbj"].get(f"/api/cases/{case_id}/actions").get_json()["check_ins"] == []
    assert p["ga"].get(f"/api/cases/{case_id}").status_code == 404  # never summoned
    leader = p["leader"].get(f"/api/cases/{case_id}/actions").get_json()
    assert leader["whistle"] is True and leader["check_ins"] == [] and leader["photo"] is True
    assert p["planner"].get(f"/api/cases/{case_id}/actions").get_json()["photo"] is False


@pytest.mark.parametrize("local", ["2026-11-27 00:30:00", "2026-11-27 07:59:00", "2026-11-27 23:59:00"])
def test_intake_and_bulk_import_count_deadlines_with_the_stored_calendar_and_agree(session, routed, tmp_path, local):
    """Both paths count on local dates with the holiday calendar `gridmap calendar load` installed
    (intake and import used an empty calendar before), and give the same deadlines to the second."""
    from geo.services import cases, imports
    from geo.services.reference import load_calendar

    (tmp_path / "cal.csv").write_text("day,kind,name\n2026-11-30,holiday,测试假日\n", encoding="utf-8")
    load_calendar(session, tmp_path / "cal.csv")
    cases.create_case(session, cases.NewCase(lon=116.3175, lat=39.9025, category="0699", reported_at=local,
                                               source="api", external_id="A1"))
    (tmp_path / "t.csv").write_text(f"工单编号,经度,纬度,问题分类,受理时间\nB1,116.3175,39.9025,0699,{local}\n",
                                    encoding="utf-8")
    plan, _ = imports.prepare_import(session, tmp_path / "t.csv", source="12345", crs="wgs84")
    assert imports.import_batch(session, plan, next(plan.batches()))[0] == 1
    rows = session.execute(text("SELECT external_id, dispatch_due, respond_due, resolve_due FROM cases "
                                "WHERE external_id IN ('A1', 'B1') ORDER BY external_id")).all()
    assert rows[0][1:] == rows[1][1:]
    # 0699 is complex: 15 working days from Fri 27 Nov, skipping weekends and Mon 30 Nov → Mon 21 Dec.
    resolve_local = rows[0][3].astimezone(ZoneInfo("Asia/Shanghai"))
    assert (resolve_local.date(), resolve_local.strftime("%H:%M")) == (date(2026, 12, 21), local[11:16])


def test_parallel_photo_uploads_never_pass_the_per_case_limit(live):
    """Twelve uploads of three photos at once to one case: at most GRIDMAP_PHOTOS_PER_CASE (20)
    are stored (the count was not serialised: 48 of 20 landed)."""
    import urllib.error
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor
    from io import BytesIO

    from PIL import Image

    base, tokens, engine = live
    case = _post(base + "/api/cases", tokens["leader"], {**EAST, "category": "0101"})[1]["id"]
    buf = BytesIO()
    Image.new("RGB", (16, 16), "red").save(buf, "PNG")
    boundary = "gridmap-photos"
    part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode() + buf.getvalue() + b"\r\n"
    body = part * 3 + f"--{boundary}--\r\n".encode()

    def upload(_: int) -> int:
        req = urllib.request.Request(base + f"/api/cases/{case}/photos", data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {tokens['leader']}"})
        try:
            return urllib.request.urlopen(req, timeout=30).status
        except urllib.error.HTTPError as err:
            return err.code

    with ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(upload, range(12)))
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT count(*) FROM case_photo p JOIN cases c ON c.id = p.case_id "
                                   "WHERE c.case_no = :n"), {"n": case}).scalar_one()
    assert stored <= 20 and statuses.count(201) == stored // 3 and set(statuses) <= {201, 422}
