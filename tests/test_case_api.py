"""POST/GET /api/cases against real PostGIS (rolled back per test): routing, refusals, filters."""

import json

import numpy as np
import pytest
from sqlalchemy import text

from geo.domain.coordinates import gcj02_to_bd09, wgs84_to_gcj02

# A point in grid 110101002001002 (east street, south community, east grid).
LON, LAT = 116.3175, 39.9025


def post(client, **body):
    return client.post("/api/cases", json=body)


def count(session):
    return session.execute(text("SELECT count(*) FROM cases")).scalar_one()


def test_case_is_routed_to_grid_boundaries_and_departments(client, routed):
    resp = post(client, lon=LON, lat=LAT, category="0101", description="垃圾桶满了")
    assert resp.status_code == 201
    case = resp.get_json()
    props = case["properties"]
    assert (props["grid_code"], props["community_code"], props["street_code"], props["district_code"]) == (
        "110101002001002", "110101002001", "110101002", "110101")
    assert (props["lead_department"], props["co_departments"], props["routing_rule"]) == ("CGW", ["CGZF"], "citywide")
    assert case["id"].startswith("110101-") and case["id"].endswith("-000001")
    assert resp.headers["Location"] == f"/api/cases/{case['id']}"
    assert props["status"] == "received" and props["urgency"] == "general"
    assert set(props["deadlines"]) == {"dispatch_due", "respond_due", "resolve_due", "extension_due"}
    assert props["deadlines"]["extension_due"] is None  # no extension asked for
    assert case["possible_duplicates"] == []
    assert client.get(f"/api/cases/{case['id']}").get_json()["properties"]["description"] == "垃圾桶满了"


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_consumer_map_coordinates_land_in_the_right_grid(client, routed, crs):
    x, y = wgs84_to_gcj02(np.array([LON]), np.array([LAT]))
    if crs == "bd09":
        x, y = gcj02_to_bd09(x, y)
    props = post(client, lon=float(x[0]), lat=float(y[0]), crs=crs, category="0101").get_json()["properties"]
    assert props["grid_code"] == "110101002001002" and props["orig_crs"] == crs
    assert props["orig_x"] == pytest.approx(float(x[0]))


def test_same_numbers_read_as_gcj02_land_about_500_m_away(client, routed):
    # The trap DOMAIN.md warns about: the same numbers in another CRS are another place.
    props = post(client, lon=LON, lat=LAT, crs="gcj02", category="0101").get_json()
    lon, lat = props["geometry"]["coordinates"]
    assert props["properties"]["grid_code"] != "110101002001002"
    assert 0.004 < LON - lon < 0.008 and 0.0005 < LAT - lat < 0.002


def test_most_specific_rule_and_unit_by_jurisdiction(client, routed):
    # 0503 in the western street: GA's jurisdiction rule; its unit GA-W covers the point.
    west = post(client, lon=116.3025, lat=39.9025, category="0503").get_json()["properties"]
    assert (west["lead_department"], west["routing_rule"]) == ("GA-W", "jurisdiction:GA")
    east = post(client, lon=LON, lat=LAT, category="0503").get_json()["properties"]
    assert (east["lead_department"], east["routing_rule"]) == ("CGZF", "citywide")
    # 0602: street rule in the east (with its 12-hour limit), district rule in the west.
    noise_east = post(client, lon=LON, lat=LAT, category="0602").get_json()["properties"]
    assert noise_east["routing_rule"] == "boundary:110101002"
    noise_west = post(client, lon=116.3025, lat=39.9025, category="0602").get_json()["properties"]
    assert noise_west["routing_rule"] == "boundary:110101"


def test_no_rule_falls_back_to_the_street(client, routed):
    props = post(client, lon=LON, lat=LAT, category="0699").get_json()["properties"]
    assert props["lead_department"] is None and props["routing_rule"] == "fallback_street:110101002"


def test_point_on_a_shared_edge_goes_to_the_lowest_grid_code(client, routed):
    # x = 116.315 is the edge between grids …002001001 and …002001002.
    props = post(client, lon=116.315, lat=39.905, category="0101").get_json()["properties"]
    assert props["grid_code"] == "110101002001001"


@pytest.mark.parametrize(("body", "status", "field", "code"), [
    ({"lon": 116.3, "lat": 39.9}, 422, "category", "invalid_input"),
    ({"lat": 39.9, "category": "0101"}, 422, "lon", "invalid_input"),
    ({"lon": "116.3", "lat": 39.9, "category": "0101"}, 422, "lon", "invalid_input"),
    ({"lon": True, "lat": 39.9, "category": "0101"}, 422, "lon", "invalid_input"),
    ({"lon": 39.9025, "lat": 116.3175, "category": "0101"}, 422, "lat", "out_of_range"),
    ({"lon": 216.3, "lat": 39.9, "category": "0101"}, 422, "lon", "out_of_range"),
    ({"lon": LON, "lat": LAT, "category": "9999"}, 422, "category", "unknown_category"),
    ({"lon": LON, "lat": LAT, "category": "垃圾"}, 422, "category", "unknown_category"),
    ({"lon": LON, "lat": LAT, "category": "0101", "crs": "EPSG:999999"}, 422, "crs", "unknown_crs"),
    ({"lon": LON, "lat": LAT, "category": "0101", "urgency": "asap"}, 422, "urgency", "invalid_input"),
    ({"lon": LON, "lat": LAT, "category": "0101", "description": "长" * 4001}, 422, "description", "invalid_input"),
    ({"lon": LON, "lat": LAT, "category": "0101", "reported_at": "明天"}, 422, "reported_at", "bad_time"),
    ({"lon": LON, "lat": LAT, "category": "0101", "reported_at": "2099-01-01T00:00:00"}, 422, "reported_at",
     "bad_time"),
    ({"lon": LON, "lat": LAT, "category": "0101", "source": "Bad Source!"}, 422, "source", "bad_source"),
    ({"lon": 100.0, "lat": 30.0, "category": "0101"}, 422, "lon", "outside_area"),
])
def test_bad_requests_are_refused_and_store_nothing(client, routed, body, status, field, code):
    resp = post(client, **body)
    assert resp.status_code == status
    error = resp.get_json()["error"]
    assert (error["field"], error["code"]) == (field, code) and error["message"]
    assert count(routed) == 0


@pytest.mark.parametrize("raw", ['{"lon": NaN, "lat": 39.9, "category": "0101"}',
                                 '{"lon": Infinity, "lat": 39.9, "category": "0101"}'])
def test_nan_and_infinity_are_refused(client, routed, raw):
    resp = client.post("/api/cases", data=raw, content_type="application/json")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "lon"
    assert count(routed) == 0


def test_malformed_json_is_a_400(client, routed):
    resp = client.post("/api/cases", data='{"lon": 116.3,', content_type="application/json")
    assert resp.status_code == 400 and "JSON" in resp.get_json()["error"]["message"]


def test_oversized_body_is_a_413(client, routed):
    body = json.dumps({"lon": LON, "lat": LAT, "category": "0101", "description": "x" * 70_000})
    resp = client.post("/api/cases", data=body, content_type="application/json")
    assert resp.status_code == 413 and resp.get_json()["error"]["code"] == "too_large"
    assert count(routed) == 0


@pytest.mark.parametrize("nasty", ["'); DROP TABLE cases; --", "<img src=x onerror=alert(1)>", "a\u0000b"])
def test_sql_and_html_in_text_are_stored_as_text(client, routed, nasty):
    case = post(client, lon=LON, lat=LAT, category="0101", description=nasty, external_id=nasty, source="api")
    assert case.status_code == 201
    props = case.get_json()["properties"]
    assert props["description"] == nasty.replace("\u0000", "")
    assert count(routed) == 1


def test_same_external_id_twice_is_a_409_pointing_at_the_first(client, routed):
    first = post(client, lon=LON, lat=LAT, category="0101", external_id="T-1", source="wechat").get_json()
    again = post(client, lon=LON, lat=LAT, category="0101", external_id="T-1", source="wechat")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "duplicate"
    assert first["id"] in again.get_json()["error"]["message"]
    assert count(routed) == 1


def test_possible_duplicates_nearby_same_category(client, routed):
    first = post(client, lon=LON, lat=LAT, category="0101").get_json()
    near = post(client, lon=LON + 0.0003, lat=LAT, category="0101").get_json()  # ~26 m east
    other_category = post(client, lon=LON, lat=LAT, category="0602").get_json()
    far = post(client, lon=LON + 0.002, lat=LAT, category="0101").get_json()  # ~170 m
    assert [d["id"] for d in near["possible_duplicates"]] == [first["id"]]
    assert 20 < near["possible_duplicates"][0]["distance_m"] < 30
    assert other_category["possible_duplicates"] == [] and far["possible_duplicates"] == []


def test_list_filters_and_pagination(client, routed):
    ids = [post(client, lon=LON, lat=LAT, category=c).get_json()["id"] for c in ("0101", "0602", "0101")]
    west = post(client, lon=116.3025, lat=39.9025, category="0101").get_json()["id"]
    page = client.get("/api/cases?category=0101&limit=2")
    assert page.mimetype == "application/geo+json"
    body = page.get_json(force=True)
    assert [f["id"] for f in body["features"]] == [west, ids[2]] and body["next"]
    rest = client.get(f"/api/cases?category=0101&limit=2&cursor={body['next']}").get_json(force=True)
    assert [f["id"] for f in rest["features"]] == [ids[0]] and rest["next"] is None
    street = client.get("/api/cases?street=110101001").get_json(force=True)
    assert [f["id"] for f in street["features"]] == [west]
    boxed = client.get("/api/cases?bbox=116.30,39.90,116.31,39.91").get_json(force=True)
    assert [f["id"] for f in boxed["features"]] == [west]
    assert client.get("/api/cases?status=received").get_json(force=True)["features"]
    assert client.get("/api/cases?status=closed").get_json(force=True)["features"] == []
    assert client.get("/api/cases?from=2000-01-01&to=2001-01-01").get_json(force=True)["features"] == []


@pytest.mark.parametrize(("query", "field"), [("status=done", "status"), ("bbox=1,2", "bbox"),
                                              ("limit=0", "limit"), ("cursor=abc", "cursor"), ("from=soon", "from")])
def test_bad_list_filters(client, routed, query, field):
    resp = client.get(f"/api/cases?{query}")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == field


def test_unknown_case_is_404(client, routed):
    resp = client.get("/api/cases/110101-20260101-000001")
    assert resp.status_code == 404 and resp.get_json()["error"]["field"] == "id"


def test_categories_include_the_seed_taxonomy(client):
    cats = {c["code"]: c for c in client.get("/api/categories").get_json()["categories"]}
    assert cats["0101"]["name"] == "暴露垃圾" and cats["0403"]["urgency"] == "emergency"
    assert len(cats) >= 20


def test_openapi_document_is_generated_from_the_request_schemas(client):
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    create = spec["paths"]["/api/cases"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
    schema = spec["components"]["schemas"][ref]
    # lon/lat or, instead, a gazetteer address: the service names whichever is missing.
    assert set(schema["required"]) == {"category"} and {"lon", "lat", "address"} <= set(schema["properties"])
    assert "/api/cases/{case_id}" in spec["paths"] and "/api/boundaries/{level}.geojson" in spec["paths"]


def test_api_docs_page_uses_local_assets(client):
    html = client.get("/api/docs").get_data(as_text=True)
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert '"validatorUrl": null' in html
    assert "https://" not in html.replace("https://spec", "")


# --- the map layer ------------------------------------------------------------------------------


def test_map_layer_points_when_zoomed_in_counts_when_out(client, client_as, routed):
    east = [post(client, lon=LON, lat=LAT, category="0101").get_json()["id"] for _ in range(2)]
    west = post(client, lon=116.3025, lat=39.9025, category="0602").get_json()["id"]
    routed.execute(text("UPDATE cases SET dispatch_due = now() - interval '1 hour' WHERE case_no = :no"),
                   {"no": east[0]})
    points = client.get("/api/cases/map?zoom=16&bbox=116.30,39.90,116.32,39.92").get_json(force=True)
    assert points["kind"] == "points" and points["truncated"] is False
    by_id = {f["id"]: f["properties"] for f in points["features"]}
    assert set(by_id) == {*east, west}
    assert by_id[east[0]]["overdue"] is True and by_id[east[1]]["overdue"] is False
    assert by_id[west]["category_name"] == "噪声扰民" and by_id[west]["status"] == "received"
    streets = client.get("/api/cases/map?zoom=12").get_json(force=True)
    assert streets["kind"] == "street"
    assert {f["id"]: (f["properties"]["cases"], f["properties"]["overdue"]) for f in streets["features"]} == {
        "110101001": (1, 0), "110101002": (2, 1)}
    communities = client.get("/api/cases/map?zoom=14&category=0101").get_json(force=True)
    assert communities["kind"] == "community"
    assert [(f["id"], f["properties"]["cases"]) for f in communities["features"]] == [("110101002001", 2)]
    outsider = client_as("street_leader", "110101001")
    assert [f["id"] for f in outsider.get("/api/cases/map?zoom=16").get_json(force=True)["features"]] == [west]


def test_map_layer_caps_the_markers(client, routed, monkeypatch):
    from geo.services import cases as case_service

    monkeypatch.setattr(case_service, "MAP_MAX_POINTS", 2)
    for _ in range(3):
        post(client, lon=LON, lat=LAT, category="0101")
    layer = client.get("/api/cases/map?zoom=17").get_json(force=True)
    assert len(layer["features"]) == 2 and layer["truncated"] is True


def test_map_layer_rounds_coordinates_to_six_decimals(client, routed):
    post(client, lon=116.31751234567, lat=39.90251234567, category="0101", crs="wgs84")
    points = client.get("/api/cases/map?zoom=17").get_json(force=True)
    assert [f["geometry"]["coordinates"] for f in points["features"]] == [[116.317512, 39.902512]]
    for feature in client.get("/api/cases/map?zoom=12").get_json(force=True)["features"]:
        assert all(round(v, 6) == v for v in feature["geometry"]["coordinates"])


def test_map_layer_refuses_a_bad_zoom(client, routed):
    resp = client.get("/api/cases/map?zoom=99")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "zoom"


def test_nearby_offers_duplicates_before_saving(client, routed):
    first = post(client, lon=LON, lat=LAT, category="0101").get_json()["id"]
    near = client.get(f"/api/cases/nearby?lon={LON + 0.0002}&lat={LAT}&category=0101").get_json()
    assert [d["id"] for d in near["possible_duplicates"]] == [first]
    assert client.get(f"/api/cases/nearby?lon={LON}&lat={LAT}&category=0602").get_json()["possible_duplicates"] == []
    bad = client.get(f"/api/cases/nearby?lon={LAT}&lat={LON}&category=0101")
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "lat"


def test_a_reserved_source_is_the_importers_and_the_hotline_tokens(client, client_as, routed):
    """A person posting source=12345 could take a ticket number before the real ticket arrives."""
    taken = post(client, lon=LON, lat=LAT, category="0101", external_id="T-9", source="12345")
    assert taken.status_code == 403 and taken.get_json()["error"]["code"] == "reserved_source"
    assert count(routed) == 0
    hotline = client_as("hotline", "110101")  # an integration token of the 12345 centre
    assert post(hotline, lon=LON, lat=LAT, category="0101", external_id="T-9", source="12345").status_code == 201
