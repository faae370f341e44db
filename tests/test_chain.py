"""The 接诉即办 chain through the API (DOMAIN.md "Case lifecycle"): reassignment (改派), the street
fallback (属地兜底), extension (延期), supervision (督办), notes, the 12345 centre's callback (one per
round) and reopening only after an unsolved or unsatisfied callback — and no state in which nobody
can act."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from geo.domain.statuses import STATES, TERMINAL

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002, street 110101002
STREET = "110101002"


def act(client, case_id, action, **body):
    return client.post(f"/api/cases/{case_id}/actions", json={"action": action, **body})


def ok(resp):
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


@pytest.fixture
def people(client_as, routed, tmp_path):
    from geo.services.reference import load_departments

    # The street's own unit (a department whose code is the street code) and a department for 改派.
    (tmp_path / "more.csv").write_text(f"code,name,parent_code\n{STREET},新街口街道综合执法队,\nZJW,住建委,\n",
                                       encoding="utf-8")
    load_departments(routed, tmp_path / "more.csv")
    return {
        "worker": client_as("grid_worker", "110101002001002"),
        "community": client_as("community_leader", "110101002001"),
        "leader": client_as("street_leader", STREET),
        "other_leader": client_as("street_leader", "110101001"),
        "hotline": client_as("hotline", "110101"),
        "far_hotline": client_as("hotline", "110102"),
        "cgw": client_as("department_staff", department="CGW"),
        "cgzf": client_as("department_staff", department="CGZF"),
        "zjw": client_as("department_staff", department="ZJW"),
        "street_unit": client_as("department_staff", department=STREET),
        "planner": client_as("planner"),
        "admin": client_as("admin"),
    }


def new_case(people, category="0101"):
    resp = people["worker"].post("/api/cases", json={**EAST, "category": category})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def props(people, case_id):
    return people["leader"].get(f"/api/cases/{case_id}").get_json()["properties"]


# --- dispatch and reassign (改派) --------------------------------------------------------------------


def test_a_returned_case_is_reassigned_to_another_department(people):
    case = new_case(people)
    ok(act(people["leader"], case, "dispatch"))
    ok(act(people["cgw"], case, "return", note="不属于城管职责，应由住建委处理"))
    moved = ok(act(people["leader"], case, "dispatch", lead_department="ZJW", co_departments=["CGZF", "ZJW"]))
    assert moved["event"]["details"]["lead"] == "ZJW" and moved["event"]["details"]["previous_lead"] == "CGW"
    p = props(people, case)
    assert (p["lead_department"], p["co_departments"]) == ("ZJW", ["CGZF"])
    assert act(people["cgw"], case, "sign").status_code == 404  # no longer involved: CGW cannot see it
    ok(act(people["zjw"], case, "sign"))


def test_the_hotline_reassigns_anywhere_in_its_district_but_not_outside(people):
    case = new_case(people)
    assert act(people["far_hotline"], case, "dispatch", lead_department="ZJW").status_code == 404
    ok(act(people["hotline"], case, "dispatch", lead_department="ZJW"))
    assert props(people, case)["lead_department"] == "ZJW"


def test_an_unknown_department_is_refused_and_nothing_changes(people, routed):
    case = new_case(people)
    resp = act(people["leader"], case, "dispatch", lead_department="NOPE")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "lead_department"
    assert props(people, case)["status"] == "received"


def test_a_return_starts_a_new_dispatch_clock(people, routed):
    case = new_case(people)
    ok(act(people["leader"], case, "dispatch"))
    before = routed.execute(text("SELECT dispatch_due FROM cases WHERE case_no = :n"), {"n": case}).scalar_one()
    returned = ok(act(people["cgw"], case, "return", note="不属于我们"))
    after = routed.execute(text("SELECT dispatch_due FROM cases WHERE case_no = :n"), {"n": case}).scalar_one()
    assert after > before and datetime.fromisoformat(returned["event"]["details"]["dispatch_due"]) == after


# --- street fallback (属地兜底) -----------------------------------------------------------------------


def test_a_street_fallback_case_is_walked_from_receipt_to_callback_by_the_street(people):
    case = new_case(people, category="0699")  # no duty rule covers 0699
    assert props(people, case)["lead_department"] is None
    ok(act(people["leader"], case, "dispatch"))
    assert [a["action"] for a in people["leader"].get(f"/api/cases/{case}/actions").get_json()["actions"]][:2] == [
        "sign", "return"]
    ok(act(people["street_unit"], case, "sign"))  # the street's own unit takes the lead steps
    ok(act(people["leader"], case, "start"))
    ok(act(people["leader"], case, "resolve", note="街道已处置"))
    ok(act(people["worker"], case, "check"))
    ok(act(people["leader"], case, "close"))
    ok(act(people["hotline"], case, "callback", contacted=True, solved=True, satisfied=True))
    assert props(people, case)["status"] == "closed"


def test_a_fallback_case_is_not_led_by_another_street_or_an_uninvolved_department(people):
    case = new_case(people, category="0699")
    ok(act(people["leader"], case, "dispatch"))
    assert act(people["other_leader"], case, "sign").status_code == 404
    assert act(people["cgw"], case, "sign").status_code == 404


def test_the_street_redispatches_a_fallback_case_to_a_department(people):
    case = new_case(people, category="0699")
    ok(act(people["leader"], case, "dispatch"))
    ok(act(people["leader"], case, "return", note="需要住建委处理"))
    ok(act(people["leader"], case, "dispatch", lead_department="ZJW"))
    ok(act(people["zjw"], case, "sign"))


# --- extension, supervision, notes ----------------------------------------------------------------


def _handling(people):
    case = new_case(people)
    ok(act(people["leader"], case, "dispatch"))
    ok(act(people["cgw"], case, "sign"))
    return case


def test_an_extension_moves_the_resolve_deadline_only_when_approved(people, routed):
    case = _handling(people)
    due = datetime.fromisoformat(props(people, case)["deadlines"]["resolve_due"])
    wanted = (due + timedelta(days=5)).isoformat()
    ok(act(people["cgw"], case, "extend", note="需要协调物业", resolve_due=wanted))
    assert props(people, case)["deadlines"]["resolve_due"] == due.isoformat()  # asked, not yet moved
    assert act(people["cgw"], case, "extend", note="再延", resolve_due=wanted).status_code == 409  # one at a time
    assert act(people["cgw"], case, "approve_extension").status_code == 403  # the department cannot approve
    ok(act(people["leader"], case, "approve_extension"))
    assert datetime.fromisoformat(props(people, case)["deadlines"]["resolve_due"]) == datetime.fromisoformat(wanted)
    outbox = routed.execute(text("SELECT kind, recipient FROM outbox ORDER BY id")).all()
    assert ("extension_request", STREET) in outbox and ("extension_decision", "CGW") in outbox


def test_a_denied_extension_keeps_the_deadline(people):
    case = _handling(people)
    due = props(people, case)["deadlines"]["resolve_due"]
    later = (datetime.fromisoformat(due) + timedelta(days=3)).isoformat()
    ok(act(people["cgw"], case, "extend", note="需要协调", resolve_due=later))
    assert act(people["hotline"], case, "deny_extension").status_code == 422  # a reason is needed
    ok(act(people["hotline"], case, "deny_extension", note="时限内可以完成"))
    assert props(people, case)["deadlines"]["resolve_due"] == due
    assert act(people["leader"], case, "approve_extension").status_code == 409  # nothing pending


@pytest.mark.parametrize("resolve_due", [None, "2020-01-01T00:00:00+08:00", "2030-01-01T00:00:00"])
def test_an_extension_needs_a_later_deadline_with_a_zone(people, resolve_due):
    case = _handling(people)
    resp = act(people["cgw"], case, "extend", note="理由", resolve_due=resolve_due)
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "resolve_due"


def test_supervision_by_the_hotline_tells_everyone_involved(people, routed):
    case = _handling(people)
    assert act(people["leader"], case, "supervise", note="加快").status_code == 403
    ok(act(people["hotline"], case, "supervise", note="群众反复来电，请加快办理"))
    told = {r for (r,) in routed.execute(text("SELECT recipient FROM outbox WHERE kind = 'supervision'"))}
    assert told == {"CGW", "CGZF", STREET}
    assert props(people, case)["status"] == "signed"


def test_a_co_department_adds_a_note_and_the_lead_is_told(people, routed):
    case = _handling(people)
    noted = ok(act(people["cgzf"], case, "note", note="执法队已到现场取证"))
    assert noted["status"] == "signed" and noted["event"]["note"] == "执法队已到现场取证"
    assert routed.execute(text("SELECT recipient FROM outbox WHERE kind = 'note'")).scalar_one() == "CGW"
    assert act(people["cgzf"], case, "note").status_code == 422  # an empty note says nothing
    assert act(people["planner"], case, "note", note="看看").status_code == 403


def test_resolve_needs_a_result(people):
    case = _handling(people)
    ok(act(people["cgw"], case, "start"))
    resp = act(people["cgw"], case, "resolve")
    assert resp.status_code == 422 and "办结结果" in resp.get_json()["error"]["message"]


# --- callback (回访) and reopen (重办) -----------------------------------------------------------------


def _closed(people):
    case = _handling(people)
    ok(act(people["cgw"], case, "start"))
    ok(act(people["cgw"], case, "resolve", note="已处理"))
    ok(act(people["worker"], case, "check"))
    ok(act(people["leader"], case, "close"))
    return case


def test_the_street_never_records_its_own_callback(people):
    case = _closed(people)
    resp = act(people["leader"], case, "callback", contacted=True, solved=True, satisfied=True)
    assert resp.status_code == 403


def test_one_callback_per_round_and_reopen_only_after_a_bad_one(people):
    case = _closed(people)
    assert act(people["leader"], case, "reopen", note="重办").status_code == 409  # no callback yet
    ok(act(people["hotline"], case, "callback", contacted=True, solved=False, satisfied=False))
    second = act(people["hotline"], case, "callback", contacted=True, solved=True, satisfied=True)
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "callback_done"
    ok(act(people["hotline"], case, "reopen", note="群众反映未解决"))
    # a new round: the lead department works it again and the centre calls back again
    ok(act(people["cgw"], case, "sign"))
    ok(act(people["cgw"], case, "start"))
    ok(act(people["cgw"], case, "resolve", note="已彻底处理"))
    ok(act(people["worker"], case, "check"))
    ok(act(people["leader"], case, "close"))
    ok(act(people["hotline"], case, "callback", contacted=True, solved=True, satisfied=True))


def test_a_satisfied_callback_cannot_be_reopened(people):
    case = _closed(people)
    ok(act(people["hotline"], case, "callback", contacted=True, solved=True, satisfied=True))
    resp = act(people["leader"], case, "reopen", note="再办一次")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "callback_satisfied"


# --- nobody is ever stuck -------------------------------------------------------------------------

_PATHS = {  # how to bring a case into each state: (who, action, body) from received
    "received": [],
    "dispatched": [("leader", "dispatch", {})],
    "returned": [("leader", "dispatch", {}), ("lead", "return", {"note": "不是我们的"})],
    "signed": [("leader", "dispatch", {}), ("lead", "sign", {})],
    "responded": [("leader", "dispatch", {}), ("lead", "sign", {}), ("lead", "respond", {})],
    "in_progress": [("leader", "dispatch", {}), ("lead", "sign", {}), ("lead", "start", {})],
    "suspended": [("leader", "dispatch", {}), ("lead", "sign", {}), ("lead", "start", {}),
                  ("lead", "suspend", {"note": "等待审批"})],
    "resolved": [("leader", "dispatch", {}), ("lead", "sign", {}), ("lead", "start", {}),
                 ("lead", "resolve", {"note": "已处理"})],
    "checked": [("leader", "dispatch", {}), ("lead", "sign", {}), ("lead", "start", {}),
                ("lead", "resolve", {"note": "已处理"}), ("worker", "check", {})],
    "closed (no callback)": [("leader", "dispatch", {}), ("lead", "sign", {}), ("lead", "start", {}),
                             ("lead", "resolve", {"note": "已处理"}), ("worker", "check", {}),
                             ("leader", "close", {})],
    "closed (unsatisfied)": [("leader", "dispatch", {}), ("lead", "sign", {}), ("lead", "start", {}),
                             ("lead", "resolve", {"note": "已处理"}), ("worker", "check", {}),
                             ("leader", "close", {}),
                             ("hotline", "callback", {"contacted": True, "solved": False, "satisfied": False})],
}
#: Actions that only record (a note, a supervision) do not move a case forward.
_RECORDS = {"note", "supervise"}


def test_the_paths_reach_every_state():
    assert {p.split(" ")[0] for p in _PATHS} | set(TERMINAL) == set(STATES)


@pytest.mark.parametrize("category", ["0101", "0699"], ids=["department-led", "street-fallback"])
@pytest.mark.parametrize("state", sorted(_PATHS))
def test_some_role_has_a_way_forward_from_every_open_state(people, category, state):
    case = new_case(people, category=category)
    lead = "cgw" if category == "0101" else "street_unit"
    for who, action, body in _PATHS[state]:
        ok(act(people[lead if who == "lead" else who], case, action, **body))
    forward = {(who, a["action"]) for who, client in people.items()
               for a in client.get(f"/api/cases/{case}/actions").get_json(force=True).get("actions", [])
               if a["action"] not in _RECORDS}
    if state == "closed (no callback)":
        assert ("hotline", "callback") in forward
    else:
        assert forward, f"nobody can move a {category} case in {state}"


@pytest.mark.parametrize("where", [{"lon": 1e308, "lat": 39.9}, {"lon": 116.3, "lat": 91},
                                   {"lon": 1e30, "lat": 1e30, "crs": "EPSG:4548"}])
def test_a_position_on_an_action_is_checked_like_intake_and_nothing_is_stored(people, routed, where):
    """An action's place was stored unchecked (1e308, 91); a projected CRS given degrees lands off
    the globe. Each is refused naming the field, and the case does not move."""
    case = new_case(people)
    resp = act(people["leader"], case, "dispatch", **where)
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] in ("lon", "lat")
    assert props(people, case)["status"] == "received"


def test_nearby_and_the_duplicate_conflict_reveal_only_cases_in_scope(people):
    case = new_case(people)
    query = f"/api/cases/nearby?lon={EAST['lon']}&lat={EAST['lat']}&category=0101"
    mine = people["leader"].get(query).get_json()["possible_duplicates"]
    assert [d["id"] for d in mine] == [case] and "grid_code" not in mine[0]
    assert people["other_leader"].get(query).get_json()["possible_duplicates"] == []
    assert people["zjw"].get(query).get_json()["possible_duplicates"] == []  # not its case
    body = {**EAST, "category": "0101", "source": "wechat", "external_id": "W-1"}
    assert people["leader"].post("/api/cases", json=body).status_code == 201
    again = people["zjw"].post("/api/cases", json=body)
    message = again.get_json()["error"]["message"]
    assert again.status_code == 409 and "W-1" in message and "110101" not in message  # no case number
    seen = people["leader"].post("/api/cases", json=body).get_json()["error"]["message"]
    assert "（案件 110101-" in seen  # the reporter who may see it is told which case it is
