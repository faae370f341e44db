"""Open311 GeoReport v2: every endpoint in JSON and XML against the spec's fields (../shared/OPEN311.md)."""

from xml.etree import ElementTree as ET

import pytest
from sqlalchemy import text

from tests.conftest import make_user

FORMATS = ["json", "xml"]
REQUEST_FIELDS = {"service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"}
EAST = {"lat": "39.9025", "long": "116.3175"}


@pytest.fixture
def api_key(session, routed):
    return make_user(session, "open311app", "street_leader", "110101")


def _items(resp, fmt, item):
    if fmt == "json":
        assert resp.content_type == "application/json; charset=utf-8"
        return resp.get_json()
    assert resp.content_type == "text/xml; charset=utf-8"
    root = ET.fromstring(resp.data)
    return [{child.tag: (child.text or "") for child in node} for node in root.iter(item)]


def _post(anon, fmt, api_key, **form):
    return anon.post(f"/open311/v2/requests.{fmt}", data={"api_key": api_key, "service_code": "0101", **EAST, **form})


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(anon, fmt):
    resp = anon.get(f"/open311/v2/discovery.{fmt}")
    assert resp.status_code == 200
    if fmt == "json":
        body = resp.get_json()
        endpoint = body["endpoints"][0]
    else:
        root = ET.fromstring(resp.data)
        body = {c.tag: c for c in root}
        endpoint = {c.tag: c.text for c in root.find("endpoints/endpoint")}
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(body)
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2" and endpoint["type"] == "production"


@pytest.mark.parametrize("fmt", FORMATS)
def test_services_are_the_categories(anon, fmt):
    services = _items(anon.get(f"/open311/v2/services.{fmt}"), fmt, "service")
    by_code = {s["service_code"]: s for s in services}
    assert by_code["0101"]["service_name"] == "暴露垃圾" and by_code["0101"]["group"] == "市容环境"
    for service in services:
        assert {"service_code", "service_name", "metadata", "type", "description", "keywords", "group"} <= set(service)
        assert str(service["metadata"]).lower() == "true" and service["type"] == "realtime"


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition(anon, fmt):
    resp = anon.get(f"/open311/v2/services/0101.{fmt}")
    if fmt == "json":
        attribute = resp.get_json()["attributes"][0]
        values = attribute["values"]
    else:
        root = ET.fromstring(resp.data)
        assert root.tag == "service_definition" and root.findtext("service_code") == "0101"
        node = root.find("attributes/attribute")
        attribute = {c.tag: c.text for c in node}
        values = [{c.tag: c.text for c in v} for v in node.find("values")]
    assert attribute["code"] == "urgency" and attribute["datatype"] == "singlevaluelist"
    fields = {"variable", "code", "datatype", "required", "datatype_description", "order", "description"}
    assert fields <= set(attribute)
    assert {"key": "emergency", "name": "紧急"} in values
    assert anon.get(f"/open311/v2/services/9999.{fmt}").status_code == 404


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_request_is_routed_like_any_case(anon, api_key, routed, fmt):
    resp = _post(anon, fmt, api_key, description="路边垃圾", **{"attribute[urgency]": "emergency"})
    assert resp.status_code == 201
    [created] = _items(resp, fmt, "request")
    assert created["service_request_id"].startswith("110101-") and "token" not in created
    row = routed.execute(text("SELECT source, grid_code, urgency FROM cases WHERE case_no = :no"),
                         {"no": created["service_request_id"]}).one()
    assert tuple(row) == ("open311", "110101002001002", "emergency")


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_without_or_with_a_bad_api_key_is_403(anon, routed, fmt):
    for key in ("", "gm_not_a_token"):
        resp = _post(anon, fmt, key)
        assert resp.status_code == 403
        [error] = _items(resp, fmt, "error")
        assert {"code", "description"} <= set(error)
    assert routed.execute(text("SELECT count(*) FROM cases")).scalar_one() == 0


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("form", "code"), [
    ({"lat": "30.0", "long": "100.0"}, "outside_area"),
    ({"service_code": "9999"}, "unknown_category"),
    ({"lat": "", "long": "", "address_string": "东华门大街1号"}, "location_required"),
    ({"lat": "abc"}, "bad_number"),
])
def test_bad_post_is_a_400_with_a_code(anon, api_key, routed, fmt, form, code):
    resp = _post(anon, fmt, api_key, **form)
    assert resp.status_code == 400
    [error] = _items(resp, fmt, "error")
    assert error["code"] == code and error["description"]
    assert routed.execute(text("SELECT count(*) FROM cases")).scalar_one() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_get_requests_with_filters(anon, api_key, routed, fmt):
    first = _items(_post(anon, "json", api_key), "json", "request")[0]["service_request_id"]
    second = _items(_post(anon, "json", api_key, service_code="0602"), "json", "request")[0]["service_request_id"]
    listed = _items(anon.get(f"/open311/v2/requests.{fmt}"), fmt, "request")
    assert [r["service_request_id"] for r in listed] == [second, first]
    for r in listed:
        assert set(r) >= REQUEST_FIELDS and r["status"] == "open" and r["status_notes"] == "已受理"
    assert listed[1]["agency_responsible"] == "城管委" and listed[1]["expected_datetime"]
    by_code = _items(anon.get(f"/open311/v2/requests.{fmt}?service_code=0602"), fmt, "request")
    assert [r["service_request_id"] for r in by_code] == [second]
    closed = _items(anon.get(f"/open311/v2/requests.{fmt}?status=closed"), fmt, "request")
    assert closed == []
    by_id = _items(anon.get(f"/open311/v2/requests.{fmt}?service_request_id={first}&status=closed"), fmt, "request")
    assert [r["service_request_id"] for r in by_id] == [first]  # the id list overrides the other filters
    paged = _items(anon.get(f"/open311/v2/requests.{fmt}?page_size=1&page=2"), fmt, "request")
    assert [r["service_request_id"] for r in paged] == [first]
    one = _items(anon.get(f"/open311/v2/requests/{first}.{fmt}"), fmt, "request")
    assert len(one) == 1 and float(one[0]["lat"]) == pytest.approx(39.9025, abs=0.001)
    token = _items(anon.get(f"/open311/v2/tokens/{first}.{fmt}"), fmt, "request")
    assert token == [{"service_request_id": first, "token": first}]


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_a_key_reads_are_the_public_projection(anon, api_key, routed, fmt):
    """OPEN311.md Privacy: no description, no media, the point rounded to about 100 m."""
    case_no = _items(_post(anon, "json", api_key, description="我家门口，电话 13900001111"), "json",
                     "request")[0]["service_request_id"]
    for url in (f"/open311/v2/requests.{fmt}", f"/open311/v2/requests/{case_no}.{fmt}"):
        [public] = _items(anon.get(url), fmt, "request")
        assert public["description"] == "" and public["media_url"] == ""
        assert (float(public["lat"]), float(public["long"])) == (round(39.9025, 3), round(116.3175, 3))
        assert public["service_code"] == "0101" and public["status"] == "open"


@pytest.mark.parametrize("fmt", FORMATS)
def test_with_a_key_reads_are_in_full_and_scoped_like_the_case_api(anon, api_key, session, routed, fmt):
    case_no = _items(_post(anon, "json", api_key, description="路边垃圾"), "json", "request")[0]["service_request_id"]
    [full] = _items(anon.get(f"/open311/v2/requests.{fmt}?api_key={api_key}"), fmt, "request")
    assert full["service_request_id"] == case_no and full["description"] == "路边垃圾"
    assert float(full["lat"]) == pytest.approx(39.9025)
    west = make_user(session, "west_app", "street_leader", "110101001")
    assert _items(anon.get(f"/open311/v2/requests.{fmt}?api_key={west}"), fmt, "request") == []
    assert anon.get(f"/open311/v2/requests/{case_no}.{fmt}?api_key={west}").status_code == 404
    staff = make_user(session, "cgw_app", "department_staff", department="CGW")  # leads 0101
    assert len(_items(anon.get(f"/open311/v2/requests.{fmt}?api_key={staff}"), fmt, "request")) == 1
    assert anon.get(f"/open311/v2/requests.{fmt}?api_key=gm_not_a_token").status_code == 403


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(("query", "status"), [
    ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", 400),
    ("start_date=2026-11-01", 400),
    ("status=pending", 400),
    ("page_size=5000", 400),
])
def test_bad_request_queries(anon, routed, fmt, query, status):
    resp = anon.get(f"/open311/v2/requests.{fmt}?{query}")
    assert resp.status_code == status
    assert _items(resp, fmt, "error")[0]["description"]


def test_unknown_request_is_404_and_unknown_format_too(anon, routed):
    assert anon.get("/open311/v2/requests/nope.json").status_code == 404
    assert anon.get("/open311/v2/services.yaml").status_code == 404


@pytest.mark.parametrize("page", ["9" * 5000, "1000000", "11"])
def test_paging_is_bounded_and_a_huge_page_is_a_clear_400(anon, page):
    """page × page_size stays within 10,000 rows; a 5,000-digit page was a 500 (int conversion)."""
    resp = anon.get(f"/open311/v2/requests.json?page_size=1000&page={page}")
    assert resp.status_code == 400 and "start_date" in resp.get_data(as_text=True)


def test_a_form_with_thousands_of_fields_is_refused_before_any_work(anon):
    body = "&".join(f"f{i}=x" for i in range(5000))
    resp = anon.post("/open311/v2/requests.json", data=body, content_type="application/x-www-form-urlencoded")
    # Open311 speaks 400 for every refusal (its error list), and this one is refused before the key
    assert resp.status_code == 400 and "表单字段太多" in resp.get_data(as_text=True)


def test_control_characters_in_text_leave_the_xml_well_formed(anon, api_key):
    created = _post(anon, "json", api_key, description="井盖\x01缺失\x0b，\x1f请处理")
    assert created.status_code == 201, created.get_data(as_text=True)
    number = created.get_json()[0]["service_request_id"]
    items = _items(anon.get(f"/open311/v2/requests/{number}.xml?api_key={api_key}"), "xml", "request")  # parses
    assert items[0]["description"].startswith("井盖") and "\x01" not in items[0]["description"]
