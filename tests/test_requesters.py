"""The requester (诉求人) and request type (诉求类型): checks and masks (pure, scalar and vectorised
alike), intake by API / Open311 / bulk import, who sees the requester unmasked, and every place it
must never reach: lists, the map, exports, statistics, Open311 output, logs. Plus the requester
notices in the outbox and measures split by request type."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from geo.domain import requesters
from geo.domain.errors import InvalidInput
from geo.domain.workflow import LEAD_HANDLING
from tests.conftest import make_user

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002 (street 110101002), 0101 led by CGW, co CGZF
PHONE, NAME, EMAIL = "13812345678", "张三丰", "zhangsan@example.com"
REQUESTER = {"requester_name": NAME, "requester_phone": "+86 138-1234-5678", "requester_email": EMAIL,
             "request_type": "投诉"}
#: What must never show up where the requester may not go: the phone however written, the name, the e-mail.
SECRETS = (PHONE, "1234-5678", NAME, EMAIL)


def _absent(data: bytes | str) -> list[str]:
    body = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    return [s for s in SECRETS if s in body]


# --- pure: checks and masks ---------------------------------------------------------------------

PHONES = [  # (as written, normalised or None when refused)
    ("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"), ("0086-13812345678", "13812345678"),
    ("8613812345678", "13812345678"), ("138-1234-5678", "13812345678"), ("010-65123456", "01065123456"),
    ("（010）65123456", "01065123456"), ("0755 2345 6789", "075523456789"), ("65123456", "65123456"),
    ("", None), ("12812345678", "bad"), ("1381234567", "bad"), ("138123456789", "bad"), ("abc", "bad"),
    ("010-1234567", "bad"), ("+1 415 555 0100", "bad"), ("13812345678 转 8", "bad"),
]


@pytest.mark.parametrize(("written", "expected"), PHONES)
def test_phone_is_a_mainland_number_normalised_to_digits(written, expected):
    if expected == "bad":
        with pytest.raises(InvalidInput) as refused:
            requesters.check_phone(written)
        assert refused.value.field == "requester_phone" and refused.value.code == "bad_phone"
        assert written not in refused.value.message  # personal data is not echoed
    else:
        assert requesters.check_phone(written) == expected


def test_the_import_column_checks_agree_with_the_one_case_checks():
    """Bulk import and the API apply the same rule to the same text (no second definition)."""
    def scalar(check, value):
        try:
            return check(value), False
        except InvalidInput:
            return None, True

    columns = {
        requesters.phone_column: (requesters.check_phone, [p for p, _ in PHONES] + [None]),
        requesters.request_type_column: (requesters.check_request_type,
                                         ["投诉", "complaint", "Complaint", " 建议 ", "", None, "表扬", "投诉建议"]),
        requesters.name_column: (requesters.check_name, [NAME, "", None, " 李四 ", "王" * 64, "王" * 65]),
        requesters.email_column: (requesters.check_email, [EMAIL, "", None, "a@b", "a b@c.cn", "x@y.cn",
                                                           "a" * 250 + "@b.cn"]),
    }
    for column, (check, values) in columns.items():
        got, bad = column(pd.Series(values, dtype=object))
        expected = [scalar(check, v) for v in values]
        assert list(zip(got.tolist(), bad.tolist(), strict=True)) == expected, column.__name__


@pytest.mark.parametrize(("written", "code"), [("咨询", "consult"), ("求助", "help"), ("投诉", "complaint"),
                                               ("举报", "report"), ("建议", "suggestion"), ("REPORT", "report")])
def test_request_type_by_chinese_name_or_code(written, code):
    assert requesters.check_request_type(written) == code


def test_a_bad_request_type_names_the_field_and_the_choices():
    with pytest.raises(InvalidInput) as refused:
        requesters.check_request_type("表扬")
    assert refused.value.field == "request_type" and refused.value.code == "bad_request_type"
    assert all(name in refused.value.message for name in requesters.REQUEST_TYPES.values())


def test_a_too_long_name_is_refused_with_the_field():
    with pytest.raises(InvalidInput) as refused:
        requesters.check_requester(name="王" * (requesters.NAME_MAX + 1))
    assert refused.value.field == "requester_name" and refused.value.code == "too_long"


@pytest.mark.parametrize(("value", "masked"), [
    ("13812345678", "138****5678"), ("01065123456", "010****3456"), ("075523456789", "075*****6789"),
    ("65123456", "****3456"), (None, None)])
def test_phone_mask_keeps_the_prefix_and_the_last_four_digits(value, masked):
    assert requesters.mask_phone(value) == masked


def test_name_and_email_masks():
    assert [requesters.mask_name(n) for n in ("张三丰", "张三", "张", "John Smith")] == [
        "张**", "张*", "张*", "J*********"]
    assert requesters.mask_email(EMAIL) == "z***@example.com"


def test_the_lead_department_handles_from_dispatch_until_resolved():
    assert LEAD_HANDLING == ("dispatched", "signed", "responded", "in_progress", "suspended")


# --- intake: the API --------------------------------------------------------------------------------


@pytest.fixture
def hotline(client_as, routed):
    return client_as("hotline", "110101")


def _create(client, **extra):
    resp = client.post("/api/cases", json={**EAST, "category": "0101", "source": "12345", **REQUESTER, **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json(force=True)


def _stored(session, case_no):
    return session.execute(text("SELECT requester_name, requester_phone, requester_email, request_type FROM cases "
                                "WHERE case_no = :no"), {"no": case_no}).one()


def test_the_api_stores_the_requester_normalised_and_the_hotline_gets_it_back(hotline, session):
    case = _create(hotline)
    assert tuple(_stored(session, case["id"])) == (NAME, PHONE, EMAIL, "complaint")
    props = case["properties"]
    assert props["requester"] == {"name": NAME, "phone": PHONE, "email": EMAIL, "masked": False}
    assert props["request_type"] == "complaint"


def test_a_case_without_a_requester_has_none(client, routed):
    resp = client.post("/api/cases", json={**EAST, "category": "0101"})
    assert resp.get_json(force=True)["properties"]["requester"] is None


@pytest.mark.parametrize(("field", "value", "code"), [
    ("requester_phone", "12345", "bad_phone"), ("request_type", "表扬", "bad_request_type"),
    ("requester_email", "not-an-email", "bad_email"), ("requester_name", "王" * 65, "invalid_input")])
def test_a_bad_requester_field_is_refused_and_nothing_is_stored(hotline, session, field, value, code):
    before = session.execute(text("SELECT count(*) FROM cases")).scalar_one()
    resp = hotline.post("/api/cases", json={**EAST, "category": "0101", **REQUESTER, field: value})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert (error["field"], error["code"]) == (field, code)
    assert session.execute(text("SELECT count(*) FROM cases")).scalar_one() == before


def test_the_openapi_document_describes_the_requester_fields(anon):
    schema = anon.get("/api/openapi.json").get_json()["components"]["schemas"]["CaseCreate"]["properties"]
    for field in ("requester_name", "requester_phone", "requester_email", "request_type"):
        assert schema[field]["description"]
    assert "complaint（投诉）" in schema["request_type"]["description"]


# --- who sees the requester unmasked --------------------------------------------------------------

USERS = {  # name: (role, scope, department)
    "worker_in": ("grid_worker", "110101002001002", None),
    "leader_in": ("street_leader", "110101002", None),
    "community_in": ("community_leader", "110101002001", None),
    "staff_lead": ("department_staff", "", "CGW"),
    "staff_co": ("department_staff", "", "CGZF"),
    "planner_in": ("planner", "110101002", None),
    "admin": ("admin", "", None),
    "hotline_in": ("hotline", "110101", None),
    "hotline_city": ("hotline", "", None),
    "hotline_out": ("hotline", "110102", None),
    "leader_out": ("street_leader", "110101001", None),
}
#: Who reads the case in full while the lead department handles it; the "out" users do not see it at all.
UNMASKED = {"staff_lead", "hotline_in", "hotline_city"}
HIDDEN = {"hotline_out", "leader_out"}
STEPS = {"received": [], "dispatched": ["dispatch"], "in_progress": ["dispatch", "sign", "respond", "start"],
         "suspended": ["dispatch", "sign", "start", "suspend"],
         "resolved": ["dispatch", "sign", "respond", "start", "resolve"]}


@pytest.fixture
def people(client_as, routed):
    return {name: client_as(*spec) for name, spec in USERS.items()}


def _move(people, case_no, steps):
    for step in steps:
        who = people["hotline_in"] if step == "dispatch" else people["staff_lead"]
        resp = who.post(f"/api/cases/{case_no}/actions", json={"action": step, "note": "原因"})
        assert resp.status_code == 200, resp.get_json()


@pytest.mark.parametrize("status", list(STEPS))
@pytest.mark.parametrize("who", list(USERS))
def test_who_sees_the_requester_unmasked(people, who, status):
    case_no = _create(people["hotline_in"])["id"]
    _move(people, case_no, STEPS[status])
    resp = people[who].get(f"/api/cases/{case_no}")
    if who in HIDDEN:
        assert resp.status_code == 404
        return
    props = resp.get_json(force=True)["properties"]
    assert props["status"] == status and props["request_type"] == "complaint"
    handling = status in LEAD_HANDLING
    if who.startswith("hotline") or (who == "staff_lead" and handling):
        assert props["requester"] == {"name": NAME, "phone": PHONE, "email": EMAIL, "masked": False}
    else:
        assert props["requester"] == {"name": "张**", "phone": "138****5678", "email": "z***@example.com",
                                      "masked": True}
        assert _absent(resp.data) == []


def test_the_unit_routed_as_lead_and_its_department_see_the_requester_while_handling(people, client_as, session,
                                                                                      tmp_path):
    import geopandas as gpd
    import shapely

    from geo.services.reference import load_departments
    from tests import geometries as g

    units = gpd.GeoDataFrame({"code": ["CGW-E"], "name": ["东城管所"], "parent_code": ["CGW"]},
                             geometry=[shapely.box(*g.STREETS["110101002"])], crs="EPSG:4326")
    load_departments(session, g.write(units, tmp_path / "units.geojson"))
    case = _create(people["hotline_in"])
    assert case["properties"]["lead_department"] == "CGW-E"  # the unit whose jurisdiction holds the point
    _move(people, case["id"], ["dispatch"])
    for staff in (client_as("department_staff", department="CGW-E"), people["staff_lead"]):
        assert staff.get(f"/api/cases/{case['id']}").get_json(force=True)["properties"]["requester"]["masked"] is False


# --- never in lists, the map, exports, statistics, Open311 or logs -------------------------------------


def test_lists_the_map_and_nearby_never_carry_the_requester(hotline):
    case_no = _create(hotline)["id"]
    for url in ("/api/cases", "/api/cases?source=12345", "/api/cases/map?zoom=16", "/api/cases/map?zoom=12",
                f"/api/cases/nearby?lon={EAST['lon']}&lat={EAST['lat']}&category=0101",
                f"/api/cases/{case_no}/events", f"/api/boundaries/search?q={PHONE}"):
        resp = hotline.get(url)
        assert resp.status_code == 200, url
        assert _absent(resp.data) == [], url
    listed = hotline.get("/api/cases").get_json(force=True)["features"][0]["properties"]
    assert "requester" not in listed and listed["request_type"] == "complaint"


@pytest.mark.parametrize("fmt", ["csv", "geojson", "gpkg"])
def test_case_exports_carry_the_request_type_never_the_requester(hotline, session, tmp_path, fmt):
    from geo.domain.filters import CaseFilters
    from geo.services.cases import export_cases

    _create(hotline)
    path = tmp_path / f"cases.{fmt}"
    assert export_cases(session, path, fmt, filters=CaseFilters()) == 1
    assert _absent(path.read_bytes()) == []
    assert b"complaint" in path.read_bytes()


def _readable(data: bytes, fmt: str) -> bytes | str:
    """What a search can look into: an XLSX is a zip, so its cells are read out."""
    if fmt != "xlsx":
        return data
    from io import BytesIO

    import openpyxl

    sheet = openpyxl.load_workbook(BytesIO(data)).active
    return "\n".join(str(cell) for row in sheet.iter_rows(values_only=True) for cell in row)


@pytest.mark.parametrize("fmt", ["json", "csv", "xlsx", "geojson", "gpkg"])
def test_statistics_never_carry_the_requester(hotline, fmt):
    _create(hotline)
    for level in ("street", "grid", "departments"):
        resp = hotline.get(f"/api/stats/{level}.{fmt}?request_type=complaint")
        assert resp.status_code == 200
        assert _absent(_readable(resp.data, fmt)) == []
    if fmt == "xlsx":  # the cells were really read
        assert "110101002" in _readable(hotline.get("/api/stats/street.xlsx").data, fmt)
    assert _absent(hotline.get("/api/stats/trend?level=street").data) == []


OPEN311_REQUESTER = {"first_name": "三丰", "last_name": "张", "phone": "138 1234 5678", "email": EMAIL}


def _open311_post(anon, key, fmt="json", **form):
    return anon.post(f"/open311/v2/requests.{fmt}", data={"api_key": key, "service_code": "0101", "lat": "39.9025",
                                                          "long": "116.3175", **OPEN311_REQUESTER, **form})


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_open311_keeps_the_requester_and_never_serves_it(anon, session, routed, fmt):
    key = make_user(session, "open311app", "hotline", "110101")
    resp = _open311_post(anon, key, fmt, **{"attribute[request_type]": "help"})
    assert resp.status_code == 201
    assert _absent(resp.data) == []
    case_no = session.execute(text("SELECT case_no FROM cases WHERE source = 'open311'")).scalar_one()
    assert tuple(_stored(session, case_no)) == (NAME, PHONE, EMAIL, "help")
    for url in (f"/open311/v2/requests.{fmt}", f"/open311/v2/requests/{case_no}.{fmt}",
                f"/open311/v2/tokens/{case_no}.{fmt}", f"/open311/v2/requests.{fmt}?api_key={key}"):
        got = anon.get(url)
        assert got.status_code == 200 and case_no in got.get_data(as_text=True), url
        assert _absent(got.data) == [], url


@pytest.mark.parametrize(("form", "code"), [({"phone": "110"}, "bad_phone"), ({"email": "x"}, "bad_email"),
                                            ({"attribute[request_type]": "表扬"}, "bad_request_type")])
def test_open311_refuses_a_bad_requester_field_with_a_400(anon, session, routed, form, code):
    key = make_user(session, "open311app", "hotline", "110101")
    resp = _open311_post(anon, key, **form)
    assert resp.status_code == 400
    [error] = resp.get_json()
    assert error["code"] == code and "110" not in error["description"]


def test_open311_service_definition_offers_the_request_types(anon):
    attributes = anon.get("/open311/v2/services/0101.json").get_json()["attributes"]
    [kind] = [a for a in attributes if a["code"] == "request_type"]
    assert [v["name"] for v in kind["values"]] == list(requesters.REQUEST_TYPES.values())


def test_logs_never_carry_the_requester(app, anon, session, routed, hotline, logs):
    key = make_user(session, "open311app", "hotline", "110101")
    case_no = _create(hotline)["id"]
    hotline.get(f"/api/cases/{case_no}").get_data()
    hotline.post("/api/cases", json={**EAST, "category": "9999", **REQUESTER}).get_data()  # refused
    _open311_post(anon, key).get_data()
    hotline.get(f"/api/cases?q={PHONE}").get_data()  # a value in a query string: only its name is logged
    assert len(logs.json("gridmap.access")) == 5
    assert _absent("\n".join(logs.lines)) == []


def test_a_failed_statement_never_shows_its_values(app):
    """Should a statement with the requester fail unexpectedly, its logged traceback has no values."""
    engine = app.extensions["gridmap"]["engine"]
    with engine.connect() as conn, pytest.raises(DBAPIError) as failed:
        conn.execute(text("SELECT :phone, 1 / 0"), {"phone": PHONE})  # fails for another reason
    assert PHONE not in str(failed.value)
    assert "hidden" in str(failed.value)


# --- notices to the requester -------------------------------------------------------------------------


def _notices(session):
    return session.execute(text("SELECT recipient, payload FROM outbox WHERE kind = 'requester_notice' "
                                "ORDER BY id")).all()


def test_the_requester_is_told_when_contacted_and_when_resolved(people, session):
    case_no = _create(people["hotline_in"])["id"]
    _move(people, case_no, ["dispatch", "sign"])
    assert _notices(session) == []
    _move(people, case_no, ["respond", "start", "resolve"])
    notices = _notices(session)
    assert [(r, p["case"], p["step"], p["channel"]) for r, p in notices] == [
        (PHONE, case_no, "respond", "sms"), (PHONE, case_no, "resolve", "sms")]
    assert [p["step_name"] for _, p in notices] == ["联系诉求人", "办结"]


def test_without_a_phone_the_notice_goes_to_the_email_and_without_either_there_is_none(people, session):
    by_mail = _create(people["hotline_in"], requester_phone=None)["id"]
    nobody = _create(people["hotline_in"], requester_phone=None, requester_email=None, requester_name=None)["id"]
    for case_no in (by_mail, nobody):
        _move(people, case_no, ["dispatch", "sign", "respond"])
    assert [(r, p["case"], p["channel"]) for r, p in _notices(session)] == [(EMAIL, by_mail, "email")]


# --- bulk import ----------------------------------------------------------------------------------------


def test_import_reads_the_requester_columns_and_rejects_bad_values(session, routed, tmp_path):
    from geo.services import imports

    frame = pd.DataFrame({
        "工单编号": ["R-1", "R-2", "R-3", "R-4", "R-5"],
        "受理时间": ["2026-11-01 08:00"] * 5,
        "问题分类": ["0101"] * 5,
        "经度": [EAST["lon"]] * 5, "纬度": [EAST["lat"]] * 5,
        "诉求人": [NAME, "李四", "", "王五", "赵六"],
        "联系电话": ["+86 138-1234-5678", "010-65123456", "", "12345", "13912345678"],
        "诉求类型": ["投诉", "consult", "", "建议", "表扬"],
    })
    frame.to_csv(tmp_path / "t.csv", index=False, encoding="utf-8-sig")
    plan, summary = imports.prepare_import(session, tmp_path / "t.csv", source="12345", crs="wgs84")
    assert (plan.columns.requester_name, plan.columns.requester_phone, plan.columns.request_type) == (
        "诉求人", "联系电话", "诉求类型")
    imported, _, _ = imports.import_batch(session, plan, next(plan.batches()))
    assert imported == 3
    rows = session.execute(text("SELECT external_id, requester_name, requester_phone, request_type FROM cases "
                                "ORDER BY external_id")).all()
    assert [tuple(r) for r in rows] == [("R-1", NAME, PHONE, "complaint"), ("R-2", "李四", "01065123456", "consult"),
                                        ("R-3", None, None, None)]
    assert dict(summary.rejected) == {"bad_phone": 1, "bad_request_type": 1}
    rejects = tmp_path / "rejects.csv"
    imports.write_rejects(rejects, plan, plan.validated.refused)
    written = pd.read_csv(rejects, dtype=str, encoding="utf-8-sig")
    assert written[["line", "reason"]].values.tolist() == [["5", "bad_phone"], ["6", "bad_request_type"]]
    assert "诉求类型" in written["message"].iloc[1]


def test_the_api_and_the_import_store_the_same_requester(session, routed, tmp_path):
    from geo.services import cases, imports

    cases.create_case(session, cases.NewCase(**EAST, category="0101", source="api", external_id="A1",
                                             requester_name=" 张三丰 ", requester_phone="(010) 6512-3456",
                                             request_type="举报"))
    (tmp_path / "t.csv").write_text(
        "工单编号,经度,纬度,问题分类,受理时间,来电人,来电号码,诉求性质\n"
        f"B1,{EAST['lon']},{EAST['lat']},0101,2026-11-01 08:00, 张三丰 ,(010) 6512-3456,举报\n", encoding="utf-8")
    plan, _ = imports.prepare_import(session, tmp_path / "t.csv", source="12345", crs="wgs84")
    assert imports.import_batch(session, plan, next(plan.batches()))[0] == 1
    rows = session.execute(text("SELECT requester_name, requester_phone, requester_email, request_type FROM cases "
                                "ORDER BY external_id")).all()
    assert rows[0] == rows[1] == (NAME, "01065123456", None, "report")


# --- measures by request type -----------------------------------------------------------------------


def test_measures_split_by_request_type(client_as, hotline, routed):
    for kind in ("complaint", "complaint", "consult"):
        _create(hotline, request_type=kind)
    _create(hotline, request_type=None)
    leader = client_as("street_leader", "110101002")

    def total(query: str) -> int:
        resp = leader.get(f"/api/stats/street.json?{query}")
        assert resp.status_code == 200, resp.get_json()
        return sum(r["cases_total"] for r in resp.get_json()["rows"])

    assert (total(""), total("request_type=complaint"), total("request_type=投诉"),
            total("request_type=consult"), total("request_type=report")) == (4, 2, 2, 1, 0)
    trend = leader.get("/api/stats/trend?level=street&request_type=consult").get_json()["rows"]
    assert sum(r["cases_total"] for r in trend) == 1
    bad = leader.get("/api/stats/street.json?request_type=表扬")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "request_type"


def test_a_measures_file_split_by_request_type_is_named_after_it(client_as, hotline, routed):
    _create(hotline)
    resp = client_as("planner").get("/api/stats/street.csv?request_type=投诉")
    assert resp.status_code == 200
    assert "-complaint.csv" in resp.headers["Content-Disposition"]


def test_the_stats_export_command_takes_a_request_type(fresh_db, tmp_path):
    from click.testing import CliRunner
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.services import cases
    from tests.conftest import load_tiny_hierarchy, load_tiny_reference
    from webmap.cli import main

    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "boundaries")
        load_tiny_reference(session, tmp_path / "reference")
        for kind in ("help", "help", "suggestion"):
            cases.create_case(session, cases.NewCase(**EAST, category="0101", request_type=kind,
                                                     requester_phone=PHONE))
    engine.dispose()
    out = tmp_path / "help.csv"
    result = CliRunner().invoke(main, ["stats", "export", "--level", "street", "--format", "csv", "-o", str(out),
                                       "--request-type", "求助"], env={"DATABASE_URL": fresh_db},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out, dtype={"code": str}, encoding="utf-8-sig")
    assert table["cases_total"].sum() == 2
    assert _absent(out.read_bytes()) == []


def test_outbox_drain_is_where_the_phone_leaves_for_the_channel(people, session):
    """The drain hands notices to the SMS/e-mail channel: the recipient is there on purpose."""
    from geo.services.outbox import drain

    case_no = _create(people["hotline_in"])["id"]
    _move(people, case_no, ["dispatch", "sign", "respond"])
    rows = [r for r in drain(session) if r["kind"] == "requester_notice"]
    assert [(r["recipient"], r["payload"]["case"]) for r in rows] == [(PHONE, case_no)]
    assert json.dumps(rows[0]["payload"], ensure_ascii=False).find(NAME) == -1
