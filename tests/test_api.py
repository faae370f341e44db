"""HTTP API and the map page, through Flask's test client against real PostGIS (rolled back)."""

import json
import re

import pytest


def test_boundary_layer_is_geojson(client, loaded):
    resp = client.get("/api/boundaries/community.geojson")
    assert resp.status_code == 200
    assert resp.mimetype == "application/geo+json"
    body = resp.get_json(force=True)
    assert [f["properties"]["code"] for f in body["features"]] == [
        "110101001001", "110101001002", "110101002001", "110101002002"]
    assert body["features"][0]["properties"]["parent_code"] == "110101001"


def test_boundary_layer_by_bbox_and_zoom(client, loaded):
    resp = client.get("/api/boundaries/grid.geojson?bbox=116.316,39.901,116.319,39.904&zoom=16")
    assert [f["id"] for f in resp.get_json(force=True)["features"]] == ["110101002001002"]


def test_empty_database_gives_an_empty_collection(client):
    body = client.get("/api/boundaries/grid.geojson").get_json(force=True)
    assert body == {"type": "FeatureCollection", "truncated": False, "features": []}


@pytest.mark.parametrize(
    "query",
    ["bbox=1,2,3", "bbox=a,b,c,d", "bbox=116.4,39.9,116.3,40.0", "bbox=nan,1,2,3", "bbox=0,0,200,10"],
)
def test_bad_bbox_is_a_400_naming_the_field(client, query):
    resp = client.get(f"/api/boundaries/grid.geojson?{query}")
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["field"] == "bbox" and error["code"] == "bad_bbox" and "例如" in error["message"]


def test_unknown_level_is_a_404(client):
    resp = client.get("/api/boundaries/province.geojson")
    assert resp.status_code == 404 and resp.get_json()["error"]["field"] == "level"


def test_search_by_name_and_code(client, loaded):
    names = client.get("/api/boundaries/search?q=东华门").get_json()["results"]
    assert [(r["level"], r["code"]) for r in names] == [("street", "110101001")]
    assert len(names[0]["bbox"]) == 4


def test_map_page_is_chinese_and_uses_only_local_assets(client, loaded):
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and '<html lang="zh-CN">' in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    # Assets come from /static/; the only other link is to our own statistics page.
    assert urls and all(u.startswith("/static/") or u == "/stats" for u in urls), urls
    assert "http://" not in html and "https://" not in html
    for url in urls:
        assert client.get(url).status_code == 200, url
    for label in ("区界", "街道", "社区", "网格"):  # layer names, as JavaScript string literals
        assert json.dumps(label) in html


def test_map_page_with_osm_basemap_names_the_tile_server(app, client, loaded):
    app.config["GRIDMAP_BASEMAP"] = "osm"
    html = client.get("/").get_data(as_text=True)
    assert "tile.openstreetmap.org" in html


def test_map_page_with_intranet_tiles(app, client, loaded):
    app.config["GRIDMAP_BASEMAP"] = "http://10.1.2.3/tiles/{z}/{x}/{y}.png"
    html = client.get("/").get_data(as_text=True)
    assert "http://10.1.2.3/tiles/{z}/{x}/{y}.png" in html


def test_unknown_page_is_a_chinese_html_404(client):  # signed in: anonymous visitors go to /login
    resp = client.get("/nowhere")
    assert resp.status_code == 404 and "找不到" in resp.get_data(as_text=True)
